package liaison.read_items_test

import data.liaison.fixtures
import data.liaison.read

labels := ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]

analyst := fixtures.users["intelligence-analyst"]

officer := fixtures.users["prison-security-officer"]

risk_item(originator, label, share_with) := fixtures.item("RiskAssessmentRecorded", originator, label, share_with)

# decide(org_type, c, section, it) is the item decision for the type's reader.
decide(org_type, c, section, it) := got if {
	got := read.item_decision with input as object.union(fixtures.reader_input(org_type, c, section), {"item": it})
}

decide_as(who, purpose, c, section, it) := got if {
	got := read.item_decision with input as fixtures.item_input(who, purpose, c, section, it)
}

all_risk_fields := [
	"tool", "assessed_at", "overall_judgement", "domains", "protective_factors", "notes", "next_review_due",
	"indicators", "judgement_rationale", "change_since_previous", "gender_considerations",
]

# TLP on top of the table: prison and intelligence both read risk at intake.
# Each row: label, share list, whether intelligence (the reader) sees an item
# of the prison service.
tlp_rows := {
	"clear, no list": ["TLP:CLEAR", [], true],
	"clear, list without the reader": ["TLP:CLEAR", ["exit-ngo"], true],
	"green, no list": ["TLP:GREEN", [], true],
	"green, list without the reader": ["TLP:GREEN", ["exit-ngo"], true],
	"amber, no list means every organisation the section grants": ["TLP:AMBER", [], true],
	"amber, list with the reader": ["TLP:AMBER", ["intelligence-service"], true],
	"amber, list without the reader": ["TLP:AMBER", ["probation-service"], false],
	"amber+strict, no list": ["TLP:AMBER+STRICT", [], false],
	"amber+strict, list with the reader": ["TLP:AMBER+STRICT", ["intelligence-service"], false],
	"red, no list": ["TLP:RED", [], false],
	"red, list with the reader": ["TLP:RED", ["intelligence-service"], true],
	"red, list without the reader": ["TLP:RED", ["probation-service"], false],
	"unknown label": ["TLP:PURPLE", [], false],
}

test_classification[name] if {
	some name, row in tlp_rows
	got := decide("intelligence", fixtures.a_case("intake"), "risk", risk_item("prison-service", row[0], row[1]))
	got.visible == row[2]
	got.break_glass == false
	got.fields == [f | some f in all_risk_fields; row[2]]
	got.author == row[2]
}

test_the_originator_always_reads_its_own_items[label] if {
	some label in labels
	got := decide("prison", fixtures.a_case("intake"), "risk", risk_item("prison-service", label, ["exit-ngo"]))
	got.visible
	got.fields == all_risk_fields
	got.author
	got.reasons == {"item written by the caller's organisation"}
}

test_amber_reaches_only_organisations_the_section_grants if {
	# municipality wrote in security, so reads it, but the table does not grant it.
	c := fixtures.written(fixtures.open_to_all, "security", ["municipality"])
	it := fixtures.item("IntelligenceNoteAdded", "intelligence-service", "TLP:AMBER", ["municipality"])
	not decide("municipality", c, "security", it).visible
}

test_an_own_cell_shows_only_own_items[label] if {
	some label in labels
	c := fixtures.written(fixtures.open_to_all, "counselling", ["exit-ngo"])
	note := fixtures.item("CounsellingNoteAdded", "exit-ngo", label, ["prison-service"])
	not decide("prison", c, "counselling", note).visible
	decide("civil-society", c, "counselling", note).visible
}

test_a_closed_section_shows_its_writer_only_its_own_items if {
	c := fixtures.written(fixtures.open_to_all, "security", ["municipality", "intelligence-service"])
	own := fixtures.item("RiskDisclosureRaised", "municipality", "TLP:AMBER", ["intelligence-service"])
	other := fixtures.item("IntelligenceNoteAdded", "intelligence-service", "TLP:GREEN", [])
	decide("municipality", c, "security", own).visible
	not decide("municipality", c, "security", other).visible
}

test_no_item_in_a_section_that_is_not_open if {
	got := decide("intelligence", fixtures.open_to_all, "needs", fixtures.item("NeedsAssessmentRecorded", "prison-service", "TLP:GREEN", []))
	not got.visible
	got.fields == []
	not got.author
	got.reasons == {"section needs is not open to the caller"}
}

