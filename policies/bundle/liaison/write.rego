# Write decisions: may the caller append an event of input.event.type to
# input.case (null for a new case), and with which effective classification and
# share list (docs/protocol.md, "Write access", "Classification (TLP 2.0) and
# originator control", "Break-glass").
package liaison.write

import data.liaison.access
import data.liaison.casestate
import data.liaison.subject

# decision: {status, classification, share_with, errors, reasons}, plus
# break_glass_minutes for BreakGlassInvoked and erasure_days for
# ErasureRequested.
decision := object.union_n([
	{
		"status": status,
		"classification": classification,
		"share_with": share_with,
		"errors": errors,
		"reasons": reasons,
	},
	break_glass_part,
	erasure_part,
])

# rule is the write table's row for the event type; undefined for a type the
# table does not know, which nobody may then append.
rule := data.protocol.write.events[input.event.type]

# requirement is what the event needs of the case: "new" (no case yet),
# "existing" (any case, visible or not, to those in the row's remit: the
# erasure's events, which the oversight body appends without reading the
# case), or "visible" (a case whose profile the caller can read), the default.
default requirement := "visible"

requirement := rule.case

# status, in this order when several apply: 410, 404, 403, 400, 409, else 201.
status := 410 if gone

else := 404 if not_found

else := 403 if refused

else := 400 if count(errors) > 0

else := 409 if conflict

else := 201

# A caller that cannot see the case is answered exactly as for an unknown id
# (docs/protocol.md, "Case visibility" and "Erasure (four eyes)"): 404, even
# for the erasure's events when it is not in their remit.
not_found if {
	requirement == "visible"
	not access.profile_visible
}

not_found if {
	requirement == "existing"
	not casestate.exists
}

not_found if {
	requirement == "existing"
	not in_remit
	not access.profile_visible
}

# gone: an erased case takes nothing; it says so to the organisations that
# could see it (as reads do) and, for the erasure's events, to those in their
# remit.
gone if access.erased_for_caller

gone if {
	requirement == "existing"
	casestate.erased
	in_remit
}

# refused: 403, the caller sees the case (or may act on it unseen) but may
# not append this: not in the row's remit, or the four-eyes rule.
refused if not in_remit

refused if own_request

# in_remit holds when an entry of the row names the caller's organisation
# type, one of its roles (or no roles), and, for "with consent", consent holds.
in_remit if {
	some entry in rule.remit
	entry.org_type == subject.org_type
	roles_condition(entry)
	consent_condition(entry)
}

roles_condition(entry) if not entry.roles

roles_condition(entry) if subject.holds_one_of(entry.roles)

consent_condition(entry) if not entry.consent

consent_condition(entry) if {
	entry.consent == true
	casestate.consent_holds(subject.org)
}

conflict if {
	requirement == "new"
	casestate.exists
}

conflict if {
	casestate.closed
	not rule.after_close
}

# Four-eyes erasure (docs/protocol.md, "Erasure (four eyes)"): one officer
# requests, naming a legal basis; a different officer confirms (CaseErased)
# within data.protocol.erasure.confirm_within_days, or either cancels. The hub
# gives the pending request as input.case.erasure ({id, agency, sub,
# expires_at}, absent when none) and the request acted on as
# input.event.request_id.
erasure_pending if input.now < input.case.erasure.expires_at

conflict if {
	input.event.type == "ErasureRequested"
	erasure_pending
}

conflict if {
	input.event.type in decides_request
	not acts_on_pending_request
}

decides_request := {"CaseErased", "ErasureCancelled"}

acts_on_pending_request if {
	erasure_pending
	input.case.erasure.id == input.event.request_id
}

# own_request holds when the caller confirms its own request: the requester
# may cancel it, never confirm it.
own_request if {
	input.event.type == "CaseErased"
	input.case.erasure.id == input.event.request_id
	input.case.erasure.agency == subject.org
	input.case.erasure.sub == input.subject.sub
}

errors := [error |
	some error in (justification_errors | label_errors)
]

# label_errors: a row may fix the labels its events take ("labels") and refuse
# share lists ("share_list": false): CaseClosed stops every writer, so no
# writer may be kept from reading it.
label_errors contains error if {
	input.event.classification != ""
	allowed := rule.labels
	not input.event.classification in allowed
	error := {"field": "classification", "message": sprintf("%s takes only %s", [input.event.type, concat(" or ", allowed)])}
}

label_errors contains error if {
	rule.share_list == false
	count(input.event.share_with) > 0
	error := {"field": "share_with", "message": sprintf("%s is shared with every reader of the case: give no share list", [input.event.type])}
}

justification_errors contains error if {
	input.event.type == "BreakGlassInvoked"
	count(trim_space(justification)) < data.protocol.break_glass.min_justification
	error := {
		"field": "justification",
		"message": sprintf("must state at least %d characters", [data.protocol.break_glass.min_justification]),
	}
}

