package liaison_test

// The reference model's reading of the order rules (docs/protocol.md, "Order
// rules"; issue 18): what an append needs before it in the case, judged on
// the events of the writer's own view (the protocol's "What a reader can
// infer": an event the writer may not read neither satisfies nor breaks a
// rule). Written from the protocol's text, not from domain/order.go.

import "time"

// orderRefused says whether the order rules refuse the append (409): the
// writer reaches the case (caseGate 0), and its view is computed as a
// reader's is.
func orderRefused(a refAppend, h refHistory, now time.Time) bool {
	st := h.state()
	var view []refEvent
	for _, i := range viewFor(a.As, h, st, now).view {
		view = append(view, h[i])
	}
	seen := func(typ string) (refEvent, bool) { // the latest of a type
		for i := len(view) - 1; i >= 0; i-- {
			if view[i].Type == typ {
				return view[i], true
			}
		}
		return refEvent{}, false
	}
	d := a.Data
	switch a.Type {
	case "ReleaseScheduled":
		// "transition plan before release scheduled"
		_, ok := seen("TransitionPlanAgreed")
		return !ok
	case "Released":
		// "release after it", and not before the date it was scheduled for
		s, ok := seen("ReleaseScheduled")
		return !ok || str(d, "released_at") < str(s.Data, "release_date")
	case "ProbationHandoverCompleted":
		// "hand-over to probation after release scheduled"
		_, ok := seen("ReleaseScheduled")
		return !ok
	case "OutcomeRecorded":
		// an outcome follows the release, dated after it, its months since
		// release within one of what the dates say
		r, ok := seen("Released")
		if !ok {
			return true
		}
		from, to := str(r.Data, "released_at"), str(d, "follow_up_at")
		if to < from {
			return true
		}
		if m, given := d["months_since_release"]; given {
			whole := wholeMonths(from, to)
			n := toInt(m)
			return n < whole-1 || n > whole+1
		}
		return false
	case "MentoringEnded":
		// mentoring ends only while it runs: a MentorAssigned for the
		// organisation since its last end; not before it started
		org := str(d, "mentor_org")
		running, started := false, ""
		for _, e := range view {
			if str(e.Data, "mentor_org") != org {
				continue
			}
			switch e.Type {
			case "MentorAssigned":
				if !running || str(e.Data, "started_at") != "" {
					started = str(e.Data, "started_at")
				}
				running = true
			case "MentoringEnded":
				running, started = false, ""
			}
		}
		return !running || started != "" && str(d, "ended_at") < started
	case "GoalUpdated":
		// a goal of a plan, not yet achieved nor dropped (a later plan that
		// lists it again reopens it)
		status := ""
		for _, e := range view {
			switch e.Type {
			case "TreatmentPlanAdopted":
				for _, g := range objects(e.Data["goals"]) {
					if str(g, "id") == str(d, "goal_id") {
						status = "planned"
						if s := str(g, "status"); s != "" {
							status = s
						}
					}
				}
			case "GoalUpdated":
				if status != "" && str(e.Data, "goal_id") == str(d, "goal_id") {
					status = str(e.Data, "status")
				}
			}
		}
		return status == "" || status == "achieved" || status == "dropped"
	case "TreatmentPlanAdopted":
		// each goal answers needs some needs assessment assessed
		assessed := map[string]bool{}
		for _, e := range view {
			if e.Type == "NeedsAssessmentRecorded" {
				for _, n := range objects(e.Data["needs"]) {
					assessed[str(n, "area")] = true
				}
			}
		}
		for _, g := range objects(d["goals"]) {
			for _, area := range stringList(g["needs"]) {
				if !assessed[area] {
					return true
				}
			}
		}
		return false
	case "PlanReviewed":
		_, ok := seen("TreatmentPlanAdopted")
		return !ok
	case "ConferenceActionCompleted":
		// an action some conference assigned, not marked done since
		open := false
		for _, e := range view {
			switch e.Type {
			case "CaseConferenceHeld":
				for _, x := range objects(e.Data["actions"]) {
					if str(x, "id") == str(d, "action_id") {
						open = true
					}
				}
			case "ConferenceActionCompleted":
				if str(e.Data, "action_id") == str(d, "action_id") {
					open = false
				}
			}
		}
		return !open
	case "Transferred":
		// a transfer moves someone in detention
		_, ok := seen("Released")
		return ok
	}
	return false
}

// str reads a string field of event data.
func str(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

// objects reads a list of objects of event data.
func objects(v any) []map[string]any {
	var out []map[string]any
	switch l := v.(type) {
	case []map[string]any:
		return l
	case []any:
		for _, x := range l {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return -1
}

// wholeMonths counts the whole months from one date to another: a month is
// whole on the same day of the month.
func wholeMonths(from, to string) int {
	a, _ := time.Parse(time.DateOnly, from)
	b, _ := time.Parse(time.DateOnly, to)
	m := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	if b.Day() < a.Day() {
		m--
	}
	return m
}

// refOrderTypes are the types with order rules, which the differential test
// writes with data that keeps or breaks them (randomOrdered).
var refOrderTypes = []string{"ReleaseScheduled", "Released", "ProbationHandoverCompleted", "OutcomeRecorded",
	"MentoringEnded", "GoalUpdated", "TreatmentPlanAdopted", "PlanReviewed", "ConferenceActionCompleted", "Transferred"}
