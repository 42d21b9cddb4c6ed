package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Order rules (docs/protocol.md, "Order rules"): what an event needs before
// it in the case's history. A transition runs in order (the transition plan,
// then the release's schedule, then the release; the hand-over to probation
// after the schedule), an outcome follows a release, mentoring ends only
// once it started, a goal update moves a goal of a plan, a plan's goals
// answer needs that were assessed, a review follows a plan, a conference's
// action is marked done once, and a transfer moves someone still in
// detention.
//
// The rules are checked against the writer's own view of the case (the
// events it may read, in log order: docs/protocol.md, "What a reader can
// infer"), never against the case as the log holds it: whether an append is
// accepted, and what its refusal says, depends only on what the writer may
// read, so that neither tells it of an event hidden from it. The hub's write
// path gives CheckOrder that view (hub/order.go), after Case.CheckAppend and
// the sharing protocol's decision; the protocol's own rules (who may write
// what) stay in the policy bundle.

// Names of the order rules, as refusals and docs/protocol.md name them.
const (
	RuleTransitionPlanBeforeSchedule = "transition-plan-before-release-schedule"
	RuleReleaseAfterSchedule         = "release-after-schedule"
	RuleHandoverAfterSchedule        = "handover-after-release-schedule"
	RuleOutcomeAfterRelease          = "outcome-after-release"
	RuleMentoringEndsAfterStart      = "mentoring-ends-after-start"
	RuleGoalUpdateOfOpenGoal         = "goal-update-of-an-open-goal"
	RuleGoalsAnswerAssessedNeeds     = "goals-answer-assessed-needs"
	RuleReviewAfterPlan              = "plan-review-after-plan"
	RuleActionCompletedOnce          = "action-completed-once"
	RuleTransferInDetention          = "transfer-in-detention"
)

// orderReads lists, for each event type with order rules, the types of the
// events its rules consult.
var orderReads = map[EventType][]EventType{
	ReleaseScheduled:           {TransitionPlanAgreed},
	Released:                   {ReleaseScheduled},
	ProbationHandoverCompleted: {ReleaseScheduled},
	OutcomeRecorded:            {Released},
	MentoringEnded:             {MentorAssigned, MentoringEnded},
	GoalUpdated:                {TreatmentPlanAdopted, GoalUpdated},
	TreatmentPlanAdopted:       {NeedsAssessmentRecorded},
	PlanReviewed:               {TreatmentPlanAdopted},
	ConferenceActionCompleted:  {CaseConferenceHeld, ConferenceActionCompleted},
	Transferred:                {Released},
}

// OrderReads returns the event types whose events (with their data) the
// order rules of type t consult, nil when t has no order rule: the hub reads
// only those of the writer's view. The slice must not be modified.
func OrderReads(t EventType) []EventType { return orderReads[t] }