# justification is the stated reason for break-glass; anything but a string
# counts as none.
justification := input.event.justification if is_string(input.event.justification)

else := ""

# classification is the label the writer gave, or the event type's default.
classification := input.event.classification if input.event.classification != ""

else := object.get(data.protocol.write.classification.by_type, input.event.type, data.protocol.write.classification.default)

# share_with is the list the writer gave, or, when the writer gave neither a
# label nor a list, the event type's default audience (every organisation of
# the listed types in the directory), or none. A default never widens a label
# the writer chose: TLP:RED with no names stays with the originator.
share_with := input.event.share_with if count(input.event.share_with) > 0

else := default_audience if input.event.classification == ""

else := []

default_audience := sort([org |
	some org, org_type in data.protocol.organisations
	org_type in object.get(data.protocol.write.default_audience, input.event.type, [])
])

default break_glass_part := {}

break_glass_part := {"break_glass_minutes": data.protocol.break_glass.minutes} if input.event.type == "BreakGlassInvoked"

default erasure_part := {}

erasure_part := {"erasure_days": data.protocol.erasure.confirm_within_days} if input.event.type == "ErasureRequested"

reasons contains msg if {
	not rule
	msg := sprintf("%s is not in the write table", [input.event.type])
}

reasons contains msg if {
	not_found
	msg := "the case does not exist for the caller"
}

reasons contains msg if {
	requirement == "visible"
	not_found
	casestate.exists
	some msg in access.refusals("profile")
}

reasons contains "the case content was erased" if gone

reasons contains msg if {
	some error in errors
	msg := sprintf("%s %s", [error.field, error.message])
}

reasons contains msg if {
	rule
	not in_remit
	msg := sprintf("%s with roles %v may not append %s", [input.subject.agency, input.subject.roles, input.event.type])
}

reasons contains msg if {
	rule
	not in_remit
	some entry in rule.remit
	entry.org_type == subject.org_type
	roles_condition(entry)
	not consent_condition(entry)
	msg := sprintf("%s appends %s only with the participant's consent", [subject.org, input.event.type])
}

reasons contains "an erasure request is already pending" if {
	input.event.type == "ErasureRequested"
	erasure_pending
}

reasons contains msg if {
	input.event.type in decides_request
	not acts_on_pending_request
	msg := erasure_refusal
}

erasure_refusal := "the erasure request expired unconfirmed" if {
	input.case.erasure.id == input.event.request_id
	not erasure_pending
} else := "the erasure request is no longer pending"

reasons contains "four eyes: the officer who requested an erasure cannot confirm it" if own_request

reasons contains "a case is already open under this id" if {
	requirement == "new"
	casestate.exists
}

reasons contains msg if {
	casestate.closed
	not rule.after_close
	msg := sprintf("the case is closed: %s cannot follow", [input.event.type])
}

reasons contains msg if {
	status == 201
	msg := sprintf("%s may append %s", [subject.org, input.event.type])
}

# writable answers what the caller may append to input.case now: status 200,
# or the 404 or 410 a write would get (the case unseen or erased: then
# nothing else, so that the answer says no more than a refused write); the
# options of the events endpoint; and whether it may break the glass. The
# console builds its forms and offers break-glass from it. Input: {subject,
# now, today, case}.
writable := {"status": 410} if {
	access.erased_for_caller
} else := {"status": 404} if {
	not access.profile_visible
} else := {"status": 200, "options": options, "break_glass": may_break_glass}

# options: for each event type of the write table the caller may append now
# through the events endpoint (status 201), the labels it may give (those its
# row allows), the label and share list it gets when it gives neither, and
# whether it may give a share list. The events with endpoints of their own
# fall out: CaseOpened and the erasure's events do not take a case the caller
# sees, break-glass takes a justification.
options := {t: opt |
	some t, row in data.protocol.write.events
	requirement_of(row) == "visible"
	probe := {"type": t, "classification": "", "share_with": [], "justification": "", "request_id": ""}
	status == 201 with input.event as probe
	label := classification with input.event as probe
	audience := share_with with input.event as probe
	opt := {
		"labels": [l |
			some l in all_labels
			not label_refused(row, l)
		],
		"classification": label,
		"share_with": audience,
		"share_list": object.get(row, "share_list", true),
	}
}

all_labels := ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]

requirement_of(row) := object.get(row, "case", "visible")

label_refused(row, label) if {
	row.labels
	not label in row.labels
}

# may_break_glass: break-glass would be granted on a justification long
# enough (its remit, the case's state).
default may_break_glass := false

may_break_glass if {
	probe := {
		"type": "BreakGlassInvoked", "classification": "", "share_with": [], "request_id": "",
		"justification": concat("", ["x" | some _ in numbers.range(0, data.protocol.break_glass.min_justification)]),
	}
	status == 201 with input.event as probe
}
