package liaison.read_test

import data.liaison.fixtures
import data.liaison.read

# The read table of docs/protocol.md ("Read access", "The table"), written out
# independently of the data: ✓ granted, c consent, t from transition, own, c,sum
# consent and summary, security-officer that role only, – never.
protocol_table := {
	"profile": {"prison": "✓", "probation": "✓", "intelligence": "✓", "municipality": "c", "civil-society": "c", "family-support": "c", "oversight": "–", "research": "–"},
	"consent": {"prison": "✓", "probation": "✓", "intelligence": "✓", "municipality": "c", "civil-society": "c", "family-support": "c", "oversight": "–", "research": "–"},
	"risk": {"prison": "✓", "probation": "t", "intelligence": "✓", "municipality": "–", "civil-society": "c,sum", "family-support": "–", "oversight": "–", "research": "–"},
	"needs": {"prison": "✓", "probation": "t", "intelligence": "–", "municipality": "c", "civil-society": "c", "family-support": "–", "oversight": "–", "research": "–"},
	"plan": {"prison": "✓", "probation": "t", "intelligence": "–", "municipality": "c", "civil-society": "c", "family-support": "c", "oversight": "–", "research": "–"},
	"interventions": {"prison": "✓", "probation": "t", "intelligence": "–", "municipality": "–", "civil-society": "c", "family-support": "–", "oversight": "–", "research": "–"},
	"counselling": {"prison": "own", "probation": "own", "intelligence": "–", "municipality": "–", "civil-society": "own", "family-support": "own", "oversight": "–", "research": "–"},
	"conferences": {"prison": "✓", "probation": "t", "intelligence": "✓", "municipality": "c", "civil-society": "c", "family-support": "–", "oversight": "–", "research": "–"},
	"security": {"prison": "security-officer", "probation": "t", "intelligence": "✓", "municipality": "–", "civil-society": "own", "family-support": "–", "oversight": "–", "research": "–"},
	"family": {"prison": "✓", "probation": "t", "intelligence": "–", "municipality": "–", "civil-society": "c", "family-support": "c", "oversight": "–", "research": "–"},
	"transition": {"prison": "✓", "probation": "✓", "intelligence": "✓", "municipality": "c", "civil-society": "c", "family-support": "c", "oversight": "–", "research": "–"},
	"outcomes": {"prison": "✓", "probation": "✓", "intelligence": "–", "municipality": "c", "civil-society": "c", "family-support": "–", "oversight": "–", "research": "–"},
}

before_transition := ["intake", "assessment", "intervention"]

from_transition := ["transition", "released", "closed"]

org_of(org_type) := fixtures.by_type[org_type].subject.agency

status(org_type, c, section) := got if {
	got := read.section_decision.status with input as fixtures.reader_input(org_type, c, section)
}

status_as(who, purpose, c, section) := got if {
	got := read.section_decision.status with input as fixtures.section_input(who, purpose, c, section)
}

# profile_forced opens the profile to every type, so that a closed section shows
# as 403 rather than hiding behind the case's 404.
profile_forced := {t: "full" | some t in ["municipality", "civil-society", "family-support"]}

test_the_data_table_has_every_cell_of_the_protocol if {
	{[s, t] | some s, row in data.protocol.read.table; some t, _ in row} == {[s, t] | some s, row in protocol_table; some t, _ in row}
	data.protocol.read.sections == [s | some s in ["profile", "consent", "risk", "needs", "plan", "interventions", "counselling", "conferences", "security", "family", "transition", "outcomes"]]
}

test_read_table[section][org_type] if {
	some section, row in protocol_table
	some org_type, symbol in row
	cell_behaves(symbol, section, org_type)
}

# ✓: open at intake, without consent.
cell_behaves("✓", section, org_type) if status(org_type, fixtures.a_case("intake"), section) == 200

# c: open with consent; without it (or once it expired) the case is not there;
# and the cell itself stays shut without consent even when the profile is open.
cell_behaves("c", section, org_type) if consent_gated(section, org_type)

cell_behaves("c,sum", section, org_type) if consent_gated(section, org_type)

consent_gated(section, org_type) if {
	status(org_type, fixtures.consented(fixtures.a_case("intake"), [org_of(org_type)]), section) == 200
	status(org_type, fixtures.a_case("intake"), section) == 404
	status(org_type, fixtures.consented_until(fixtures.a_case("intake"), org_of(org_type), fixtures.today), section) == 404
	status(org_type, fixtures.consented_until(fixtures.a_case("intake"), org_of(org_type), fixtures.tomorrow), section) == 200
	section_shut_without_consent(section, org_type)
}

