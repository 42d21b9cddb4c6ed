package liaison.service_test

import data.liaison.fixtures
import data.liaison.service

# Who may use each service, with which purpose (docs/protocol.md, "Read access"
# and "Statistics": oversight reads the access log and statistics; research
# reads statistics only).
protocol_services := {
	"audit.records": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.checkpoint": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.proofs": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.break-glass": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.summary": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.review": {["oversight-auditor", purpose] | some purpose in purposes_and_none},
	"audit.alerts": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"]},
	"audit.alert-review": {[name, purpose] | some name in ["oversight-auditor", "oversight-dpo"]; some purpose in purposes_and_none},
	"stats": {["oversight-auditor", "oversight"], ["oversight-dpo", "oversight"], ["research-researcher", "research"]},
	"erasure.list": {["oversight-dpo", "oversight"]},
	"erasure.decide": {["oversight-dpo", purpose] | some purpose in purposes_and_none},
}

# purposes_and_none: deciding an erasure request, or marking a break-glass
# use reviewed, reads nothing, so it states no purpose (any is ignored).
purposes_and_none := array.concat(purposes, [""])

purposes := ["case-management", "risk-management", "reintegration", "case-conference", "oversight", "research", "curiosity"]

test_the_data_has_every_service if {
	object.keys(data.protocol.service) == object.keys(protocol_services)
}

test_services[action][name] if {
	some action, allowed in protocol_services
	some name, who in fixtures.users
	every purpose in purposes_and_none {
		got := service.decision with input as fixtures.service_input(who, purpose, action)
		got.status == expected(allowed, name, purpose)
	}
}

expected(allowed, name, purpose) := 200 if [name, purpose] in allowed

else := 403

# Listing cases: every organisation that reads case content, for a purpose of
# its remit; never oversight or research.
test_case_list_and_feed[name] if {
	some name, who in fixtures.users
	every purpose in purposes {
		every action in ["case.list", "feed"] {
			got := service.decision with input as fixtures.service_input(who, purpose, action)
			got.status == list_expected(who, purpose)
		}
	}
}

list_remit := {
	"prison": {"case-management", "risk-management", "reintegration", "case-conference"},
	"probation": {"case-management", "risk-management", "reintegration", "case-conference"},
	"intelligence": {"risk-management", "case-conference"},
	"municipality": {"reintegration", "case-conference"},
	"civil-society": {"reintegration", "case-conference"},
	"family-support": {"reintegration", "case-conference"},
}

list_expected(who, purpose) := 200 if {
	purpose in list_remit[data.protocol.organisations[who.agency]]
} else := 403

test_an_unknown_action_is_refused if {
	got := service.decision with input as fixtures.service_input(fixtures.users["oversight-auditor"], "oversight", "audit.delete")
	got.status == 403
}

test_a_refusal_names_the_caller_and_action if {
	got := service.decision with input as fixtures.service_input(fixtures.users["prison-caseworker"], "case-management", "audit.records")
	got.reasons == {`prison-service with roles ["caseworker"] may not use audit.records for "case-management"`}
}