// CheckOrder checks an event of type t with data d against the order rules,
// over view: the events of the writer's view of the case of the types
// OrderReads(t) names (others are ignored), in log order, each with its data.
// With d nil it checks only what the type needs whatever its data (a release
// needs a schedule; a goal update, some goal still open), so that a console
// offers only what some data could pass.
//
// It returns nil, or a KindConflict *Error whose message names the rule and
// whose Fields name the field at fault ("type" when the event as a whole
// comes too early; "data.goals[0].needs[1]"), in words about the writer's
// view only.
func CheckOrder(t EventType, d Data, view []Event) error {
	h := orderHistory(view)
	switch t {
	case ReleaseScheduled:
		if !h.has(TransitionPlanAgreed) {
			return orderFault(RuleTransitionPlanBeforeSchedule, "type", "ReleaseScheduled follows the transition plan: no TransitionPlanAgreed is in your view of the case")
		}
	case Released:
		e, ok := h.last(ReleaseScheduled)
		if !ok {
			return orderFault(RuleReleaseAfterSchedule, "type", "Released follows the release's schedule: no ReleaseScheduled is in your view of the case")
		}
		s, _ := e.Data.(ReleaseScheduledData)
		if r, ok := d.(ReleasedData); ok && s.ReleaseDate != "" && r.ReleasedAt < s.ReleaseDate {
			return orderFault(RuleReleaseAfterSchedule, "data.released_at", fmt.Sprintf("is before the scheduled release date %s: schedule the earlier release first", s.ReleaseDate))
		}
	case ProbationHandoverCompleted:
		if !h.has(ReleaseScheduled) {
			return orderFault(RuleHandoverAfterSchedule, "type", "the hand-over to probation follows the release's schedule: no ReleaseScheduled is in your view of the case")
		}
	case OutcomeRecorded:
		e, ok := h.last(Released)
		if !ok {
			return orderFault(RuleOutcomeAfterRelease, "type", "an outcome follows the release: no Released is in your view of the case")
		}
		rel, _ := e.Data.(ReleasedData)
		o, ok := d.(OutcomeData)
		if !ok || rel.ReleasedAt == "" {
			break
		}
		if o.FollowUpAt < rel.ReleasedAt {
			return orderFault(RuleOutcomeAfterRelease, "data.follow_up_at", fmt.Sprintf("is before the release on %s", rel.ReleasedAt))
		}
		if m, ok := MonthsBetween(rel.ReleasedAt, o.FollowUpAt); ok && o.MonthsSinceRelease != nil && (*o.MonthsSinceRelease < m-1 || *o.MonthsSinceRelease > m+1) {
			return orderFault(RuleOutcomeAfterRelease, "data.months_since_release", fmt.Sprintf("must be within a month of the %d whole months from the release on %s to follow_up_at", m, rel.ReleasedAt))
		}
	case MentoringEnded:
		running := h.mentoring()
		m, ok := d.(MentoringEndedData)
		if !ok {
			if len(running) == 0 {
				return orderFault(RuleMentoringEndsAfterStart, "type", "no mentoring is running in your view of the case: MentorAssigned starts it")
			}
			break
		}
		started, on := running[m.MentorOrg]
		if !on {
			return orderFault(RuleMentoringEndsAfterStart, "data.mentor_org", "has no mentoring running in your view of the case: MentorAssigned starts it")
		}
		if started != "" && m.EndedAt < started {
			return orderFault(RuleMentoringEndsAfterStart, "data.ended_at", fmt.Sprintf("is before the mentoring started on %s", started))
		}
	case GoalUpdated:
		goals := h.goals()
		u, ok := d.(GoalUpdatedData)
		if !ok {
			if !slices.ContainsFunc(mapValues(goals), func(s string) bool { return !GoalFinal(s) }) {
				return orderFault(RuleGoalUpdateOfOpenGoal, "type", "no goal with an id is open in the plans in your view of the case")
			}
			break
		}
		status, known := goals[u.GoalID]
		switch {
		case !known:
			return orderFault(RuleGoalUpdateOfOpenGoal, "data.goal_id", "names no goal of a treatment plan in your view of the case")
		case GoalFinal(status):
			return orderFault(RuleGoalUpdateOfOpenGoal, "data.goal_id", fmt.Sprintf("names a goal already %s: a new plan may take it up again", status))
		}
	case TreatmentPlanAdopted:
		p, ok := d.(TreatmentPlanData)
		if !ok {
			break
		}
		assessed := h.assessedNeeds()
		var faults []FieldError
		for i, g := range p.Goals {
			for j, n := range g.Needs {
				if !assessed[n] {
					faults = append(faults, FieldError{Field: fmt.Sprintf("data.goals[%d].needs[%d]", i, j),
						Message: n + " was not assessed in a needs assessment in your view of the case"})
				}
			}
		}
		if len(faults) > 0 {
			return orderFaults(RuleGoalsAnswerAssessedNeeds, "a goal answers a need that no needs assessment in your view of the case assessed", faults)
		}
	case PlanReviewed:
		if !h.has(TreatmentPlanAdopted) {
			return orderFault(RuleReviewAfterPlan, "type", "a plan review follows a plan: no TreatmentPlanAdopted is in your view of the case")
		}
	case ConferenceActionCompleted:
		open := h.actions()
		c, ok := d.(ConferenceActionCompletedData)
		if !ok {
			if !slices.Contains(mapValues(open), true) {
				return orderFault(RuleActionCompletedOnce, "type", "no action with an id is open in the case conferences in your view of the case")
			}
			break
		}
		isOpen, known := open[c.ActionID]
		switch {
		case !known:
			return orderFault(RuleActionCompletedOnce, "data.action_id", "names no action of a case conference in your view of the case")
		case !isOpen:
			return orderFault(RuleActionCompletedOnce, "data.action_id", "names an action already completed")
		}
	case Transferred:
		if h.has(Released) {
			return orderFault(RuleTransferInDetention, "type", "a transfer moves someone in detention: a Released is in your view of the case")
		}
	}
	return nil
}

