# Who is asking: the caller's organisation, its type in the directory, its roles
# and the purpose it states.
package liaison.subject

# org is the caller's organisation id (the token's agency claim).
org := input.subject.agency if input.subject.agency != ""

# org_type is the type of the caller's organisation in the directory; undefined
# for an organisation the directory does not know, which then reaches nothing.
org_type := data.protocol.organisations[org]

# holds_one_of(roles) holds when the caller has at least one of roles.
holds_one_of(roles) if {
	some role in input.subject.roles
	role in roles
}

# purpose_allowed holds when the stated purpose is one the caller's organisation
# type may read for (docs/protocol.md, "Purposes"); an unknown purpose is never
# allowed.
default purpose_allowed := false

purpose_allowed if input.purpose in data.protocol.read.purposes[org_type]