test_the_risk_summary_for_civil_society if {
	got := decide("civil-society", fixtures.open_to_all, "risk", risk_item("prison-service", "TLP:GREEN", []))
	got.visible
	got.fields == ["assessed_at", "overall_judgement", "next_review_due"]
	got.author == false
}

# The structured risk judgement (issue 18: indicators on the tool's scale,
# the assessor's rationale, the change since the previous assessment,
# gender-specific considerations) reaches the readers of risk in full, and
# stays out of civil society's summary.
structured_risk_fields := {"indicators", "judgement_rationale", "change_since_previous", "gender_considerations"}

test_the_structured_risk_judgement_stays_out_of_the_summary if {
	full := decide("intelligence", fixtures.open_to_all, "risk", risk_item("prison-service", "TLP:GREEN", []))
	every f in structured_risk_fields {
		f in full.fields
	}
	summary := decide("civil-society", fixtures.open_to_all, "risk", risk_item("prison-service", "TLP:GREEN", []))
	every f in structured_risk_fields {
		not f in summary.fields
	}
}

test_the_summary_never_grants_a_field_the_allow_list_lacks if {
	got := decide("civil-society", fixtures.open_to_all, "risk", risk_item("prison-service", "TLP:GREEN", []))
		with data.protocol.fields.RiskAssessmentRecorded as ["tool", "overall_judgement"]
	got.fields == ["overall_judgement"]
}

test_the_summary_of_a_type_without_summary_fields_is_empty if {
	got := decide("civil-society", fixtures.open_to_all, "risk", fixtures.item("CounsellingNoteAdded", "prison-service", "TLP:GREEN", []))
	got.visible
	got.fields == []
}

test_fields_come_from_the_allow_list[type] if {
	some type, fields in data.protocol.fields
	got := decide("prison", fixtures.a_case("intake"), "profile", fixtures.item(type, "probation-service", "TLP:GREEN", []))
	got.fields == fields
}

test_a_field_missing_from_the_allow_list_is_withheld_even_from_the_originator if {
	fewer := ["tool", "assessed_at", "overall_judgement"]
	own := decide("prison", fixtures.a_case("intake"), "risk", risk_item("prison-service", "TLP:GREEN", []))
		with data.protocol.fields.RiskAssessmentRecorded as fewer
	own.fields == fewer
	other := decide("intelligence", fixtures.a_case("intake"), "risk", risk_item("prison-service", "TLP:GREEN", []))
		with data.protocol.fields.RiskAssessmentRecorded as fewer
	other.fields == fewer
}

test_an_item_type_unknown_to_the_allow_list_shows_no_field if {
	got := decide("prison", fixtures.a_case("intake"), "risk", fixtures.item("RiskRumourRecorded", "prison-service", "TLP:GREEN", []))
	got.visible
	got.fields == []
}

test_counselling_notes_of_civil_society_stay_with_it if {
	c := fixtures.written(fixtures.consented(fixtures.a_case("intake"), ["exit-ngo"]), "counselling", ["exit-ngo"])
	note := fixtures.item("CounsellingNoteAdded", "exit-ngo", "TLP:AMBER+STRICT", [])
	decide("civil-society", c, "counselling", note).visible
	not decide("prison", c, "counselling", note).visible
	not decide("probation", c, "counselling", note).visible
}

test_red_intelligence_reaches_only_the_named_organisations_security_officers if {
	c := fixtures.written(fixtures.consented(fixtures.a_case("intake"), ["exit-ngo"]), "security", ["intelligence-service"])
	note := fixtures.item("IntelligenceNoteAdded", "intelligence-service", "TLP:RED", ["prison-service"])
	decide_as(officer, "risk-management", c, "security", note).visible
	not decide("prison", c, "security", note).visible
	not decide("probation", fixtures.a_case("transition"), "security", note).visible
	not decide("civil-society", c, "security", note).visible
}

test_intelligence_notes_never_reach_civil_society if {
	c := fixtures.written(fixtures.open_to_all, "security", ["intelligence-service", "exit-ngo"])
	note := fixtures.item("IntelligenceNoteAdded", "intelligence-service", "TLP:GREEN", [])
	not decide("civil-society", c, "security", note).visible
}