section_shut_without_consent("profile", _)

section_shut_without_consent(section, org_type) if {
	section != "profile"
	status(org_type, fixtures.a_case("intake"), section) == 403 with data.protocol.read.table.profile as object.union(data.protocol.read.table.profile, profile_forced)
}

# t: shut before the transition stage, open from it on.
cell_behaves("t", section, org_type) if {
	every stage in before_transition {
		status(org_type, fixtures.a_case(stage), section) == 403
	}
	every stage in from_transition {
		status(org_type, fixtures.a_case(stage), section) == 200
	}
}

# own: always open (the items are filtered to the reader's own).
cell_behaves("own", section, org_type) if {
	status(org_type, fixtures.open_to_all, section) == 200
	read.section_decision.reasons == {sprintf("section %s: only items written by %s", [section, org_of(org_type)])} with input as fixtures.reader_input(org_type, fixtures.open_to_all, section)
}

# security-officer: that role of the prison only.
cell_behaves("security-officer", section, _) if {
	status_as(fixtures.users["prison-security-officer"], "risk-management", fixtures.a_case("intake"), section) == 200
	every role in ["prison-caseworker", "prison-psychologist", "prison-manager"] {
		status_as(fixtures.users[role], "case-management", fixtures.a_case("intake"), section) == 403
	}
}

# –: shut on a case the reader sees; oversight and research see no case at all.
cell_behaves("–", section, org_type) if {
	not org_type in {"oversight", "research"}
	status(org_type, fixtures.open_to_all, section) == 403
}

cell_behaves("–", section, org_type) if {
	org_type in {"oversight", "research"}
	status(org_type, fixtures.consented(fixtures.a_case("transition"), ["oversight-board", "research-institute"]), section) == 404
}

test_case_sections_at_transition_with_consent[org_type] if {
	some org_type, reader in fixtures.by_type
	want := [s |
		some s in data.protocol.read.sections
		protocol_table[s][org_type] in {"✓", "c", "t", "own", "c,sum"}
	]
	c := fixtures.consented(fixtures.a_case("transition"), fixtures.consenting)
	got := read.case_decision with input as fixtures.read_input(reader.subject, reader.purpose, c)
	got.sections == want
}

test_case_sections_agree_with_section_decisions[org_type] if {
	some org_type, reader in fixtures.by_type
	c := fixtures.written(fixtures.open_to_all, "security", ["municipality"])
	got := read.case_decision with input as fixtures.read_input(reader.subject, reader.purpose, c)
	opened := [section |
		some section in data.protocol.read.sections
		status(org_type, c, section) == 200
	]
	got.sections == opened
}

test_a_security_officer_lists_security if {
	officer := read.case_decision with input as fixtures.read_input(fixtures.users["prison-security-officer"], "risk-management", fixtures.a_case("intake"))
	"security" in officer.sections
	caseworker := read.case_decision with input as fixtures.read_input(fixtures.users["prison-caseworker"], "case-management", fixtures.a_case("intake"))
	not "security" in caseworker.sections
}

test_an_unknown_case_is_404 if {
	got := read.case_decision with input as fixtures.read_input(fixtures.users["prison-caseworker"], "case-management", null)
	got.status == 404
	got.sections == []
}

test_an_unknown_organisation_sees_no_case if {
	status_as(fixtures.user("x", "rogue-agency", "caseworker"), "case-management", fixtures.open_to_all, "profile") == 404
}

test_oversight_and_research_never_see_a_case[org_type] if {
	some org_type in ["oversight", "research"]
	c := fixtures.consented(fixtures.a_case("transition"), ["oversight-board", "research-institute"])
	reader := fixtures.by_type[org_type]
	on_case := read.case_decision with input as fixtures.read_input(reader.subject, reader.purpose, c)
	on_case.status == 404
	on_erased := read.case_decision with input as fixtures.read_input(reader.subject, reader.purpose, fixtures.erased(c))
	on_erased.status == 404
}

test_an_erased_case_is_410_for_those_who_see_it if {
	status("prison", fixtures.erased(fixtures.open_to_all), "profile") == 410
	got := read.case_decision with input as fixtures.reader_input("prison", fixtures.erased(fixtures.open_to_all), "profile")
	got.status == 410
	got.sections == []
	got.reasons == {"the case content was erased"}
}

# An erasure recorded before the hub kept who could see the case tells every
# type that reads case content, whether or not it could see the case before.
test_a_legacy_erasure_is_410_for_every_content_reader[org_type] if {
	some org_type in fixtures.case_readers
	status(org_type, fixtures.erased(fixtures.open_to_all), "profile") == 410
	status(org_type, object.union(fixtures.a_case("intake"), {"erased": true}), "profile") == 410
}

