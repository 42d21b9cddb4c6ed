# Classification (Traffic Light Protocol 2.0) on top of the read table, and the
# originator's control over it (docs/protocol.md, "Classification (TLP 2.0) and
# originator control").
package liaison.tlp

default granted_org_reads(_, _) := false

default break_glass_reads(_) := false

# unrestricted holds the labels with no further restriction inside the hub.
unrestricted := {"TLP:CLEAR", "TLP:GREEN"}

# granted_org_reads(item, org) holds when org, which the section grants, may
# read an item of another organisation: CLEAR and GREEN always; AMBER when the
# share list is empty or names org; RED only when it names org. AMBER+STRICT and
# any unknown label: never.
granted_org_reads(item, _) if item.classification in unrestricted

granted_org_reads(item, org) if {
	item.classification == "TLP:AMBER"
	shares_with(item, org)
}

granted_org_reads(item, org) if {
	item.classification == "TLP:RED"
	org in item.share_with
}

shares_with(item, _) if count(item.share_with) == 0

shares_with(item, org) if org in item.share_with

# break_glass_reads(item) holds when a break-glass grant opens an item of
# another organisation: AMBER share lists are ignored, AMBER+STRICT and RED never.
break_glass_reads(item) if item.classification in unrestricted

break_glass_reads(item) if item.classification == "TLP:AMBER"

# refusals(item, org) explains why org may not read an item of another
# organisation in a section the table grants it.
refusals(item, org) := {msg |
	some check in ["amber", "strict", "red", "unknown"]
	msg := refusal(check, item, org)
}

refusal("amber", item, org) := sprintf("TLP:AMBER item not shared with %s", [org]) if {
	item.classification == "TLP:AMBER"
	not shares_with(item, org)
}

refusal("strict", item, _) := "TLP:AMBER+STRICT item: its originator only" if item.classification == "TLP:AMBER+STRICT"

refusal("red", item, org) := sprintf("TLP:RED item not shared with %s", [org]) if {
	item.classification == "TLP:RED"
	not org in item.share_with
}

refusal("unknown", item, _) := sprintf("unknown classification %q", [item.classification]) if {
	not item.classification in {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}
}