// orderFault is the refusal of an order rule naming one field.
func orderFault(rule, field, msg string) *Error {
	return orderFaults(rule, msg, []FieldError{{Field: field, Message: msg}})
}

// orderFaults is the refusal of an order rule naming the fields at fault.
func orderFaults(rule, msg string, fields []FieldError) *Error {
	return &Error{Kind: KindConflict, Message: "order rule " + rule + ": " + msg, Fields: fields}
}

// history is the events an order rule consults, in log order.
type history []Event

func orderHistory(view []Event) history { return history(view) }

func (h history) has(t EventType) bool {
	_, ok := h.last(t)
	return ok
}

// last returns the latest event of type t.
func (h history) last(t EventType) (Event, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Type == t {
			return h[i], true
		}
	}
	return Event{}, false
}

// mentoring maps each organisation whose mentoring runs to the date it
// started ("" when not given): a MentorAssigned starts it, a MentoringEnded
// ends it.
func (h history) mentoring() map[string]string {
	running := map[string]string{}
	for _, e := range h {
		switch d := e.Data.(type) {
		case MentorAssignedData:
			if _, on := running[d.MentorOrg]; !on || d.StartedAt != "" {
				running[d.MentorOrg] = d.StartedAt
			}
		case MentoringEndedData:
			delete(running, d.MentorOrg)
		}
	}
	return running
}

// goals maps the id of each goal of the plans to its status: as the latest
// plan that lists it says (planned when it says none), then as goal updates
// since moved it.
func (h history) goals() map[string]string {
	status := map[string]string{}
	for _, e := range h {
		switch d := e.Data.(type) {
		case TreatmentPlanData:
			for _, g := range d.Goals {
				if g.ID == "" {
					continue
				}
				status[g.ID] = GoalPlanned
				if g.Status != "" {
					status[g.ID] = g.Status
				}
			}
		case GoalUpdatedData:
			if _, ok := status[d.GoalID]; ok {
				status[d.GoalID] = d.Status
			}
		}
	}
	return status
}

// assessedNeeds is the set of need areas some needs assessment assessed.
func (h history) assessedNeeds() map[string]bool {
	out := map[string]bool{}
	for _, e := range h {
		if d, ok := e.Data.(NeedsAssessmentData); ok {
			for _, n := range d.Needs {
				out[n.Area] = true
			}
		}
	}
	return out
}

// actions maps the id of each conference action to whether it is open: a
// conference that assigns it opens it (again), its completion closes it.
func (h history) actions() map[string]bool {
	open := map[string]bool{}
	for _, e := range h {
		switch d := e.Data.(type) {
		case CaseConferenceData:
			for _, a := range d.Actions {
				if a.ID != "" {
					open[a.ID] = true
				}
			}
		case ConferenceActionCompletedData:
			if _, ok := open[d.ActionID]; ok {
				open[d.ActionID] = false
			}
		}
	}
	return open
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// MonthsBetween returns the whole months from date from to date to (both
// YYYY-MM-DD; a month is whole on the same day of the month), and false when
// either is not a date or to is before from.
func MonthsBetween(from, to string) (int, bool) {
	a, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return 0, false
	}
	b, err := time.Parse(time.DateOnly, to)
	if err != nil || b.Before(a) {
		return 0, false
	}
	m := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	if b.Day() < a.Day() {
		m--
	}
	return m, true
}

// OrderRuleOf returns the name of the order rule err refuses by, "" when err
// is not an order rule's refusal: for the access record, which holds the
// rule's name and never the refusal's words (they may quote the case).
func OrderRuleOf(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConflict {
		return ""
	}
	rest, ok := strings.CutPrefix(e.Message, "order rule ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ":")
	return name
}
