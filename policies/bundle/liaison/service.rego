# Service decisions: the access log and statistics, which are not case content
# (docs/protocol.md, "Read access" and "Statistics": oversight reads the access
# log and the statistics; research reads the statistics only). An auditor
# reviews the uses of break-glass (audit.review; docs/api.md, "Break-glass
# review"); auditors and DPOs list, acknowledge and close the alerts of the privacy
# monitor (audit.alerts, audit.alert-review; docs/monitoring.md).
package liaison.service

import data.liaison.subject

# decision answers input.action (audit.records, audit.checkpoint, audit.proofs,
# audit.break-glass, audit.review, audit.summary, audit.alerts,
# audit.alert-review, stats, case.list, feed,
# erasure.list, erasure.decide) for the caller and purpose: {status: 200|403, reasons}.
decision := {"status": status, "reasons": reasons}

status := 200 if allowed

else := 403

# allowed holds when an entry for the action names the caller's organisation
# type, one of its roles (or no roles) and the stated purpose.
allowed if {
	some entry in data.protocol.service[input.action]
	entry.org_type == subject.org_type
	roles_condition(entry)
	purpose_condition(entry)
}

# purpose_condition: an entry without purposes is an action that reads
# nothing (deciding an erasure request, marking a break-glass use reviewed),
# for which no purpose is stated.
purpose_condition(entry) if not entry.purposes

purpose_condition(entry) if input.purpose in entry.purposes

# case.list and feed: listing cases, and following what becomes readable, is
# for organisations that read cases at all (the profile cell is not "none"),
# with a purpose of their remit (docs/protocol.md, "Purposes"). Which cases
# and items they get is read.case_decision's and read.item_decision's answer.
allowed if {
	input.action in {"case.list", "feed"}
	data.protocol.read.table.profile[subject.org_type] != "none"
	subject.purpose_allowed
}

roles_condition(entry) if not entry.roles

roles_condition(entry) if subject.holds_one_of(entry.roles)

reasons contains msg if {
	allowed
	msg := sprintf("%s may use %s for %s", [subject.org_type, input.action, input.purpose])
}

reasons contains msg if {
	not allowed
	msg := sprintf("%s with roles %v may not use %s for %q", [input.subject.agency, input.subject.roles, input.action, input.purpose])
}
