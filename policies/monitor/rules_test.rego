package monitor.rules_test

import data.monitor.rules

# A Wednesday, 2026-03-04, 10:00 in Paris (09:00 UTC), and 02:00 (01:00 UTC).
day_ns := time.parse_rfc3339_ns("2026-03-04T09:00:00Z")

night_ns := time.parse_rfc3339_ns("2026-03-04T01:00:00Z")

# A Saturday, 10:00 in Paris.
saturday_ns := time.parse_rfc3339_ns("2026-03-07T09:00:00Z")

quiet := {
	"reads_hour": 1, "user_usual": 0, "user_hours": 0, "role_usual": 0,
	"distinct_cases_10m": 1, "break_glass_24h": 0, "denied_before_s": -1,
	"not_found_hour": 0, "unrelated_reads_hour": 0, "related": true,
}

read_record(org_type) := {
	"index": 7, "time_ns": day_ns, "sub": "u1", "issuer": "idp", "agency": "a",
	"org_type": org_type, "role": "r", "action": "section.read", "case_id": "c1",
	"decision": "allow", "status": 200, "break_glass": false, "read": true,
}

grant_record := object.union(read_record("prison"), {"action": "break-glass", "break_glass": true, "read": false, "status": 201})

not_found_record := object.union(read_record("civil-society"), {"decision": "deny", "status": 404, "read": false})

# fired_rules are the rules that fire on one event.
fired_rules(record, history) := {a.rule | some a in rules.alerts with input as {"events": [{"record": record, "history": object.union(quiet, history)}]}}

test_quiet_reading_fires_nothing if {
	fired_rules(read_record("probation"), {}) == set()
}

test_volume_fires_far_above_usual if {
	"volume" in fired_rules(read_record("probation"), {"reads_hour": 80, "user_usual": 5, "role_usual": 8})
}

test_volume_not_below_minimum if {
	not "volume" in fired_rules(read_record("probation"), {"reads_hour": 59})
}

test_volume_not_for_a_usually_busy_user if {
	not "volume" in fired_rules(read_record("probation"), {"reads_hour": 100, "user_usual": 40, "role_usual": 5})
}

test_volume_not_for_a_busy_role if {
	not "volume" in fired_rules(read_record("probation"), {"reads_hour": 100, "user_usual": 0, "role_usual": 30})
}

test_volume_disabled_for_oversight if {
	not "volume" in fired_rules(read_record("oversight"), {"reads_hour": 500})
}

test_breadth_fires if {
	"breadth" in fired_rules(read_record("probation"), {"distinct_cases_10m": 30})
}

test_breadth_not_below_threshold if {
	not "breadth" in fired_rules(read_record("probation"), {"distinct_cases_10m": 29})
}

test_breadth_threshold_per_org_type if {
	"breadth" in fired_rules(read_record("intelligence"), {"distinct_cases_10m": 25})
	"breadth" in fired_rules(read_record("civil-society"), {"distinct_cases_10m": 15})
	not "breadth" in fired_rules(read_record("probation"), {"distinct_cases_10m": 25})
}

test_off_hours_fires_at_night if {
	"off_hours" in fired_rules(object.union(read_record("intelligence"), {"time_ns": night_ns}), {"reads_hour": 10})
}

test_off_hours_fires_at_the_weekend if {
	"off_hours" in fired_rules(object.union(read_record("probation"), {"time_ns": saturday_ns}), {"reads_hour": 10})
}

test_off_hours_not_in_working_hours if {
	not "off_hours" in fired_rules(read_record("intelligence"), {"reads_hour": 50})
}

test_off_hours_not_for_a_few_reads if {
	not "off_hours" in fired_rules(object.union(read_record("intelligence"), {"time_ns": night_ns}), {"reads_hour": 9})
}

test_off_hours_prison_works_every_day if {
	not "off_hours" in fired_rules(object.union(read_record("prison"), {"time_ns": saturday_ns}), {"reads_hour": 10})
	"off_hours" in fired_rules(object.union(read_record("prison"), {"time_ns": night_ns}), {"reads_hour": 10})
}

test_break_glass_frequency_fires if {
	"break_glass_frequency" in fired_rules(grant_record, {"break_glass_24h": 3})
}

test_break_glass_frequency_not_below if {
	not "break_glass_frequency" in fired_rules(grant_record, {"break_glass_24h": 2})
}

test_break_glass_frequency_only_on_grants if {
	not "break_glass_frequency" in fired_rules(read_record("prison"), {"break_glass_24h": 5})
	not "break_glass_frequency" in fired_rules(object.union(grant_record, {"decision": "deny"}), {"break_glass_24h": 5})
}

test_break_glass_after_denial_fires if {
	"break_glass_after_denial" in fired_rules(grant_record, {"denied_before_s": 120})
	"break_glass_after_denial" in fired_rules(grant_record, {"denied_before_s": 1800})
}

test_break_glass_after_denial_not_long_after if {
	not "break_glass_after_denial" in fired_rules(grant_record, {"denied_before_s": 1801})
}

test_break_glass_after_denial_not_without_denial if {
	not "break_glass_after_denial" in fired_rules(grant_record, {"denied_before_s": -1})
}

test_no_relationship_fires if {
	"no_relationship" in fired_rules(read_record("municipality"), {"related": false, "unrelated_reads_hour": 5})
}

test_no_relationship_not_when_related if {
	not "no_relationship" in fired_rules(read_record("municipality"), {"related": true, "unrelated_reads_hour": 9})
}

test_no_relationship_not_below if {
	not "no_relationship" in fired_rules(read_record("municipality"), {"related": false, "unrelated_reads_hour": 4})
	not "no_relationship" in fired_rules(read_record("intelligence"), {"related": false, "unrelated_reads_hour": 9})
}

test_probing_fires if {
	"probing" in fired_rules(not_found_record, {"not_found_hour": 3})
	"probing" in fired_rules(object.union(not_found_record, {"org_type": "probation"}), {"not_found_hour": 5})
}

test_probing_not_below if {
	not "probing" in fired_rules(not_found_record, {"not_found_hour": 2})
	not "probing" in fired_rules(object.union(not_found_record, {"org_type": "probation"}), {"not_found_hour": 4})
}

test_probing_not_on_other_statuses if {
	not "probing" in fired_rules(object.union(not_found_record, {"status": 403}), {"not_found_hour": 9})
}

# Every rule the monitor knows has default thresholds, and every alert names
# the event it fired on.
test_every_rule_has_defaults if {
	every rule in rules.rules {
		data.thresholds["default"][rule]
	}
}

test_alerts_name_their_event if {
	events := [
		{"record": read_record("probation"), "history": quiet},
		{"record": not_found_record, "history": object.union(quiet, {"not_found_hour": 4})},
	]
	got := rules.alerts with input as {"events": events}
	count(got) == 1
	some a in got
	a.event == 1
	a.rule == "probing"
	a.detail == "4 case ids not found in the last hour"
}
