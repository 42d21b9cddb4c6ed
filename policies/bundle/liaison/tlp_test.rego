package liaison.tlp_test

import data.liaison.fixtures
import data.liaison.tlp

note(label, share_with) := fixtures.item("IntelligenceNoteAdded", "intelligence-service", label, share_with)

# Each row: label, share list, whether prison-service (granted the section)
# reads it, whether a break-glass grant opens it.
rows := {
	"clear": ["TLP:CLEAR", ["exit-ngo"], true, true],
	"green": ["TLP:GREEN", ["exit-ngo"], true, true],
	"amber to all granted": ["TLP:AMBER", [], true, true],
	"amber to the reader": ["TLP:AMBER", ["prison-service"], true, true],
	"amber to others": ["TLP:AMBER", ["exit-ngo"], false, true],
	"amber+strict": ["TLP:AMBER+STRICT", ["prison-service"], false, false],
	"red to the reader": ["TLP:RED", ["prison-service"], true, false],
	"red to others": ["TLP:RED", ["exit-ngo"], false, false],
	"red to nobody": ["TLP:RED", [], false, false],
	"no label": ["", [], false, false],
}

test_labels[name] if {
	some name, row in rows
	it := note(row[0], row[1])
	reads := tlp.granted_org_reads(it, "prison-service")
	reads == row[2]
	opens := tlp.break_glass_reads(it)
	opens == row[3]
}

test_refusals_explain_every_hidden_label[name] if {
	some name, row in rows
	it := note(row[0], row[1])
	hidden := row[2] == false
	explained := count(tlp.refusals(it, "prison-service")) > 0
	hidden == explained
}
