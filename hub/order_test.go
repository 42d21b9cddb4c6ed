package hub_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/hub"
)

var (
	probationOfficer = domain.Identity{Issuer: "test", Subject: "po-emil", Agency: "probation-service", Roles: []string{"officer"}}
	exitMentor       = domain.Identity{Issuer: "test", Subject: "ng-hana", Agency: "exit-ngo", Roles: []string{"mentor"}}
)

// openCase opens a case as the caseworker and returns its id.
func (f *fixture) openCase(t *testing.T) string {
	t.Helper()
	var opened hub.Appended
	if err := f.call(t, caseworker, "", "case.open", func(ctx context.Context, c *hub.Call) (err error) {
		opened, err = f.svc.OpenCase(ctx, c, []byte(`{"subject_ref":"P-2026-0180","target_group":"returnee","participation":"voluntary"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return opened.CaseID
}

// add appends an event as id; label and share list as given.
func (f *fixture) add(t *testing.T, id domain.Identity, caseID, typ, data, label string, share ...string) (hub.Appended, error) {
	t.Helper()
	body := map[string]any{"type": typ, "data": json.RawMessage(data)}
	if label != "" {
		body["classification"] = label
	}
	if len(share) > 0 {
		body["share_with"] = share
	}
	b, _ := json.Marshal(body)
	var out hub.Appended
	err := f.call(t, id, "", "event.append", func(ctx context.Context, c *hub.Call) (err error) {
		out, err = f.svc.Append(ctx, c, caseID, b)
		return err
	})
	return out, err
}

func (f *fixture) mustAdd(t *testing.T, id domain.Identity, caseID, typ, data, label string, share ...string) {
	t.Helper()
	if _, err := f.add(t, id, caseID, typ, data, label, share...); err != nil {
		t.Fatalf("%s as %s: %v", typ, id.Subject, err)
	}
}

// version is the case's version in id's view.
func (f *fixture) version(t *testing.T, id domain.Identity, purpose, caseID string) uint64 {
	t.Helper()
	var got hub.CaseSummary
	if err := f.call(t, id, purpose, "case.read", func(ctx context.Context, c *hub.Call) error {
		a, err := f.svc.Case(ctx, c, caseID)
		if err == nil {
			err = json.Unmarshal(a.JSON, &got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got.Version
}

// refusedBy says whether err is the refusal of an order rule naming field.
func refusedBy(err error, rule, field string) bool {
	var e *domain.Error
	return errorsAs(err, &e) && e.Kind == domain.KindConflict && domain.OrderRuleOf(err) == rule &&
		slices.ContainsFunc(e.Fields, func(fe domain.FieldError) bool { return fe.Field == field })
}

// TestOrderRulesAreJudgedOnTheWritersView: the transition runs in order, an
// outcome follows a release, goals answer assessed needs; a refusal names its
// rule and field and appends nothing; and the rules read only what the writer
// may read (docs/protocol.md, "Order rules" and "What a reader can infer"): a
// release hidden from the exit worker does not let it record an outcome, and
// its refusal is word for word the refusal on a case never released.
func TestOrderRulesAreJudgedOnTheWritersView(t *testing.T) {
	f := newFixture(t)
	id := f.openCase(t)
	f.mustAdd(t, caseworker, id, "ConsentGiven", `{"organisations":["exit-ngo"]}`, "")

	// A release before its schedule, a schedule before the transition plan.
	before := f.version(t, caseworker, "case-management", id)
	_, err := f.add(t, caseworker, id, "Released", `{"released_at":"2027-09-30"}`, "")
	if !refusedBy(err, domain.RuleReleaseAfterSchedule, "type") || !strings.Contains(err.Error(), "order rule "+domain.RuleReleaseAfterSchedule) {
		t.Errorf("a release before its schedule: %v", err)
	}
	_, err = f.add(t, caseworker, id, "ReleaseScheduled", `{"release_date":"2027-09-30"}`, "")
	if !refusedBy(err, domain.RuleTransitionPlanBeforeSchedule, "type") {
		t.Errorf("a schedule before the transition plan: %v", err)
	}
	// Goals linked to needs never assessed.
	f.mustAdd(t, caseworker, id, "NeedsAssessmentRecorded", `{"needs":[{"area":"employment","level":"high"}]}`, "")
	_, err = f.add(t, caseworker, id, "TreatmentPlanAdopted", `{"goals":[{"stage":"reintegration","description":"work","responsible":"exit-ngo","id":"G1","needs":["employment"]},{"stage":"basic-needs","description":"a flat","responsible":"municipality","id":"G2","needs":["housing"]}]}`, "")
	if !refusedBy(err, domain.RuleGoalsAnswerAssessedNeeds, "data.goals[1].needs[0]") {
		t.Errorf("a goal answering a need never assessed: %v", err)
	}
	if after := f.version(t, caseworker, "case-management", id); after != before+1 {
		t.Errorf("the refusals appended something: version %d, want %d", after, before+1)
	}
	f.mustAdd(t, caseworker, id, "TreatmentPlanAdopted", `{"goals":[{"stage":"reintegration","description":"work","responsible":"exit-ngo","id":"G1","needs":["employment"]}]}`, "")
	f.mustAdd(t, exitMentor, id, "GoalUpdated", `{"goal_id":"G1","status":"achieved","date":"2026-05-01"}`, "")
	if _, err := f.add(t, exitMentor, id, "GoalUpdated", `{"goal_id":"G1","status":"in-progress","date":"2026-06-01"}`, ""); !refusedBy(err, domain.RuleGoalUpdateOfOpenGoal, "data.goal_id") {
		t.Errorf("an update of an achieved goal: %v", err)
	}

	// The transition in order; the release is shared with probation only.
	f.mustAdd(t, caseworker, id, "TransitionPlanAgreed", `{"planned_release":"2027-09-30"}`, "")
	f.mustAdd(t, caseworker, id, "ReleaseScheduled", `{"release_date":"2027-09-30"}`, "")
	if _, err := f.add(t, caseworker, id, "Released", `{"released_at":"2027-09-01"}`, ""); !refusedBy(err, domain.RuleReleaseAfterSchedule, "data.released_at") {
		t.Errorf("a release before the scheduled date: %v", err)
	}
	f.mustAdd(t, caseworker, id, "Released", `{"released_at":"2027-09-30"}`, "TLP:RED", "probation-service")
	f.mustAdd(t, probationOfficer, id, "ProbationHandoverCompleted", `{"date":"2027-10-01"}`, "")
	outcome := `{"follow_up_at":"2028-03-30","months_since_release":6,"recidivism":"none"}`
	_, hidden := f.add(t, exitMentor, id, "OutcomeRecorded", outcome, "")
	if !refusedBy(hidden, domain.RuleOutcomeAfterRelease, "type") {
		t.Errorf("an outcome by the exit worker, the release hidden from it: %v", hidden)
	}
	if _, err := f.add(t, probationOfficer, id, "OutcomeRecorded", `{"follow_up_at":"2028-03-30","months_since_release":12}`, ""); !refusedBy(err, domain.RuleOutcomeAfterRelease, "data.months_since_release") {
		t.Errorf("months since release the dates belie: %v", err)
	}
	f.mustAdd(t, probationOfficer, id, "OutcomeRecorded", outcome, "")

	// The same refusal on a case never released: not a word differs.
	other := f.openCase(t)
	f.mustAdd(t, caseworker, other, "ConsentGiven", `{"organisations":["exit-ngo"]}`, "")
	_, never := f.add(t, exitMentor, other, "OutcomeRecorded", outcome, "")
	if hidden == nil || never == nil || hidden.Error() != never.Error() {
		t.Errorf("the refusals differ: with a hidden release %v; never released %v", hidden, never)
	}
	// A transfer after release.
	if _, err := f.add(t, caseworker, id, "Transferred", `{"date":"2027-11-01","facility":"JVA Süd"}`, ""); !refusedBy(err, domain.RuleTransferInDetention, "type") {
		t.Errorf("a transfer after release: %v", err)
	}
}

// TestWritableOffersWhatTheOrderRulesAllow: GET /v1/cases/{id}/writable
// offers a type only when its order rules let some data through, in the
// caller's view.
func TestWritableOffersWhatTheOrderRulesAllow(t *testing.T) {
	f := newFixture(t)
	id := f.openCase(t)
	offered := func(who domain.Identity) []domain.EventType {
		t.Helper()
		var w hub.Writable
		if err := f.call(t, who, "", "case.writable", func(ctx context.Context, c *hub.Call) (err error) {
			w, err = f.svc.Writable(ctx, c, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var out []domain.EventType
		for _, e := range w.Events {
			out = append(out, e.Type)
		}
		return out
	}
	got := offered(caseworker)
	for _, typ := range []domain.EventType{domain.ReleaseScheduled, domain.Released, domain.GoalUpdated, domain.PlanReviewed, domain.ConferenceActionCompleted} {
		if slices.Contains(got, typ) {
			t.Errorf("%s offered on a new case: %v", typ, got)
		}
	}
	if !slices.Contains(got, domain.Transferred) || !slices.Contains(got, domain.TransitionPlanAgreed) {
		t.Errorf("a transfer and the transition plan not offered: %v", got)
	}
	f.mustAdd(t, caseworker, id, "TransitionPlanAgreed", `{"planned_release":"2027-09-30"}`, "")
	f.mustAdd(t, caseworker, id, "ReleaseScheduled", `{"release_date":"2027-09-30"}`, "TLP:AMBER+STRICT")
	if got := offered(caseworker); !slices.Contains(got, domain.Released) {
		t.Errorf("the release not offered after its schedule: %v", got)
	}
	// Probation may hand over only after a schedule it can read.
	if got := offered(probationOfficer); slices.Contains(got, domain.ProbationHandoverCompleted) {
		t.Errorf("the hand-over offered to probation, the schedule hidden from it: %v", got)
	}
}

// TestTheDemoKeepsTheOrderRulesInEveryWritersView loads demo cases through
// the hub's use cases, as the demo loader does: every step, checked against
// the order rules over its writer's own view, is accepted.
func TestTheDemoKeepsTheOrderRulesInEveryWritersView(t *testing.T) {
	f := newFixture(t)
	for i, cs := range demo.Generate(11, 40) {
		var id string
		for k, s := range cs.Steps {
			who := s.As
			who.Issuer = "test"
			err := f.call(t, who, "", "demo", func(ctx context.Context, c *hub.Call) error {
				switch s.Type {
				case domain.CaseOpened:
					out, err := f.svc.OpenCase(ctx, c, s.Data)
					id = out.CaseID
					return err
				case domain.BreakGlassInvoked:
					body, _ := json.Marshal(map[string]string{"justification": s.Justification})
					_, err := f.svc.BreakGlass(ctx, c, id, body)
					return err
				}
				body := map[string]any{"type": s.Type, "data": s.Data}
				if s.Classification != "" {
					body["classification"] = s.Classification
				}
				if len(s.ShareWith) > 0 {
					body["share_with"] = s.ShareWith
				}
				b, _ := json.Marshal(body)
				_, err := f.svc.Append(ctx, c, id, b)
				return err
			})
			if err != nil {
				t.Fatalf("demo case %d step %d %s as %s: %v", i, k, s.Type, s.As.Subject, err)
			}
		}
	}
}
