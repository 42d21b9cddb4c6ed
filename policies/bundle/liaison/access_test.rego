package liaison.access_test

import data.liaison.access
import data.liaison.fixtures

analyst := fixtures.users["intelligence-analyst"]

as_reader(org_type, c) := fixtures.reader_input(org_type, c, "profile")

as_user(who, c) := fixtures.section_input(who, "risk-management", c, "profile")

test_a_full_cell_needs_neither_consent_nor_stage if {
	access.grants("risk") with input as as_reader("prison", fixtures.a_case("intake"))
}

test_a_consent_gated_cell_needs_consent if {
	not access.grants("needs") with input as as_reader("municipality", fixtures.a_case("intake"))
	access.grants("needs") with input as as_reader("municipality", fixtures.open_to_all)
}

test_a_stage_cell_opens_at_its_stage if {
	not access.grants("risk") with input as as_reader("probation", fixtures.a_case("intervention"))
	access.grants("risk") with input as as_reader("probation", fixtures.a_case("transition"))
}

test_a_role_cell_needs_the_role if {
	access.grants("security") with input as as_user(fixtures.users["prison-security-officer"], fixtures.a_case("intake"))
	not access.grants("security") with input as as_user(fixtures.users["prison-manager"], fixtures.a_case("intake"))
}

test_a_role_cell_without_roles_in_data_grants_nobody if {
	not access.grants("security") with input as as_user(fixtures.users["prison-security-officer"], fixtures.a_case("intake"))
		with data.protocol.read.cell_roles as {}
}

test_an_own_cell_grants_nothing_but_opens_own_items if {
	not access.grants("counselling") with input as as_reader("prison", fixtures.a_case("intake"))
	access.mode("counselling") == "own" with input as as_reader("prison", fixtures.a_case("intake"))
}

test_a_summary_cell_is_consent_gated_and_summarised if {
	not access.grants("risk") with input as as_reader("civil-society", fixtures.a_case("intake"))
	access.grants("risk") with input as as_reader("civil-society", fixtures.open_to_all)
	access.summary("risk") with input as as_reader("civil-society", fixtures.open_to_all)
	not access.summary("risk") with input as as_reader("prison", fixtures.open_to_all)
}

test_a_missing_cell_is_none if {
	access.cell("risk") == "none" with input as as_reader("prison", fixtures.a_case("intake"))
		with data.protocol.read.table.risk as {}
	not access.mode("risk") with input as as_reader("prison", fixtures.a_case("intake"))
		with data.protocol.read.table.risk as {}
}

test_an_unknown_cell_kind_grants_nothing if {
	not access.mode("risk") with input as as_reader("prison", fixtures.a_case("intake"))
		with data.protocol.read.table.risk.prison as "everything"
}

test_the_table_wins_over_break_glass if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)
	access.mode("risk") == "table" with input as as_user(analyst, c)
	access.mode("needs") == "break-glass" with input as as_user(analyst, c)
}

test_break_glass_wins_over_own_items if {
	c := fixtures.written(fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour), "family", ["intelligence-service"])
	access.mode("family") == "break-glass" with input as as_user(analyst, c)
}

test_break_glass_never_opens_counselling if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)
	not access.break_glass_opens("counselling") with input as as_user(analyst, c)
	not access.mode("counselling") with input as as_user(analyst, c)
}

test_break_glass_opens_no_unknown_section if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)
	not access.break_glass_opens("diary") with input as as_user(analyst, c)
}

test_break_glass_gives_oversight_no_case_content if {
	auditor := fixtures.users["oversight-auditor"]
	c := fixtures.granted(fixtures.a_case("intake"), auditor, fixtures.in_an_hour)
	not access.profile_visible with input as as_user(auditor, c)
}

test_the_profile_is_visible_by_table_or_break_glass if {
	access.profile_visible with input as as_reader("prison", fixtures.a_case("intake"))
	not access.profile_visible with input as as_reader("municipality", fixtures.a_case("intake"))
	c := fixtures.granted(fixtures.a_case("intake"), fixtures.users["municipality-coordinator"], fixtures.in_an_hour)
	access.profile_visible with input as as_reader("municipality", c)
}

test_no_profile_without_a_case if {
	not access.profile_visible with input as as_reader("prison", null)
}

test_refusals_name_the_missing_consent if {
	access.refusals("needs") == {
		"section needs needs the participant's consent for municipality",
	} with input as as_reader("municipality", fixtures.a_case("intake"))
}

test_refusals_name_the_consent_expiry if {
	c := fixtures.consented_until(fixtures.a_case("intake"), "municipality", fixtures.today)
	access.refusals("needs") == {"consent for municipality expired on 2026-11-26"} with input as as_reader("municipality", c)
}

test_refusals_name_the_stage if {
	access.refusals("risk") == {"section risk opens to probation from stage transition on"} with input as as_reader("probation", fixtures.a_case("intake"))
}

test_refusals_name_the_roles if {
	access.refusals("security") == {`section security needs one of the roles ["security-officer"]`} with input as as_reader("prison", fixtures.a_case("intake"))
}

test_refusals_name_a_closed_cell if {
	access.refusals("needs") == {"section needs is not granted to organisation type intelligence"} with input as as_reader("intelligence", fixtures.a_case("intake"))
}

test_refusals_name_an_unknown_organisation if {
	access.refusals("profile") == {`organisation "rogue" is not in the directory`} with input as fixtures.section_input(fixtures.user("x", "rogue", "r"), "case-management", fixtures.a_case("intake"), "profile")
}
