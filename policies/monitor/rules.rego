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
#            distinct_cases_10m, break_glass_24h, denied_before_s (break-glass
#            calls only, else -1), not_found_hour, unrelated_reads_hour, related
#
# Records of one user alike within a batch and a minute are given once, the
# last (docs/monitoring.md, "Evaluate"): keep every rule a threshold that
# fires at a higher count if at a lower one.
package monitor.rules

# alerts: {event, rule, detail}, one per event and rule that fires on it.
# Each rule is its own body over the batch, cheapest test first: most
# records are quiet reads, refused at the first comparison. A rule runs
# unless the thresholds of the user's organisation type say "enabled": false.
alerts contains {"event": i, "rule": "volume", "detail": detail} if {
	some i, e in input.events
	e.record.read
	h := e.history
	t := limits[e.record.org_type].volume
	h.reads_hour >= t.min_reads
	usual := max([h.user_usual, h.role_usual])
	h.reads_hour > t.factor * usual
	not t.enabled == false
	detail := sprintf("%d reads in the last hour; usual %v per active hour", [h.reads_hour, round(usual * 10) / 10])
}

# breadth: many distinct cases in a short time.
alerts contains {"event": i, "rule": "breadth", "detail": detail} if {
	some i, e in input.events
	e.record.read
	t := limits[e.record.org_type].breadth
	e.history.distinct_cases_10m >= t.distinct_cases
	not t.enabled == false
	detail := sprintf("%d distinct cases in 10 minutes", [e.history.distinct_cases_10m])
}

# off_hours: sustained reading outside the working hours of the user's
# organisation type (a read off hours while the user has made at least
# min_reads reads in the last hour).
alerts contains {"event": i, "rule": "off_hours", "detail": detail} if {
	some i, e in input.events
	e.record.read
	t := limits[e.record.org_type].off_hours
	e.history.reads_hour >= t.min_reads
	not t.enabled == false
	clock := time.clock([e.record.time_ns, t.timezone])
	day := time.weekday([e.record.time_ns, t.timezone])
	outside(t, clock[0], day)
	detail := sprintf("%d reads in the last hour, this one at %02d:%02d %s on %s", [e.history.reads_hour, clock[0], clock[1], t.timezone, day])
}

outside(t, _, day) if not day in t.weekdays

outside(t, hour, _) if hour < t.start

outside(t, hour, _) if hour >= t.end

# break_glass_frequency: break-glass grants by one user, in 24 hours.
alerts contains {"event": i, "rule": "break_glass_frequency", "detail": detail} if {
	some i, e in input.events
	grant(e)
	t := limits[e.record.org_type].break_glass_frequency
	e.history.break_glass_24h >= t.per_day
	not t.enabled == false
	detail := sprintf("%d break-glass grants in 24 hours", [e.history.break_glass_24h])
}

# break_glass_after_denial: a grant shortly after the same user was refused
# the same case.
alerts contains {"event": i, "rule": "break_glass_after_denial", "detail": detail} if {
	some i, e in input.events
	grant(e)
	t := limits[e.record.org_type].break_glass_after_denial
	e.history.denied_before_s >= 0
	e.history.denied_before_s <= t.minutes * 60
	not t.enabled == false
	detail := sprintf("break-glass %d s after a denial on the case", [e.history.denied_before_s])
}

grant(e) if {
	e.record.action == "break-glass"
	e.record.decision == "allow"
	e.record.break_glass
}

# no_relationship: reads of cases in which the reader's organisation has
# written nothing, holds no task (no event shared with it) and no consent.
alerts contains {"event": i, "rule": "no_relationship", "detail": detail} if {
	some i, e in input.events
	e.record.read
	e.history.related == false
	t := limits[e.record.org_type].no_relationship
	e.history.unrelated_reads_hour >= t.reads_per_hour
	not t.enabled == false
	detail := sprintf("%d reads without a relationship in the last hour", [e.history.unrelated_reads_hour])
}

# probing: repeated 404s on case ids.
alerts contains {"event": i, "rule": "probing", "detail": detail} if {
	some i, e in input.events
	e.record.status == 404
	e.record.case_id != ""
	t := limits[e.record.org_type].probing
	e.history.not_found_hour >= t.not_found_per_hour
	not t.enabled == false
	detail := sprintf("%d case ids not found in the last hour", [e.history.not_found_hour])
}

# rules are the names of the monitoring rules, as alerts and the thresholds
# name them.
rules := [
	"volume", "breadth", "off_hours", "break_glass_frequency",
	"break_glass_after_denial", "no_relationship", "probing",
]

# limits[t][rule] are the thresholds of rule for organisation type t: the
# type's own values over the defaults; computed once per evaluation, for
# the types of the batch.
limits := {t: {rule: object.union(data.thresholds["default"][rule], object.get(data.thresholds, ["by_org_type", t, rule], {})) |
	some rule in rules
} |
	some t in {e.record.org_type | some e in input.events}
}
