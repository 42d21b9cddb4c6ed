package liaison.write_test

import data.liaison.fixtures
import data.liaison.write

# The write table of docs/protocol.md, "Write access", written out independently
# of the data: for each event type, the users (fixtures.users) that may append
# it; "+c" marks "with consent".
protocol_writers := {
	"CaseOpened": {"prison-caseworker", "prison-manager", "probation-officer"},
	"ConsentGiven": {"prison-caseworker", "probation-officer"},
	"ConsentWithdrawn": {"prison-caseworker", "probation-officer", "civil-society-mentor"},
	"ParticipationChanged": {"prison-caseworker", "prison-manager", "probation-officer"},
	"Transferred": {"prison-caseworker", "prison-manager"},
	"RiskAssessmentRecorded": {"prison-psychologist", "probation-officer"},
	"NeedsAssessmentRecorded": {"prison-caseworker", "prison-psychologist", "probation-officer", "civil-society-mentor+c"},
	"TreatmentPlanAdopted": {"prison-caseworker", "prison-manager", "probation-officer"},
	"GoalUpdated": {"prison-caseworker", "prison-psychologist", "prison-manager", "probation-officer", "municipality-coordinator+c", "civil-society-mentor+c", "family-support-counsellor+c"},
	"PlanReviewed": {"prison-caseworker", "prison-manager", "probation-officer"},
	"InterventionRecorded": {"prison-caseworker", "prison-psychologist", "prison-security-officer", "prison-manager", "probation-officer", "civil-society-mentor+c", "family-support-counsellor+c"},
	"CounsellingNoteAdded": {"prison-psychologist", "probation-officer", "civil-society-mentor+c", "family-support-counsellor+c"},
	"CaseConferenceHeld": {"prison-manager", "probation-officer", "municipality-coordinator+c"},
	"ConferenceActionCompleted": {"prison-caseworker", "prison-manager", "probation-officer", "intelligence-analyst", "municipality-coordinator+c", "civil-society-mentor+c"},
	"IntelligenceNoteAdded": {"intelligence-analyst"},
	"RiskDisclosureRaised": {"prison-caseworker", "prison-psychologist", "prison-security-officer", "prison-manager", "probation-officer", "intelligence-analyst", "municipality-coordinator", "civil-society-mentor", "family-support-counsellor"},
	"FamilyContactRecorded": {"prison-caseworker", "civil-society-mentor+c", "family-support-counsellor+c"},
	"TransitionPlanAgreed": {"prison-caseworker", "prison-manager", "probation-officer"},
	"MentorAssigned": {"probation-officer", "civil-society-mentor+c"},
	"MentoringEnded": {"probation-officer", "civil-society-mentor+c"},
	"ReleaseScheduled": {"prison-caseworker", "prison-manager"},
	"Released": {"prison-caseworker", "prison-manager"},
	"ProbationHandoverCompleted": {"probation-officer"},
	"OutcomeRecorded": {"probation-officer", "civil-society-mentor+c", "municipality-coordinator+c"},
	"CaseClosed": {"prison-manager", "probation-officer"},
	"CaseErased": {"oversight-dpo"},
	"BreakGlassInvoked": {"prison-manager", "probation-officer", "intelligence-analyst"},
	"ErasureRequested": {"oversight-dpo"},
	"ErasureCancelled": {"oversight-dpo"},
}

# erasure_types are the erasure's own events, which the oversight body appends
# without reading the case.
erasure_types := {"ErasureRequested", "ErasureCancelled", "CaseErased"}

may_write(type, name) if name in protocol_writers[type]

may_write(type, name) if sprintf("%s+c", [name]) in protocol_writers[type]

needs_consent(type, name) if sprintf("%s+c", [name]) in protocol_writers[type]

blind := {"oversight-auditor", "oversight-dpo", "research-researcher"}

case_for("CaseOpened") := null

