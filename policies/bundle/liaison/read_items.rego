# Item decisions: which items of an open section the caller sees, which of
# their data fields, and whether it may see their author. Asked only after
# section_decision answered 200.
package liaison.read

import data.liaison.access
import data.liaison.subject
import data.liaison.tlp

# item_decision answers for input.item in input.section:
# {visible, fields, author, break_glass, reasons}.
item_decision := {
	"visible": item_visible,
	"fields": item_fields,
	"author": item_author,
	"break_glass": item_break_glass,
	"reasons": item_reasons,
}

# item_mode is how the caller reads the section; undefined when it is closed.
item_mode := access.mode(input.section) if section_status(input.section) == 200

# own_item holds when the caller's organisation wrote the item: it then reads
# it whatever its classification, while the section is open to it.
own_item if input.item.originator == subject.org

seen_as_owner if {
	item_mode
	own_item
}

seen_by_table if {
	item_mode == "table"
	not own_item
	tlp.granted_org_reads(input.item, subject.org)
}

seen_by_break_glass if {
	item_mode
	not own_item
	access.break_glass_opens(input.section)
	tlp.break_glass_reads(input.item)
}

default item_visible := false

item_visible if seen_as_owner

item_visible if seen_by_table

item_visible if seen_by_break_glass

# item_break_glass holds when the caller's break-glass grant is what makes the
# item visible.
default item_break_glass := false

item_break_glass if {
	seen_by_break_glass
	not seen_by_table
}

# summarised holds when the caller sees only the summary fields of others' items
# (the "sum" cell: risk for civil society). The author is then withheld too.
summarised if {
	not own_item
	access.summary(input.section)
}

# allow_list is the item type's data fields that a reader may be shown; a field
# not listed in data.protocol.fields is withheld from everyone.
allow_list := object.get(data.protocol.fields, input.item.type, [])

summary_list := object.get(data.protocol.read.summary_fields, input.item.type, [])

item_fields := [] if not item_visible

else := [field | some field in allow_list; field in summary_list] if summarised

else := allow_list

default item_author := false

item_author if {
	item_visible
	not summarised
}

item_reasons contains msg if {
	not item_mode
	msg := sprintf("section %s is not open to the caller", [input.section])
}

item_reasons contains "item written by the caller's organisation" if seen_as_owner

item_reasons contains msg if {
	seen_by_table
	msg := sprintf("%s item readable by %s", [input.item.classification, subject.org])
}

item_reasons contains "item opened by the caller's break-glass grant" if item_break_glass

item_reasons contains msg if {
	item_mode == "own"
	not own_item
	msg := sprintf("section %s: only items written by %s", [input.section, subject.org])
}

item_reasons contains msg if {
	item_mode == "table"
	not item_visible
	some msg in tlp.refusals(input.item, subject.org)
}

item_reasons contains msg if {
	item_mode == "break-glass"
	not item_visible
	msg := sprintf("break-glass never opens %s items of others", [input.item.classification])
}

item_reasons contains "summary fields only; the author is withheld" if {
	item_visible
	summarised
}
