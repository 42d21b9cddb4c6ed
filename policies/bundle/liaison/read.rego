# Read decisions: may the caller see a case, a section of it, an item in it.
# The Go side queries case_decision, section_decision and item_decision; the
# item rules (classification, redaction) are in read_items.rego.
package liaison.read

import data.liaison.access
import data.liaison.casestate
import data.liaison.subject

# case_decision answers GET of a case: {status, sections, break_glass, reasons}.
case_decision := {
	"status": case_status,
	"sections": readable_sections,
	"break_glass": case_break_glass,
	"reasons": case_reasons,
}

# section_decision answers GET of input.section: {status, break_glass, reasons}.
# For section_decision and item_decision the hub sends only the facts of the
# case that concern the section asked and the caller: input.case.writers of
# input.section, input.case.consent of the caller's organisation and the
# caller's own grants in input.case.break_glass, so that their cached answers
# are shared by every case alike in those facts: a rule of these two decisions
# must not read the writers of another section, the consent of another
# organisation or the grants of another user.
section_decision := {
	"status": section_status(input.section),
	"break_glass": section_break_glass,
	"reasons": section_reasons,
}

# case_status answers for the case as a whole, in this order: 410 when its
# content was erased and the caller's organisation could see it then, 404 when
# the case does not exist for the caller (erased and not seen by it before; no
# profile by the table and consent, no active break-glass grant: oversight and
# research never see a case), 403 when the stated purpose is not the caller's,
# else 200.
case_status := 410 if access.erased_for_caller

else := 404 if not access.profile_visible

else := 403 if not subject.purpose_allowed

else := 200

# section_status(section) is the case status when that is not 200; else 200 when
# the section is open to the caller in some mode, else 403.
section_status(section) := case_status if case_status != 200

else := 200 if access.mode(section)

else := 403

# readable_sections lists, in protocol order, the sections answering 200.
readable_sections := [section |
	some section in data.protocol.read.sections
	section_status(section) == 200
]

default case_break_glass := false

case_break_glass if {
	some section in readable_sections
	access.mode(section) == "break-glass"
}

default section_break_glass := false

section_break_glass if {
	section_status(input.section) == 200
	access.mode(input.section) == "break-glass"
}

# audience lists the organisations that can see the case now: those whose
# profile cell grants it the profile (with its consent and stage conditions,
# for the roles the cell names), and those of users holding an active
# break-glass grant. The hub records it with an erasure (input.case.erased_for)
# so that only they are told the case was erased.
audience contains org if {
	some org, org_type in data.protocol.organisations
	roles := object.get(data.protocol.read.cell_roles, ["profile", org_type], [])
	access.grants("profile") with input.subject as {"sub": "", "agency": org, "roles": roles}
}

audience contains grant.agency if {
	some grant in input.case.break_glass
	input.now < grant.expires_at
}

case_reasons contains msg if {
	case_status == 404
	msg := "the case does not exist for the caller"
}

case_reasons contains msg if {
	case_status == 404
	some msg in access.refusals("profile")
}

case_reasons contains "the case content was erased" if case_status == 410

case_reasons contains msg if {
	case_status == 403
	msg := sprintf("purpose %q is not allowed for organisation type %s", [input.purpose, subject.org_type])
}

case_reasons contains msg if {
	case_status == 200
	msg := sprintf("purpose %s allowed for organisation type %s", [input.purpose, subject.org_type])
}

case_reasons contains msg if {
	case_status == 200
	access.mode("profile") == "break-glass"
	msg := "the case is visible under the caller's break-glass grant"
}

section_reasons contains msg if {
	case_status != 200
	some msg in case_reasons
}

section_reasons contains msg if {
	case_status == 200
	section_status(input.section) == 403
	some msg in access.refusals(input.section)
}

section_reasons contains msg if {
	case_status == 200
	not input.section in data.protocol.read.sections
	msg := sprintf("no section %q", [input.section])
}

section_reasons contains msg if {
	case_status == 200
	section_status(input.section) == 403
	casestate.break_glass_active
	input.section in data.protocol.break_glass.excluded_sections
	msg := sprintf("break-glass never opens section %s", [input.section])
}

section_reasons contains msg if {
	case_status == 200
	access.mode(input.section) == "table"
	msg := sprintf("section %s granted to organisation type %s", [input.section, subject.org_type])
}

section_reasons contains msg if {
	case_status == 200
	access.mode(input.section) == "break-glass"
	msg := sprintf("section %s opened by the break-glass grant of %s", [input.section, input.subject.sub])
}

section_reasons contains msg if {
	case_status == 200
	access.mode(input.section) == "own"
	msg := sprintf("section %s: only items written by %s", [input.section, subject.org])
}

section_reasons contains msg if {
	case_status == 200
	access.summary(input.section)
	msg := sprintf("section %s: summary fields only", [input.section])
}