# Confirming or cancelling needs a request pending (made by another officer).
case_for(type) := fixtures.requested(fixtures.open_to_all, "req-1", fixtures.another_dpo, fixtures.in_an_hour) if type in {"CaseErased", "ErasureCancelled"}

case_for(type) := fixtures.open_to_all if not type in {"CaseOpened", "CaseErased", "ErasureCancelled"}

decide(who, c, type) := got if {
	got := write.decision with input as fixtures.write_input(who, c, type)
}

status(who, c, type) := decide(who, c, type).status

# The status each user gets on a case every organisation may see: 201 within
# the remit; 404 for those who see no case (the erasure's events included:
# outside the remit, a case one cannot see is answered as an unknown id), 403
# otherwise.
expected(type, name) := 201 if may_write(type, name)

else := 404 if {
	name in blind
	type != "CaseOpened"
}

else := 403

test_the_data_has_a_row_for_every_event_type if {
	{t | some t, _ in data.protocol.write.events} == {t | some t, _ in protocol_writers}
}

test_write_table[type][name] if {
	some type, _ in protocol_writers
	some name, who in fixtures.users
	status(who, case_for(type), type) == expected(type, name)
}

# consent_rows pairs each event type with the users that append it "with consent".
consent_rows := {[type, name] |
	some type, _ in protocol_writers
	some name, _ in fixtures.users
	needs_consent(type, name)
}

# plain_rows pairs each event type with the users that append it without
# consent and see the case only by consent (they need not consent to write).
plain_rows := {[type, name] |
	some type, writers in protocol_writers
	type != "CaseOpened"
	some name in writers
	fixtures.users[name].agency in fixtures.consenting
}

test_with_consent_rows_need_consent[type][name] if {
	some [type, name] in consent_rows
	who := fixtures.users[name]
	status(who, fixtures.a_case("intake"), type) == 404
	status(who, fixtures.consented_until(fixtures.a_case("intake"), who.agency, fixtures.today), type) == 404
}

test_with_consent_is_checked_even_when_the_case_is_visible[type][name] if {
	some [type, name] in consent_rows
	who := fixtures.users[name]
	got := decide(who, fixtures.a_case("intake"), type) with data.protocol.read.table.profile as {t: "full" | some t in fixtures.case_readers}
	got.status == 403
	sprintf("%s appends %s only with the participant's consent", [who.agency, type]) in got.reasons
}

test_rows_without_consent_do_not_need_it[type][name] if {
	some [type, name] in plain_rows
	status(fixtures.users[name], fixtures.a_case("intake"), type) == 201 with data.protocol.read.table.profile as {t: "full" | some t in fixtures.case_readers}
}

test_appending_needs_a_visible_case if {
	status(fixtures.users["municipality-coordinator"], fixtures.a_case("intake"), "RiskAssessmentRecorded") == 404
	status(fixtures.users["prison-psychologist"], null, "RiskAssessmentRecorded") == 404
}

test_risk_disclosures_need_a_visible_case if {
	status(fixtures.users["civil-society-mentor"], fixtures.a_case("intake"), "RiskDisclosureRaised") == 404
}

test_oversight_and_research_raise_no_risk_disclosure_even_when_they_could_see if {
	forced := {t: "full" | some t in ["oversight", "research"]}
	every name in blind {
		status(fixtures.users[name], fixtures.a_case("intake"), "RiskDisclosureRaised") == 403 with data.protocol.read.table.profile as forced
	}
}

test_erasure_requests_need_no_visibility_but_a_case if {
	dpo := fixtures.users["oversight-dpo"]
	status(dpo, fixtures.a_case("intake"), "ErasureRequested") == 201
	status(dpo, null, "ErasureRequested") == 404
}

# unseen_case_for(type) is case_for(type) without the consent that lets the
# municipality see it.
unseen_case_for(type) := object.union(object.remove(case_for(type), ["consent"]), {"consent": {}})