test_a_risk_disclosure_reaches_security_and_stays_with_its_raiser if {
	c := fixtures.written(fixtures.open_to_all, "security", ["exit-ngo"])
	disclosure := fixtures.item("RiskDisclosureRaised", "exit-ngo", "TLP:AMBER", ["intelligence-service", "prison-service"])
	decide("intelligence", c, "security", disclosure).visible
	decide_as(officer, "risk-management", c, "security", disclosure).visible
	decide("civil-society", c, "security", disclosure).visible
	not decide("prison", c, "security", disclosure).visible
	not decide("probation", fixtures.consented(fixtures.a_case("transition"), ["exit-ngo"]), "security", disclosure).visible
	not decide("municipality", c, "security", disclosure).visible
}

granted(c) := fixtures.granted(c, analyst, fixtures.in_an_hour)

# Break-glass: intelligence reads needs (closed to it) and risk (granted).
break_glass_rows := {
	"green in a section only break-glass opens": ["needs", "TLP:GREEN", [], true, true],
	"amber not shared in a section only break-glass opens": ["needs", "TLP:AMBER", ["municipality"], true, true],
	"amber not shared in a granted section": ["risk", "TLP:AMBER", ["probation-service"], true, true],
	"amber shared in a granted section": ["risk", "TLP:AMBER", ["intelligence-service"], true, false],
	"green in a granted section": ["risk", "TLP:GREEN", [], true, false],
	"amber+strict of others, never": ["needs", "TLP:AMBER+STRICT", ["intelligence-service"], false, false],
	"red of others not shared, never": ["needs", "TLP:RED", ["municipality"], false, false],
	"red of others even when named, in a section only break-glass opens": ["needs", "TLP:RED", ["intelligence-service"], false, false],
	"red named in a granted section": ["risk", "TLP:RED", ["intelligence-service"], true, false],
	"red not named in a granted section": ["risk", "TLP:RED", ["probation-service"], false, false],
}

test_break_glass_items[name] if {
	some name, row in break_glass_rows
	got := decide_as(analyst, "risk-management", granted(fixtures.a_case("intake")), row[0], fixtures.item("NeedsAssessmentRecorded", "prison-service", row[1], row[2]))
	got.visible == row[3]
	got.break_glass == row[4]
}

test_own_items_under_break_glass_are_not_flagged if {
	got := decide_as(analyst, "risk-management", granted(fixtures.a_case("intake")), "needs", fixtures.item("NeedsAssessmentRecorded", "intelligence-service", "TLP:RED", []))
	got.visible
	not got.break_glass
}

test_no_item_under_an_expired_grant if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.now)
	not decide_as(analyst, "risk-management", c, "needs", fixtures.item("NeedsAssessmentRecorded", "prison-service", "TLP:GREEN", [])).visible
}

test_no_item_under_another_users_grant if {
	colleague := fixtures.user("ia-other", "intelligence-service", "analyst")
	not decide_as(colleague, "risk-management", granted(fixtures.a_case("intake")), "needs", fixtures.item("NeedsAssessmentRecorded", "prison-service", "TLP:GREEN", [])).visible
}

test_no_counselling_item_under_break_glass if {
	c := fixtures.written(granted(fixtures.open_to_all), "counselling", ["exit-ngo"])
	got := decide_as(analyst, "risk-management", c, "counselling", fixtures.item("CounsellingNoteAdded", "exit-ngo", "TLP:GREEN", []))
	not got.visible
}

test_break_glass_keeps_the_summary_restriction if {
	mentor := fixtures.users["civil-society-mentor"]
	c := fixtures.granted(fixtures.a_case("intake"), mentor, fixtures.in_an_hour)
	got := decide_as(mentor, "reintegration", c, "risk", risk_item("prison-service", "TLP:AMBER", ["probation-service"]))
	got.visible
	got.break_glass
	got.fields == ["assessed_at", "overall_judgement", "next_review_due"]
	not got.author
}

test_item_reasons_say_why_an_item_is_hidden if {
	got := decide("intelligence", fixtures.a_case("intake"), "risk", risk_item("prison-service", "TLP:AMBER", ["probation-service"]))
	got.reasons == {"TLP:AMBER item not shared with intelligence-service"}
	strict := decide("intelligence", fixtures.a_case("intake"), "risk", risk_item("prison-service", "TLP:AMBER+STRICT", []))
	strict.reasons == {"TLP:AMBER+STRICT item: its originator only"}
	bg := decide_as(analyst, "risk-management", granted(fixtures.a_case("intake")), "needs", risk_item("prison-service", "TLP:RED", []))
	bg.reasons == {"break-glass never opens TLP:RED items of others"}
}
