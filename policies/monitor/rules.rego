# Monitoring rules over the access log (docs/monitoring.md): privacy
# monitoring for the oversight board. The hub's monitor (hub/monitor.go)
# evaluates data.monitor.rules.alerts over each batch of new access records,
# each given with a compact summary of its user's recent history that the
# monitor keeps; every rule that fires on a record is an alert candidate. The
# thresholds are data (data.thresholds), per organisation type.
#
# input.events[i]:
#   record:  index, time_ns, sub, issuer, agency, org_type, role, action,
#            case_id, decision, status, break_glass, read (a read of case
#            content served: allow or partial)
#   history: the user's (issuer, sub, organisation) recent history, this
#            record included: reads_hour, user_usual, user_hours, role_usual,
#            distinct_cases_10m, break_glass_24h, denied_before_s,
#            not_found_hour, unrelated_reads_hour, related
package monitor.rules

# alerts: {event, rule, detail}, one per event and rule that fires on it.
alerts contains alert if {
	some i, e in input.events
	some rule, detail in fired(e)
	alert := {"event": i, "rule": rule, "detail": detail}
}

# fired(e) maps each rule that fires on e to what it saw.
fired(e) := {rule: detail |
	some rule in rules
	enabled(e, rule)
	detail := fires(rule, e)
}

# rules are the names of the monitoring rules, as alerts and the thresholds
# name them.
rules := [
	"volume", "breadth", "off_hours", "break_glass_frequency",
	"break_glass_after_denial", "no_relationship", "probing",
]

# limits(e, rule) are the thresholds of rule for the organisation type of
# e's user: the type's own values over the defaults.
limits(e, rule) := object.union(
	data.thresholds["default"][rule],
	object.get(data.thresholds, ["by_org_type", e.record.org_type, rule], {}),
)

# enabled: a rule runs unless the thresholds of the user's organisation type
# say "enabled": false.
enabled(e, rule) if object.get(limits(e, rule), "enabled", true) == true

# volume: reads per user per hour far above that user's or role's usual.
fires("volume", e) := sprintf("%d reads in the last hour; usual %v per active hour", [h.reads_hour, round(usual * 10) / 10]) if {
	e.record.read
	h := e.history
	t := limits(e, "volume")
	h.reads_hour >= t.min_reads
	usual := max([h.user_usual, h.role_usual])
	h.reads_hour > t.factor * usual
}

# breadth: many distinct cases in a short time.
fires("breadth", e) := sprintf("%d distinct cases in 10 minutes", [e.history.distinct_cases_10m]) if {
	e.record.read
	e.history.distinct_cases_10m >= limits(e, "breadth").distinct_cases
}

# off_hours: sustained reading outside the working hours of the user's
# organisation type (a read off hours while the user has made at least
# min_reads reads in the last hour).
fires("off_hours", e) := sprintf("%d reads in the last hour, this one at %02d:%02d %s on %s", [e.history.reads_hour, clock[0], clock[1], t.timezone, day]) if {
	e.record.read
	t := limits(e, "off_hours")
	e.history.reads_hour >= t.min_reads
	clock := time.clock([e.record.time_ns, t.timezone])
	day := time.weekday([e.record.time_ns, t.timezone])
	outside(t, clock[0], day)
}

outside(t, _, day) if not day in t.weekdays

outside(t, hour, _) if hour < t.start

outside(t, hour, _) if hour >= t.end

# break_glass_frequency: break-glass grants by one user, in 24 hours.
fires("break_glass_frequency", e) := sprintf("%d break-glass grants in 24 hours", [e.history.break_glass_24h]) if {
	grant(e)
	e.history.break_glass_24h >= limits(e, "break_glass_frequency").per_day
}

# break_glass_after_denial: a grant shortly after the same user was refused
# the same case.
fires("break_glass_after_denial", e) := sprintf("break-glass %d s after a denial on the case", [e.history.denied_before_s]) if {
	grant(e)
	e.history.denied_before_s >= 0
	e.history.denied_before_s <= limits(e, "break_glass_after_denial").minutes * 60
}

grant(e) if {
	e.record.action == "break-glass"
	e.record.decision == "allow"
	e.record.break_glass
}

# no_relationship: reads of cases in which the reader's organisation has
# written nothing, holds no task (no event shared with it) and no consent.
fires("no_relationship", e) := sprintf("%d reads without a relationship in the last hour", [e.history.unrelated_reads_hour]) if {
	e.record.read
	e.history.related == false
	e.history.unrelated_reads_hour >= limits(e, "no_relationship").reads_per_hour
}

# probing: repeated 404s on case ids.
fires("probing", e) := sprintf("%d case ids not found in the last hour", [e.history.not_found_hour]) if {
	e.record.status == 404
	e.record.case_id != ""
	e.history.not_found_hour >= limits(e, "probing").not_found_per_hour
}