test_those_who_cannot_see_a_case_learn_nothing_from_erasure[type] if {
	some type in erasure_types
	every name in ["oversight-auditor", "research-researcher", "municipality-coordinator"] {
		who := fixtures.users[name]
		status(who, unseen_case_for(type), type) == 404
		status(who, null, type) == 404
		status(who, fixtures.erased_for(fixtures.a_case("intake"), ["prison-service"]), type) == 404
	}
}

test_those_who_see_a_case_but_may_not_erase_it_are_refused[type] if {
	some type in erasure_types
	status(fixtures.users["prison-caseworker"], case_for(type), type) == 403
}

test_erasure_requests_last_seven_days if {
	decide(fixtures.users["oversight-dpo"], fixtures.a_case("intake"), "ErasureRequested").erasure_days == 7
	not decide(fixtures.users["oversight-dpo"], case_for("CaseErased"), "CaseErased").erasure_days
}

test_one_erasure_request_at_a_time if {
	pending := fixtures.requested(fixtures.a_case("intake"), "req-0", fixtures.another_dpo, fixtures.in_an_hour)
	got := decide(fixtures.users["oversight-dpo"], pending, "ErasureRequested")
	got.status == 409
	"an erasure request is already pending" in got.reasons
	lapsed := fixtures.requested(fixtures.a_case("intake"), "req-0", fixtures.another_dpo, fixtures.an_hour_ago)
	status(fixtures.users["oversight-dpo"], lapsed, "ErasureRequested") == 201
}

test_four_eyes_a_second_officer_confirms if {
	pending := fixtures.requested(fixtures.a_case("intake"), "req-1", fixtures.another_dpo, fixtures.in_an_hour)
	status(fixtures.users["oversight-dpo"], pending, "CaseErased") == 201
}

test_four_eyes_the_requester_cannot_confirm if {
	pending := fixtures.requested(fixtures.a_case("intake"), "req-1", fixtures.users["oversight-dpo"], fixtures.in_an_hour)
	got := decide(fixtures.users["oversight-dpo"], pending, "CaseErased")
	got.status == 403
	"four eyes: the officer who requested an erasure cannot confirm it" in got.reasons
	status(fixtures.users["oversight-dpo"], pending, "ErasureCancelled") == 201
}

test_four_eyes_the_same_subject_of_another_organisation_is_another_officer if {
	pending := fixtures.requested(fixtures.a_case("intake"), "req-1", fixtures.user("dp-kim", "other-board", "dpo"), fixtures.in_an_hour)
	status(fixtures.users["oversight-dpo"], pending, "CaseErased") == 201
}

test_an_expired_request_cannot_be_confirmed_or_cancelled[type] if {
	some type in {"CaseErased", "ErasureCancelled"}
	lapsed := fixtures.requested(fixtures.a_case("intake"), "req-1", fixtures.another_dpo, fixtures.an_hour_ago)
	got := decide(fixtures.users["oversight-dpo"], lapsed, type)
	got.status == 409
	"the erasure request expired unconfirmed" in got.reasons
}

test_only_the_pending_request_can_be_decided[type] if {
	some type in {"CaseErased", "ErasureCancelled"}
	other := fixtures.requested(fixtures.a_case("intake"), "req-2", fixtures.another_dpo, fixtures.in_an_hour)
	got := decide(fixtures.users["oversight-dpo"], other, type)
	got.status == 409
	"the erasure request is no longer pending" in got.reasons
	status(fixtures.users["oversight-dpo"], fixtures.a_case("intake"), type) == 409
}

test_a_case_cannot_be_opened_twice if {
	status(fixtures.users["prison-caseworker"], fixtures.a_case("intake"), "CaseOpened") == 409
	status(fixtures.users["intelligence-analyst"], fixtures.a_case("intake"), "CaseOpened") == 403
}

test_a_closed_case_takes_only_erasure[type] if {
	some type in ((object.keys(protocol_writers) - {"CaseOpened"}) - erasure_types)
	every name in protocol_writers[type] {
		status(fixtures.users[trim_suffix(name, "+c")], fixtures.closed(fixtures.open_to_all), type) == 409
	}
}

