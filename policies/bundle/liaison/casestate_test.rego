package liaison.casestate_test

import data.liaison.casestate
import data.liaison.fixtures

mentor := fixtures.users["civil-society-mentor"]

analyst := fixtures.users["intelligence-analyst"]

at(c) := {"subject": mentor, "now": fixtures.now, "today": fixtures.today, "case": c}

test_a_null_case_does_not_exist if {
	not casestate.exists with input as at(null)
	casestate.exists with input as at(fixtures.a_case("intake"))
}

test_consent_without_expiry_holds if {
	casestate.consent_holds("exit-ngo") with input as at(fixtures.consented(fixtures.a_case("intake"), ["exit-ngo"]))
}

test_consent_with_an_empty_expiry_holds if {
	casestate.consent_holds("exit-ngo") with input as at(fixtures.consented_until(fixtures.a_case("intake"), "exit-ngo", ""))
}

test_consent_covers_only_the_organisations_it_names if {
	not casestate.consent_holds("municipality") with input as at(fixtures.consented(fixtures.a_case("intake"), ["exit-ngo"]))
}

test_consent_holds_until_the_day_before_it_expires if {
	casestate.consent_holds("exit-ngo") with input as at(fixtures.consented_until(fixtures.a_case("intake"), "exit-ngo", fixtures.tomorrow))
}

test_consent_no_longer_holds_on_its_expiry_date if {
	c := fixtures.consented_until(fixtures.a_case("intake"), "exit-ngo", fixtures.today)
	not casestate.consent_holds("exit-ngo") with input as at(c)
	casestate.consent_expired("exit-ngo") with input as at(c)
}

test_withdrawn_consent_is_neither_held_nor_expired if {
	not casestate.consent_holds("exit-ngo") with input as at(fixtures.a_case("intake"))
	not casestate.consent_expired("exit-ngo") with input as at(fixtures.a_case("intake"))
}

test_stages_follow_the_protocol_order if {
	data.protocol.read.stages == ["intake", "assessment", "intervention", "transition", "released", "closed"]
}

test_stage_reached[stage] if {
	some i, stage in data.protocol.read.stages
	reached := casestate.stage_reached("transition") with input as at(fixtures.a_case(stage))
	expected := i >= 3
	reached == expected
}

test_stage_reached_false_for_an_unknown_stage if {
	not casestate.stage_reached("intake") with input as at(fixtures.a_case("limbo"))
}

test_break_glass_grant_is_active_for_its_user_before_expiry if {
	casestate.break_glass_active with input as object.union(at(fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)), {"subject": analyst})
}

test_break_glass_grant_ends_at_its_expiry if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.now)
	not casestate.break_glass_active with input as object.union(at(c), {"subject": analyst})
}

test_break_glass_grant_is_not_for_another_user if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)
	colleague := fixtures.user("ia-other", "intelligence-service", "analyst")
	not casestate.break_glass_active with input as object.union(at(c), {"subject": colleague})
}

test_break_glass_grant_is_not_for_the_same_name_in_another_organisation if {
	c := fixtures.granted(fixtures.a_case("intake"), analyst, fixtures.in_an_hour)
	namesake := fixtures.user("ia-fay", "probation-service", "officer")
	not casestate.break_glass_active with input as object.union(at(c), {"subject": namesake})
}

test_writer_names_the_organisations_that_wrote if {
	c := fixtures.written(fixtures.a_case("intake"), "security", ["exit-ngo"])
	casestate.writer("security") with input as at(c)
	not casestate.writer("risk") with input as at(c)
}