# Since then, only the organisations that could see the case are told it was
# erased; any other is answered as for an unknown id.
test_an_erased_case_is_410_only_for_those_who_could_see_it[org_type] if {
	some org_type in fixtures.case_readers
	reader := fixtures.by_type[org_type].subject
	status(org_type, fixtures.erased_for(fixtures.open_to_all, [reader.agency]), "profile") == 410
	status(org_type, fixtures.erased_for(fixtures.open_to_all, []), "profile") == 404
	got := read.case_decision with input as fixtures.reader_input(org_type, fixtures.erased_for(fixtures.open_to_all, []), "profile")
	"the case does not exist for the caller" in got.reasons
	not "the case content was erased" in got.reasons
}

test_410_comes_before_404 if {
	c := object.union(fixtures.a_case("intake"), {"erased": true})
	status("municipality", c, "profile") == 410
	status("municipality", object.union(fixtures.a_case("intake"), {"erased": false}), "profile") == 404
}

# audience: who could see the case, recorded with its erasure.
test_the_audience_is_who_sees_the_profile if {
	read.audience == {"intelligence-service", "prison-service", "probation-service"} with input as fixtures.read_input(fixtures.users["oversight-dpo"], "", fixtures.a_case("intake"))
	read.audience == {"exit-ngo", "intelligence-service", "prison-service", "probation-service"} with input as fixtures.read_input(fixtures.users["oversight-dpo"], "", fixtures.consented(fixtures.a_case("intake"), ["exit-ngo"]))
	lapsed := fixtures.consented_until(fixtures.a_case("intake"), "municipality", fixtures.today)
	read.audience == {"intelligence-service", "prison-service", "probation-service"} with input as fixtures.read_input(fixtures.users["oversight-dpo"], "", lapsed)
}

test_the_audience_includes_break_glass_holders if {
	c := fixtures.granted(fixtures.a_case("intake"), fixtures.user("x", "municipality", "coordinator"), fixtures.in_an_hour)
	"municipality" in read.audience with input as fixtures.read_input(fixtures.users["oversight-dpo"], "", c)
	expired := fixtures.granted(fixtures.a_case("intake"), fixtures.user("x", "municipality", "coordinator"), fixtures.an_hour_ago)
	not "municipality" in read.audience with input as fixtures.read_input(fixtures.users["oversight-dpo"], "", expired)
}

test_410_comes_before_a_refused_purpose if {
	status_as(fixtures.users["prison-caseworker"], "research", fixtures.erased(fixtures.open_to_all), "profile") == 410
}

test_a_refused_purpose_is_403[org_type][purpose] if {
	some org_type in fixtures.case_readers
	some purpose in ["oversight", "research", "curiosity", ""]
	got := read.case_decision with input as fixtures.read_input(fixtures.by_type[org_type].subject, purpose, fixtures.open_to_all)
	got.status == 403
	got.sections == []
}

test_a_refused_purpose_is_403_for_every_section[section] if {
	some section in data.protocol.read.sections
	status_as(fixtures.users["prison-caseworker"], "research", fixtures.open_to_all, section) == 403
}

test_a_refused_purpose_is_named if {
	got := read.case_decision with input as fixtures.read_input(fixtures.users["municipality-coordinator"], "risk-management", fixtures.open_to_all)
	got.reasons == {`purpose "risk-management" is not allowed for organisation type municipality`}
}

test_an_unknown_section_is_403 if {
	status("prison", fixtures.a_case("intake"), "diary") == 403
	c := fixtures.granted(fixtures.a_case("intake"), fixtures.users["intelligence-analyst"], fixtures.in_an_hour)
	status("intelligence", c, "diary") == 403
}

test_consent_withdrawal_hides_the_case_with_the_readers_own_items if {
	c := fixtures.written(fixtures.a_case("transition"), "outcomes", ["municipality"])
	status("municipality", fixtures.consented(c, ["municipality"]), "outcomes") == 200
	status("municipality", c, "outcomes") == 404
}

test_a_closed_section_opens_to_its_writer_only_after_it_wrote if {
	status("municipality", fixtures.open_to_all, "security") == 403
	c := fixtures.written(fixtures.open_to_all, "security", ["municipality"])
	status("municipality", c, "security") == 200
	read.section_decision.reasons == {"section security: only items written by municipality"} with input as fixtures.reader_input("municipality", c, "security")
}