test_a_closed_case_can_be_erased[type] if {
	some type in erasure_types
	status(fixtures.users["oversight-dpo"], fixtures.closed(case_for(type)), type) == 201
}

test_an_erased_case_takes_nothing[type] if {
	some type in (object.keys(protocol_writers) - {"CaseOpened"})
	every name in protocol_writers[type] & {"prison-caseworker", "prison-psychologist", "prison-manager", "probation-officer", "intelligence-analyst", "oversight-dpo"} {
		status(fixtures.users[name], fixtures.erased(case_for(type)), type) == 410
		status(fixtures.users[name], fixtures.erased_for(case_for(type), ["intelligence-service", "prison-service", "probation-service"]), type) == 410
	}
}

# After an erasure, the organisations that could see the case are told it is
# gone; every other is told it does not exist.
test_an_erased_case_is_410_only_for_those_who_could_see_it if {
	mentor := fixtures.users["civil-society-mentor"]
	status(mentor, fixtures.erased_for(fixtures.a_case("intake"), ["prison-service"]), "RiskDisclosureRaised") == 404
	status(mentor, fixtures.erased_for(fixtures.a_case("intake"), ["exit-ngo", "prison-service"]), "RiskDisclosureRaised") == 410
	status(fixtures.users["oversight-auditor"], fixtures.erased_for(fixtures.open_to_all, ["exit-ngo"]), "RiskDisclosureRaised") == 404
}

# An erasure recorded before the hub kept that list tells every type that
# reads case content.
test_a_legacy_erasure_is_410_for_every_content_reader if {
	status(fixtures.users["civil-society-mentor"], fixtures.erased(fixtures.a_case("intake")), "RiskDisclosureRaised") == 410
	status(fixtures.users["oversight-auditor"], fixtures.erased(fixtures.open_to_all), "RiskDisclosureRaised") == 404
}

test_404_before_403 if {
	status(fixtures.users["oversight-auditor"], fixtures.open_to_all, "RiskAssessmentRecorded") == 404
}

test_410_before_403 if {
	status(fixtures.users["intelligence-analyst"], fixtures.erased(fixtures.open_to_all), "TreatmentPlanAdopted") == 410
}

test_403_before_400 if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["prison-caseworker"], fixtures.open_to_all, "BreakGlassInvoked"), {"justification": "urgent"})
	got.status == 403
}

test_400_before_409 if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["prison-manager"], fixtures.closed(fixtures.open_to_all), "BreakGlassInvoked"), {"justification": "urgent"})
	got.status == 400
}

justified(text) := got if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["intelligence-analyst"], fixtures.a_case("intake"), "BreakGlassInvoked"), {"justification": text})
}

test_break_glass_needs_a_justification_of_20_characters if {
	short := justified("imminent threat: 19")
	short.status == 400
	[e.field | some e in short.errors] == ["justification"]
	"justification must state at least 20 characters" in short.reasons
	justified("imminent threat: 20!").status == 201
	justified("   padded to twenty     ").status == 400
}

test_break_glass_without_justification_is_400 if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["intelligence-analyst"], fixtures.a_case("intake"), "BreakGlassInvoked"), {"justification": null})
	got.status == 400
}

test_break_glass_lasts_60_minutes if {
	justified("imminent threat reported by prison security").break_glass_minutes == 60
	not decide(fixtures.users["prison-caseworker"], fixtures.a_case("intake"), "NeedsAssessmentRecorded").break_glass_minutes
}

test_default_classifications[type] if {
	some type, _ in protocol_writers
	want := object.get(
		{"CounsellingNoteAdded": "TLP:AMBER+STRICT", "IntelligenceNoteAdded": "TLP:AMBER", "RiskDisclosureRaised": "TLP:AMBER"},
		type, "TLP:GREEN",
	)
	decide(fixtures.users["prison-caseworker"], fixtures.open_to_all, type).classification == want
}

