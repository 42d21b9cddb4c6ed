# Access to the sections of a case by the read table (docs/protocol.md, "Read
# access"), consent, stage, roles, the originator's own items and break-glass.
# Purpose and classification are decided elsewhere.
package liaison.access

import data.liaison.casestate
import data.liaison.subject

# cell(section) names the kind of the table cell for the caller's organisation
# type (full, consent-gated, summary, ...); "none" when the table has no cell.
default cell(_) := "none"

cell(section) := data.protocol.read.table[section][subject.org_type]

# kind(section) is the meaning of that cell: what it grants and on which
# conditions (data.protocol.read.cell_kinds).
kind(section) := data.protocol.read.cell_kinds[cell(section)]

# grants(section) holds when the table grants the section to the caller now:
# the cell grants it and its consent, stage and role conditions hold.
grants(section) if {
	k := kind(section)
	k.grants == true
	consent_condition(k)
	stage_condition(k)
	role_condition(section, k)
}

consent_condition(k) if not k.consent

consent_condition(k) if {
	k.consent == true
	casestate.consent_holds(subject.org)
}

stage_condition(k) if not k.from_stage

stage_condition(k) if casestate.stage_reached(k.from_stage)

role_condition(_, k) if not k.roles

role_condition(section, k) if {
	k.roles == true
	subject.holds_one_of(data.protocol.read.cell_roles[section][subject.org_type])
}

# summary(section) holds when the caller's cell shows summary fields only.
summary(section) if kind(section).summary == true

# own_cell(section) holds when the cell always opens the section, with only the
# caller's own items.
own_cell(section) if kind(section).own == true

# break_glass_opens(section) holds when an active break-glass grant of the
# caller opens the section (every section but the excluded ones).
break_glass_opens(section) if {
	casestate.break_glass_active
	section in data.protocol.read.sections
	not section in data.protocol.break_glass.excluded_sections
	reads_case_content
}

# reads_case_content holds when the table gives the caller's organisation type
# some section in some way; oversight and research read no case content, not
# even under a break-glass grant.
reads_case_content if {
	some row in data.protocol.read.table
	row[subject.org_type] != "none"
}

# mode(section) says how the caller reads an open section: "table" (what the
# table grants), "break-glass" (opened by the caller's grant alone) or "own"
# (only its own items: an own cell, or a section its organisation wrote in
# though the table does not grant it now). Undefined when the section is closed.
mode(section) := "table" if grants(section)

else := "break-glass" if break_glass_opens(section)

else := "own" if own_cell(section)

else := "own" if {
	casestate.writer(section)
	not role_refused(section)
}

# role_refused(section) holds when the caller's cell grants the section to
# some roles only and the caller holds none of them. Reading back its own
# organisation's items never widens that restriction (docs/protocol.md,
# "Role-restricted cells and reading back"): only the named roles of the
# originating organisation read its items there.
role_refused(section) if {
	k := kind(section)
	k.roles == true
	not role_condition(section, k)
}

# reads_content holds when the caller's organisation type reads case content
# at all (its profile cell is not "none": not oversight, not research).
reads_content if data.protocol.read.table.profile[subject.org_type] != "none"

# erased_for_caller holds when the case was erased and the caller's
# organisation could see it at that moment: it is told the case is gone (410);
# everyone else is told it does not exist (404), as for an unknown id. The hub
# records who could see the case with the erasure (input.case.erased_for, see
# audience in read.rego). An erasure recorded before the hub kept that list
# has none (null or absent): every organisation type that reads case content is then
# told.
erased_for_caller if {
	casestate.exists
	casestate.erased
	subject.org in input.case.erased_for
}

erased_for_caller if {
	casestate.exists
	casestate.erased
	not is_array(object.get(input.case, "erased_for", null))
	reads_content
}

# profile_visible holds when the case exists for the caller: it was not erased,
# and the table grants the caller the profile, or the caller holds an active
# break-glass grant that opens the profile.
profile_visible if {
	casestate.exists
	not casestate.erased
	grants("profile")
}

profile_visible if {
	casestate.exists
	not casestate.erased
	break_glass_opens("profile")
}

# refusals(section) explains why the table does not grant the section now.
refusals(section) := {msg |
	some check in ["directory", "table", "consent", "expiry", "stage", "role"]
	msg := refusal(check, section)
}

refusal("directory", _) := sprintf("organisation %q is not in the directory", [input.subject.agency]) if not subject.org_type

refusal("table", section) := sprintf("section %s is not granted to organisation type %s", [section, subject.org_type]) if not kind(section).grants

refusal("consent", section) := sprintf("section %s needs the participant's consent for %s", [section, subject.org]) if {
	kind(section).consent == true
	not casestate.consent_holds(subject.org)
	not casestate.consent_expired(subject.org)
}

refusal("expiry", section) := sprintf("consent for %s expired on %s", [subject.org, input.case.consent[subject.org].expires_at]) if {
	kind(section).consent == true
	casestate.consent_expired(subject.org)
}

refusal("stage", section) := sprintf("section %s opens to %s from stage %s on", [section, subject.org_type, stage]) if {
	stage := kind(section).from_stage
	not casestate.stage_reached(stage)
}

refusal("role", section) := sprintf("section %s needs one of the roles %v", [section, roles]) if {
	k := kind(section)
	k.roles == true
	not role_condition(section, k)
	roles := object.get(data.protocol.read.cell_roles, [section, subject.org_type], [])
}