test_another_organisations_writing_opens_nothing if {
	c := fixtures.written(fixtures.open_to_all, "security", ["exit-ngo", "prison-service"])
	status("municipality", c, "security") == 403
}

# Reading back one's own organisation's items never widens a role
# restriction (docs/protocol.md, "Role-restricted cells and reading back").
test_a_prison_role_without_the_security_role_never_reads_security[role] if {
	some role in ["caseworker", "psychologist", "manager"]
	c := fixtures.written(fixtures.a_case("intake"), "security", ["prison-service"])
	who := fixtures.user("p-x", "prison-service", role)
	got := read.section_decision with input as fixtures.section_input(who, "case-management", c, "security")
	got.status == 403
	"section security needs one of the roles [\"security-officer\"]" in got.reasons
	cd := read.case_decision with input as fixtures.read_input(who, "case-management", c)
	not "security" in cd.sections
}

test_the_security_officer_reads_the_prisons_disclosures if {
	c := fixtures.written(fixtures.a_case("intake"), "security", ["prison-service"])
	who := fixtures.users["prison-security-officer"]
	got := read.item_decision with input as fixtures.item_input(who, "case-management", c, "security", fixtures.item("RiskDisclosureRaised", "prison-service", "TLP:AMBER", ["intelligence-service", "prison-service"]))
	got.visible
}

test_break_glass_still_opens_security_to_a_prison_manager if {
	manager := fixtures.users["prison-manager"]
	c := fixtures.granted(fixtures.written(fixtures.a_case("intake"), "security", ["prison-service"]), manager, fixtures.in_an_hour)
	got := read.section_decision with input as fixtures.section_input(manager, "case-management", c, "security")
	got.status == 200
	got.break_glass
}

test_a_stage_cell_before_transition_opens_to_its_writer_for_its_own_items if {
	c := fixtures.written(fixtures.a_case("assessment"), "needs", ["probation-service"])
	status("probation", c, "needs") == 200
	status("probation", fixtures.a_case("assessment"), "needs") == 403
}

analyst := fixtures.users["intelligence-analyst"]

granted(c) := fixtures.granted(c, analyst, fixtures.in_an_hour)

test_break_glass_opens_every_section_but_counselling[section] if {
	some section in [s | some s in data.protocol.read.sections; s != "counselling"]
	got := read.section_decision with input as fixtures.section_input(analyst, "risk-management", granted(fixtures.open_to_all), section)
	got.status == 200
	closed_to_intelligence := protocol_table[section].intelligence == "–"
	got.break_glass == closed_to_intelligence
}

test_break_glass_never_opens_counselling if {
	got := read.section_decision with input as fixtures.section_input(analyst, "risk-management", granted(fixtures.open_to_all), "counselling")
	got.status == 403
	not got.break_glass
	"break-glass never opens section counselling" in got.reasons
}

test_break_glass_ignores_the_stage if {
	officer := fixtures.users["probation-officer"]
	c := fixtures.granted(fixtures.a_case("intake"), officer, fixtures.in_an_hour)
	got := read.section_decision with input as fixtures.section_input(officer, "risk-management", c, "risk")
	got.status == 200
	got.break_glass
}

test_break_glass_ignores_consent if {
	coordinator := fixtures.users["municipality-coordinator"]
	c := fixtures.granted(fixtures.a_case("intake"), coordinator, fixtures.in_an_hour)
	got := read.case_decision with input as fixtures.read_input(coordinator, "reintegration", c)
	got.status == 200
	got.break_glass
	"profile" in got.sections
	got.reasons == {
		"purpose reintegration allowed for organisation type municipality",
		"the case is visible under the caller's break-glass grant",
	}
}

test_break_glass_is_for_its_user_only if {
	colleague := fixtures.user("ia-other", "intelligence-service", "analyst")
	status_as(colleague, "risk-management", granted(fixtures.open_to_all), "needs") == 403
}

test_break_glass_ends_at_its_expiry if {
	c := fixtures.granted(fixtures.open_to_all, analyst, fixtures.now)
	status_as(analyst, "risk-management", c, "needs") == 403
}

test_break_glass_does_not_lift_the_purpose if {
	status_as(analyst, "reintegration", granted(fixtures.open_to_all), "needs") == 403
}

test_a_case_decision_under_break_glass_is_flagged if {
	got := read.case_decision with input as fixtures.read_input(analyst, "risk-management", granted(fixtures.open_to_all))
	got.break_glass
	not "counselling" in got.sections
	plain := read.case_decision with input as fixtures.read_input(analyst, "risk-management", fixtures.open_to_all)
	not plain.break_glass
}