test_a_given_classification_is_kept if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["intelligence-analyst"], fixtures.open_to_all, "IntelligenceNoteAdded"), {"classification": "TLP:RED", "share_with": ["prison-service"]})
	got.classification == "TLP:RED"
	got.share_with == ["prison-service"]
}

test_a_risk_disclosure_goes_by_default_to_every_intelligence_and_prison_organisation if {
	got := decide(fixtures.users["civil-society-mentor"], fixtures.open_to_all, "RiskDisclosureRaised")
	got.status == 201
	got.classification == "TLP:AMBER"
	got.share_with == ["intelligence-service", "prison-service"]
}

test_the_default_audience_follows_the_directory if {
	got := decide(fixtures.users["civil-society-mentor"], fixtures.open_to_all, "RiskDisclosureRaised")
		with data.protocol.organisations as object.union(data.protocol.organisations, {"jva-sued": "prison"})
	got.share_with == ["intelligence-service", "jva-sued", "prison-service"]
}

test_a_risk_disclosure_to_named_organisations_goes_only_to_them if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["civil-society-mentor"], fixtures.open_to_all, "RiskDisclosureRaised"), {"share_with": ["probation-service"]})
	got.share_with == ["probation-service"]
}

test_an_explicit_label_keeps_its_own_share_list[label] if {
	some label in ["TLP:RED", "TLP:AMBER"]
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["civil-society-mentor"], fixtures.open_to_all, "RiskDisclosureRaised"), {"classification": label})
	got.status == 201
	got.classification == label
	got.share_with == []
}

test_a_closed_case_is_shared_with_every_reader[label] if {
	some label in ["TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["prison-manager"], fixtures.open_to_all, "CaseClosed"), {"classification": label})
	got.status == 400
	[e.field | some e in got.errors] == ["classification"]
}

test_a_closed_case_takes_no_share_list if {
	got := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["prison-manager"], fixtures.open_to_all, "CaseClosed"), {"share_with": ["probation-service"]})
	got.status == 400
	[e.field | some e in got.errors] == ["share_with"]
	green := write.decision with input as fixtures.with_event(fixtures.write_input(fixtures.users["prison-manager"], fixtures.open_to_all, "CaseClosed"), {"classification": "TLP:GREEN"})
	green.status == 201
}

test_other_events_share_with_nobody_by_default if {
	decide(fixtures.users["prison-caseworker"], fixtures.open_to_all, "NeedsAssessmentRecorded").share_with == []
}

test_an_unknown_event_type_is_refused if {
	got := decide(fixtures.users["prison-manager"], fixtures.open_to_all, "CaseForgotten")
	got.status == 403
	"CaseForgotten is not in the write table" in got.reasons
}

test_an_unknown_organisation_writes_nothing if {
	status(fixtures.user("x", "rogue-agency", "caseworker"), null, "CaseOpened") == 403
}

test_a_refused_write_says_who_was_refused if {
	got := decide(fixtures.users["intelligence-analyst"], fixtures.open_to_all, "TreatmentPlanAdopted")
	got.reasons == {`intelligence-service with roles ["analyst"] may not append TreatmentPlanAdopted`}
}

# Every role the write table, the read table's role cells and the services
# name is a role the directory's organisation types know (data.protocol.roles),
# so that "liaison token" refuses only roles nobody uses.
named_roles contains [entry.org_type, role] if {
	some _, row in data.protocol.write.events
	some entry in row.remit
	some role in object.get(entry, "roles", [])
}

named_roles contains [org_type, role] if {
	some _, cells in data.protocol.read.cell_roles
	some org_type, roles in cells
	some role in roles
}

named_roles contains [entry.org_type, role] if {
	some _, entries in data.protocol.service
	some entry in entries
	some role in object.get(entry, "roles", [])
}

test_every_named_role_is_known if {
	every pair in named_roles {
		pair[1] in data.protocol.roles[pair[0]]
	}
}

