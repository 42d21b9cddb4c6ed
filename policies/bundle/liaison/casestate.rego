# The state of the case that decisions depend on: existence, closure, erasure,
# stage, consent, break-glass grants and who wrote in which section.
package liaison.casestate

import data.liaison.subject

# exists holds when the input names a case (null means no such case).
exists if is_object(input.case)

closed if input.case.closed == true

erased if input.case.erased == true

# consent_holds(org) holds while the participant's consent covers org: org is a
# key of the consent map and its expiry date, if any, is still ahead.
consent_holds(org) if {
	grant := input.case.consent[org]
	not expired(grant)
}

# consent_expired(org) holds when consent for org was given but its date passed.
consent_expired(org) if expired(input.case.consent[org])

expired(grant) if {
	grant.expires_at != ""
	input.today >= grant.expires_at
}

# rank(stage) is the place of stage in the protocol's order (0 for intake).
rank(stage) := i if {
	some i, name in data.protocol.read.stages
	name == stage
}

# stage_reached(stage) holds when the case stands at stage or later.
default stage_reached(_) := false

stage_reached(stage) if rank(input.case.stage) >= rank(stage)

# break_glass_active holds while the caller (this user of this organisation)
# holds an unexpired break-glass grant on the case.
break_glass_active if {
	input.subject.sub != ""
	some grant in input.case.break_glass
	grant.sub == input.subject.sub
	grant.agency == subject.org
	input.now < grant.expires_at
}

# writer(section) holds when the caller's organisation wrote in section.
writer(section) if subject.org in input.case.writers[section]
