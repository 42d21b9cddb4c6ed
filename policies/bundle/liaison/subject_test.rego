package liaison.subject_test

import data.liaison.fixtures
import data.liaison.subject

# The purposes of docs/protocol.md, "Purposes", written out independently of
# the data.
protocol_purposes := {
	"prison": {"case-management", "risk-management", "reintegration", "case-conference"},
	"probation": {"case-management", "risk-management", "reintegration", "case-conference"},
	"intelligence": {"risk-management", "case-conference"},
	"municipality": {"reintegration", "case-conference"},
	"civil-society": {"reintegration", "case-conference"},
	"family-support": {"reintegration", "case-conference"},
	"oversight": {"oversight"},
	"research": {"research"},
}

all_purposes := ["case-management", "risk-management", "reintegration", "case-conference", "oversight", "research"]

test_every_organisation_of_the_directory_has_its_type[org] if {
	some org, org_type in {
		"prison-service": "prison", "probation-service": "probation",
		"intelligence-service": "intelligence", "municipality": "municipality",
		"exit-ngo": "civil-society", "family-support": "family-support",
		"oversight-board": "oversight", "research-institute": "research",
	}
	subject.org_type == org_type with input.subject as fixtures.user("x", org, "any")
}

test_an_unknown_organisation_has_no_type if {
	not subject.org_type with input.subject as fixtures.user("x", "rogue-agency", "caseworker")
}

test_an_empty_agency_is_no_organisation if {
	not subject.org with input.subject as fixtures.user("x", "", "caseworker")
}

test_purposes[org_type][purpose] if {
	some org_type, reader in fixtures.by_type
	some purpose in all_purposes
	allowed := purpose in protocol_purposes[org_type]
	got := subject.purpose_allowed with input as {"subject": reader.subject, "purpose": purpose}
	got == allowed
}

test_purposes_cover_every_type_and_no_more if {
	{t | some t, _ in data.protocol.read.purposes} == {t | some t, _ in protocol_purposes}
}

test_an_unknown_purpose_is_refused[org_type] if {
	some org_type, reader in fixtures.by_type
	not subject.purpose_allowed with input as {"subject": reader.subject, "purpose": "curiosity"}
}

test_a_missing_purpose_is_refused if {
	not subject.purpose_allowed with input as {"subject": fixtures.users["prison-caseworker"]}
}

test_roles_are_matched_exactly if {
	subject.holds_one_of(["manager", "caseworker"]) with input.subject as fixtures.users["prison-caseworker"]
	not subject.holds_one_of(["manager"]) with input.subject as fixtures.users["prison-caseworker"]
	not subject.holds_one_of([]) with input.subject as fixtures.users["prison-caseworker"]
}