options_for(who, c) := got if {
	got := write.options with input as writable_input(who, c)
}

writable_input(who, c) := {"subject": who, "now": fixtures.now, "today": fixtures.today, "case": c}

test_writable_answers_404_to_a_caller_who_cannot_see_the_case if {
	got := write.writable with input as writable_input(fixtures.users["civil-society-mentor"], fixtures.a_case("intake"))
	got == {"status": 404}
}

test_writable_offers_break_glass_only_in_its_remit if {
	manager := write.writable with input as writable_input(fixtures.users["prison-manager"], fixtures.open_to_all)
	manager.status == 200
	manager.break_glass == true
	caseworker := write.writable with input as writable_input(fixtures.users["prison-caseworker"], fixtures.open_to_all)
	caseworker.break_glass == false
	count(caseworker.options) > 0
}

test_options_list_what_the_caller_may_append_now if {
	got := options_for(fixtures.users["prison-caseworker"], fixtures.open_to_all)
	expected := {type |
		some type, writers in protocol_writers
		"prison-caseworker" in writers
		not type in {"CaseOpened", "BreakGlassInvoked", "CaseErased", "ErasureRequested", "ErasureCancelled"}
	}
	object.keys(got) == expected
}

test_options_give_the_labels_a_row_allows if {
	got := options_for(fixtures.users["prison-manager"], fixtures.open_to_all)
	got.CaseClosed.labels == ["TLP:CLEAR", "TLP:GREEN"]
	got.CaseClosed.share_list == false
	count(got.TreatmentPlanAdopted.labels) == 5
	got.TreatmentPlanAdopted.classification == "TLP:GREEN"
}

test_options_give_the_default_audience if {
	got := options_for(fixtures.users["civil-society-mentor"], fixtures.open_to_all)
	got.RiskDisclosureRaised.classification == "TLP:AMBER"
	got.RiskDisclosureRaised.share_with == ["intelligence-service", "prison-service"]
}

test_options_are_empty_where_nothing_may_be_appended if {
	options_for(fixtures.users["civil-society-mentor"], fixtures.a_case("intake")) == {}
	options_for(fixtures.users["prison-caseworker"], fixtures.closed(fixtures.open_to_all)) == {}
}

# Issue 18's events: the plan's goals move, conferences' actions are marked
# done, the detention path and the end of mentoring are recorded, each by
# those whose work it is; every one of them stops at closure and takes the
# default label.
issue_18_types := {"ParticipationChanged", "Transferred", "GoalUpdated", "PlanReviewed", "ConferenceActionCompleted", "MentoringEnded"}

test_issue_18_events_stop_at_closure[type] if {
	some type in issue_18_types
	some name in protocol_writers[type]
	who := fixtures.users[name]
	decide(who, fixtures.closed(fixtures.open_to_all), type).status == 409
}

test_issue_18_events_take_green_unless_told[type] if {
	some type in issue_18_types
	data.protocol.write.classification.by_type[type] == "TLP:GREEN"
}

# A goal's responsible organisation may move it only while the participant's
# consent covers it, as it reads the plan.
test_a_goal_moves_with_consent_only if {
	mentor := fixtures.users["civil-society-mentor"]
	status(mentor, fixtures.open_to_all, "GoalUpdated") == 201
	status(mentor, fixtures.a_case("intervention"), "GoalUpdated") == 404
	status(fixtures.users["intelligence-analyst"], fixtures.open_to_all, "GoalUpdated") == 403
}

# The order rules (a release after its schedule, an outcome after release…)
# depend on the case's history as the writer sees it, which the policy is not
# given: they are the hub's (domain.CheckOrder; docs/protocol.md, "Order
# rules"). The policy alone lets a release be appended to any visible case.
test_the_order_rules_are_not_the_policys if {
	status(fixtures.users["prison-caseworker"], fixtures.a_case("intake"), "Released") == 201
	status(fixtures.users["probation-officer"], fixtures.a_case("intake"), "OutcomeRecorded") == 201
}
