# Test helpers shared by the policy's tests: identities, cases and inputs are
# built here, so that each test states only what it varies.
package liaison.fixtures

now := "2026-11-26T20:46:09Z"

today := "2026-11-26"

# in_an_hour is when a break-glass grant made now runs out.
in_an_hour := "2026-11-26T21:46:09Z"

an_hour_ago := "2026-11-26T19:46:09Z"

tomorrow := "2026-11-27"

# users holds one identity per role of the demo directory (docs/protocol.md,
# "Organisations and roles").
users := {
	"prison-caseworker": user("pc-anna", "prison-service", "caseworker"),
	"prison-psychologist": user("pp-ben", "prison-service", "psychologist"),
	"prison-security-officer": user("ps-carl", "prison-service", "security-officer"),
	"prison-manager": user("pm-dora", "prison-service", "manager"),
	"probation-officer": user("po-emil", "probation-service", "officer"),
	"intelligence-analyst": user("ia-fay", "intelligence-service", "analyst"),
	"municipality-coordinator": user("mc-gus", "municipality", "coordinator"),
	"civil-society-mentor": user("ng-hana", "exit-ngo", "mentor"),
	"family-support-counsellor": user("fs-ivo", "family-support", "counsellor"),
	"oversight-auditor": user("au-jon", "oversight-board", "auditor"),
	"oversight-dpo": user("dp-kim", "oversight-board", "dpo"),
	"research-researcher": user("rs-lea", "research-institute", "researcher"),
}

user(sub, agency, role) := {"sub": sub, "agency": agency, "roles": [role]}

# by_type holds, for each organisation type, a reader and a purpose it may use.
by_type := {
	"prison": {"subject": users["prison-caseworker"], "purpose": "case-management"},
	"probation": {"subject": users["probation-officer"], "purpose": "case-management"},
	"intelligence": {"subject": users["intelligence-analyst"], "purpose": "risk-management"},
	"municipality": {"subject": users["municipality-coordinator"], "purpose": "reintegration"},
	"civil-society": {"subject": users["civil-society-mentor"], "purpose": "reintegration"},
	"family-support": {"subject": users["family-support-counsellor"], "purpose": "reintegration"},
	"oversight": {"subject": users["oversight-auditor"], "purpose": "oversight"},
	"research": {"subject": users["research-researcher"], "purpose": "research"},
}

# consenting lists the organisations that need consent to read.
consenting := ["municipality", "exit-ngo", "family-support"]

# a_case(stage) is an open case at stage, with no consent, grants or writers.
a_case(stage) := {
	"stage": stage,
	"closed": false,
	"erased": false,
	"consent": {},
	"break_glass": [],
	"writers": {},
}

# consented(c, orgs) adds consent without expiry for orgs.
consented(c, orgs) := object.union(c, {"consent": object.union(c.consent, {org: {} | some org in orgs})})

# consented_until(c, org, date) adds consent for org that expires on date.
consented_until(c, org, date) := object.union(c, {"consent": object.union(c.consent, {org: {"expires_at": date}})})

# written(c, section, orgs) records that orgs wrote in section.
written(c, section, orgs) := object.union(c, {"writers": object.union(c.writers, {section: orgs})})

# granted(c, who, until) adds a break-glass grant for the identity who.
granted(c, who, until) := object.union(c, {"break_glass": array.concat(c.break_glass, [{"sub": who.sub, "agency": who.agency, "expires_at": until}])})

closed(c) := object.union(c, {"stage": "closed", "closed": true})

# erased(c) is c after a CaseErased recorded before the hub kept who could
# see the case (no erased_for): consent, grants and writers are gone.
erased(c) := object.union(object.remove(c, ["consent", "break_glass", "writers"]), {"erased": true, "consent": {}, "break_glass": [], "writers": {}})

# erased_for(c, orgs) is c after a CaseErased that recorded orgs as the
# organisations that could see it.
erased_for(c, orgs) := object.union(erased(c), {"erased_for": orgs})

# requested(c, id, who, until) adds a pending erasure request by who.
requested(c, id, who, until) := object.union(c, {"erasure": {"id": id, "agency": who.agency, "sub": who.sub, "expires_at": until}})

# another_dpo is a second data-protection officer (four eyes).
another_dpo := user("dp-lou", "oversight-board", "dpo")

# mandated lists the types that read under their legal mandate, and case_readers
# every type that reads case content at all.
mandated := ["prison", "probation", "intelligence"]

case_readers := ["prison", "probation", "intelligence", "municipality", "civil-society", "family-support"]

# open_to_all is a case at intake that every consenting organisation may read.
open_to_all := consented(a_case("intake"), consenting)

# read_input(who, purpose, c) is the input of a case decision.
read_input(who, purpose, c) := {
	"subject": who,
	"purpose": purpose,
	"now": now,
	"today": today,
	"case": c,
}

# section_input(who, purpose, c, section) is the input of a section decision.
section_input(who, purpose, c, section) := object.union(read_input(who, purpose, c), {"section": section})

# reader_input(org_type, c, section) is a section input for the type's reader.
reader_input(org_type, c, section) := section_input(by_type[org_type].subject, by_type[org_type].purpose, c, section)

# item(type, originator, classification, share_with) is an item as stored.
item(type, originator, classification, share_with) := {
	"type": type,
	"originator": originator,
	"classification": classification,
	"share_with": share_with,
}

# item_input(who, purpose, c, section, it) is the input of an item decision.
item_input(who, purpose, c, section, it) := object.union(section_input(who, purpose, c, section), {"item": it})

# write_input(who, c, type) is the input of a write decision with no label,
# no share list and a sufficient justification.
write_input(who, c, type) := {
	"subject": who,
	"now": now,
	"today": today,
	"case": c,
	"event": event(type, "", []),
}

event(type, classification, share_with) := {
	"type": type,
	"classification": classification,
	"share_with": share_with,
	"justification": "imminent threat reported by prison security",
	"request_id": "req-1",
}

# with_event(request, fields) changes fields of the event of a write input.
with_event(request, fields) := object.union(request, {"event": object.union(request.event, fields)})

# service_input(who, purpose, action) is the input of a service decision.
service_input(who, purpose, action) := {"subject": who, "purpose": purpose, "action": action}
