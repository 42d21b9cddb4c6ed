package domain_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

// view builds a writer's view for CheckOrder: each event decoded from its
// example-like data.
func view(t *testing.T, evs ...[2]string) []domain.Event {
	t.Helper()
	var out []domain.Event
	for i, e := range evs {
		typ := domain.EventType(e[0])
		d, _, err := domain.DecodeData(typ, json.RawMessage(e[1]), dir, "data")
		if err != nil {
			t.Fatalf("%s %s: %v", typ, e[1], err)
		}
		out = append(out, domain.Event{Type: typ, Version: uint64(i + 2), Data: d})
	}
	return out
}

func data(t *testing.T, typ domain.EventType, raw string) domain.Data {
	t.Helper()
	d, _, err := domain.DecodeData(typ, json.RawMessage(raw), dir, "data")
	if err != nil {
		t.Fatalf("%s %s: %v", typ, raw, err)
	}
	return d
}

const (
	plan       = `{"planned_release":"2027-09-30"}`
	schedule   = `{"release_date":"2027-09-30"}`
	release    = `{"released_at":"2027-09-30"}`
	needs      = `{"needs":[{"area":"housing","level":"high"},{"area":"employment","level":"low"}]}`
	goals      = `{"goals":[{"stage":"basic-needs","description":"a flat","responsible":"municipality","id":"G1","needs":["housing"]},{"stage":"reintegration","description":"work","responsible":"exit-ngo","id":"G2","status":"achieved"}]}`
	conference = `{"date":"2026-03-01","participants":["prison-service"],"actions":[{"owner":"municipality","description":"find a flat","id":"A1"}]}`
	mentor     = `{"mentor_org":"exit-ngo","started_at":"2027-06-01"}`
)

// TestOrderRules checks each order rule (docs/protocol.md, "Order rules")
// on the writer's view: what it refuses, with which rule and field, and
// what it accepts.
func TestOrderRules(t *testing.T) {
	cases := []struct {
		name  string
		view  [][2]string
		typ   domain.EventType
		data  string // "" checks the type alone
		rule  string // "" when accepted
		field string
	}{
		{"a release schedule before any transition plan", nil, domain.ReleaseScheduled, schedule, domain.RuleTransitionPlanBeforeSchedule, "type"},
		{"a release schedule after the transition plan", [][2]string{{"TransitionPlanAgreed", plan}}, domain.ReleaseScheduled, schedule, "", ""},
		{"a release before its schedule", [][2]string{{"TransitionPlanAgreed", plan}}, domain.Released, release, domain.RuleReleaseAfterSchedule, "type"},
		{"a release before the scheduled date", [][2]string{{"TransitionPlanAgreed", plan}, {"ReleaseScheduled", schedule}}, domain.Released, `{"released_at":"2027-09-01"}`, domain.RuleReleaseAfterSchedule, "data.released_at"},
		{"an earlier release rescheduled first", [][2]string{{"TransitionPlanAgreed", plan}, {"ReleaseScheduled", schedule}, {"ReleaseScheduled", `{"release_date":"2027-09-01"}`}}, domain.Released, `{"released_at":"2027-09-01"}`, "", ""},
		{"a release on schedule", [][2]string{{"TransitionPlanAgreed", plan}, {"ReleaseScheduled", schedule}}, domain.Released, release, "", ""},
		{"a hand-over before any schedule", [][2]string{{"TransitionPlanAgreed", plan}}, domain.ProbationHandoverCompleted, `{"date":"2027-09-01"}`, domain.RuleHandoverAfterSchedule, "type"},
		{"a hand-over after the schedule", [][2]string{{"ReleaseScheduled", schedule}}, domain.ProbationHandoverCompleted, `{"date":"2027-09-01"}`, "", ""},
		{"an outcome before release", [][2]string{{"ReleaseScheduled", schedule}}, domain.OutcomeRecorded, `{"follow_up_at":"2028-03-30"}`, domain.RuleOutcomeAfterRelease, "type"},
		{"a follow-up dated before the release", [][2]string{{"Released", release}}, domain.OutcomeRecorded, `{"follow_up_at":"2027-09-29"}`, domain.RuleOutcomeAfterRelease, "data.follow_up_at"},
		{"months since release that the dates belie", [][2]string{{"Released", release}}, domain.OutcomeRecorded, `{"follow_up_at":"2028-03-30","months_since_release":12}`, domain.RuleOutcomeAfterRelease, "data.months_since_release"},
		{"an outcome after release", [][2]string{{"Released", release}}, domain.OutcomeRecorded, `{"follow_up_at":"2028-03-15","months_since_release":6}`, "", ""},
		{"mentoring ended that never started", nil, domain.MentoringEnded, `{"mentor_org":"exit-ngo","ended_at":"2028-01-01"}`, domain.RuleMentoringEndsAfterStart, "data.mentor_org"},
		{"mentoring ended twice", [][2]string{{"MentorAssigned", mentor}, {"MentoringEnded", `{"mentor_org":"exit-ngo","ended_at":"2028-01-01"}`}}, domain.MentoringEnded, `{"mentor_org":"exit-ngo","ended_at":"2028-02-01"}`, domain.RuleMentoringEndsAfterStart, "data.mentor_org"},
		{"mentoring ended before it started", [][2]string{{"MentorAssigned", mentor}}, domain.MentoringEnded, `{"mentor_org":"exit-ngo","ended_at":"2027-05-01"}`, domain.RuleMentoringEndsAfterStart, "data.ended_at"},
		{"mentoring ended after it started", [][2]string{{"MentorAssigned", mentor}}, domain.MentoringEnded, `{"mentor_org":"exit-ngo","ended_at":"2028-01-01"}`, "", ""},
		{"a goal linked to a need never assessed", [][2]string{{"NeedsAssessmentRecorded", `{"needs":[{"area":"employment","level":"low"}]}`}}, domain.TreatmentPlanAdopted, goals, domain.RuleGoalsAnswerAssessedNeeds, "data.goals[0].needs[0]"},
		{"goals linked to assessed needs", [][2]string{{"NeedsAssessmentRecorded", needs}}, domain.TreatmentPlanAdopted, goals, "", ""},
		{"goals linked to nothing", nil, domain.TreatmentPlanAdopted, `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo"}]}`, "", ""},
		{"an update of no goal", [][2]string{{"NeedsAssessmentRecorded", needs}, {"TreatmentPlanAdopted", goals}}, domain.GoalUpdated, `{"goal_id":"G9","status":"achieved","date":"2026-05-01"}`, domain.RuleGoalUpdateOfOpenGoal, "data.goal_id"},
		{"an update of an achieved goal", [][2]string{{"NeedsAssessmentRecorded", needs}, {"TreatmentPlanAdopted", goals}}, domain.GoalUpdated, `{"goal_id":"G2","status":"dropped","date":"2026-05-01"}`, domain.RuleGoalUpdateOfOpenGoal, "data.goal_id"},
		{"an update of an open goal", [][2]string{{"NeedsAssessmentRecorded", needs}, {"TreatmentPlanAdopted", goals}}, domain.GoalUpdated, `{"goal_id":"G1","status":"in-progress","date":"2026-05-01"}`, "", ""},
		{"an update of a goal a later update closed", [][2]string{{"NeedsAssessmentRecorded", needs}, {"TreatmentPlanAdopted", goals}, {"GoalUpdated", `{"goal_id":"G1","status":"dropped","date":"2026-05-01"}`}}, domain.GoalUpdated, `{"goal_id":"G1","status":"in-progress","date":"2026-06-01"}`, domain.RuleGoalUpdateOfOpenGoal, "data.goal_id"},
		{"no goal open at all", [][2]string{{"TreatmentPlanAdopted", `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","id":"G3","status":"dropped"}]}`}}, domain.GoalUpdated, "", domain.RuleGoalUpdateOfOpenGoal, "type"},
		{"a goal taken up again by a new plan", [][2]string{{"TreatmentPlanAdopted", `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","id":"G3","status":"dropped"}]}`}, {"TreatmentPlanAdopted", `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","id":"G3"}]}`}}, domain.GoalUpdated, `{"goal_id":"G3","status":"in-progress","date":"2026-06-01"}`, "", ""},
		{"a plan review with no plan", [][2]string{{"NeedsAssessmentRecorded", needs}}, domain.PlanReviewed, `{"date":"2026-06-01"}`, domain.RuleReviewAfterPlan, "type"},
		{"a plan review", [][2]string{{"TreatmentPlanAdopted", goals}}, domain.PlanReviewed, `{"date":"2026-06-01"}`, "", ""},
		{"an action never assigned", [][2]string{{"CaseConferenceHeld", conference}}, domain.ConferenceActionCompleted, `{"action_id":"A2","date":"2026-04-01"}`, domain.RuleActionCompletedOnce, "data.action_id"},
		{"an action completed twice", [][2]string{{"CaseConferenceHeld", conference}, {"ConferenceActionCompleted", `{"action_id":"A1","date":"2026-04-01"}`}}, domain.ConferenceActionCompleted, `{"action_id":"A1","date":"2026-04-02"}`, domain.RuleActionCompletedOnce, "data.action_id"},
		{"an action completed", [][2]string{{"CaseConferenceHeld", conference}}, domain.ConferenceActionCompleted, `{"action_id":"A1","date":"2026-04-01"}`, "", ""},
		{"a transfer after release", [][2]string{{"Released", release}}, domain.Transferred, `{"date":"2027-10-01","facility":"JVA Süd"}`, domain.RuleTransferInDetention, "type"},
		{"a transfer in detention", nil, domain.Transferred, `{"date":"2026-10-01","facility":"JVA Süd","regime":"mixed"}`, "", ""},
		{"a type without order rules", nil, domain.InterventionRecorded, `{"practice_code":"17","date":"2026-03-01"}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d domain.Data
			if c.data != "" {
				d = data(t, c.typ, c.data)
			}
			err := domain.CheckOrder(c.typ, d, view(t, c.view...))
			if c.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if domain.KindOf(err) != domain.KindConflict || domain.OrderRuleOf(err) != c.rule {
				t.Fatalf("got %v (rule %q), want a conflict by the rule %s", err, domain.OrderRuleOf(err), c.rule)
			}
			if !strings.Contains(err.Error(), "order rule "+c.rule) {
				t.Errorf("the refusal does not name its rule: %v", err)
			}
			if !namesField(err, c.field) {
				t.Errorf("the refusal does not name %s: %v", c.field, err)
			}
			if c.data != "" && c.field == "type" {
				// A rule on the type alone refuses with no data too.
				if domain.CheckOrder(c.typ, nil, view(t, c.view...)) == nil {
					t.Errorf("the type alone passes, the data does not")
				}
			}
		})
	}
}

// TestOrderRulesReadOnlyWhatTheyName: CheckOrder ignores events of types its
// rule does not read, and every type it reads is registered.
func TestOrderRulesReadOnlyWhatTheyName(t *testing.T) {
	for _, typ := range domain.EventTypes {
		for _, r := range domain.OrderReads(typ) {
			if !domain.KnownEventType(r) || len(domain.SectionsOf(r)) == 0 {
				t.Errorf("%s reads %s, which no reader reads", typ, r)
			}
		}
	}
	// A release date in a Released event's place proves nothing.
	v := view(t, [2]string{"ReleaseScheduled", schedule})
	if err := domain.CheckOrder(domain.OutcomeRecorded, nil, v); domain.OrderRuleOf(err) != domain.RuleOutcomeAfterRelease {
		t.Errorf("an outcome after a schedule only: %v", err)
	}
	if domain.OrderRuleOf(domain.Errorf(domain.KindConflict, "the case is closed")) != "" || domain.OrderRuleOf(nil) != "" {
		t.Error("OrderRuleOf names a rule for a refusal that is not one")
	}
}

func TestMonthsBetween(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     int
		ok       bool
	}{
		{"2027-09-30", "2028-03-30", 6, true},
		{"2027-09-30", "2028-03-29", 5, true},
		{"2027-01-31", "2027-02-28", 0, true},
		{"2027-01-15", "2029-01-15", 24, true},
		{"2027-01-15", "2027-01-14", 0, false},
		{"2027-01-15", "x", 0, false},
	} {
		if got, ok := domain.MonthsBetween(c.from, c.to); got != c.want || ok != c.ok {
			t.Errorf("MonthsBetween(%s, %s) = %d, %v; want %d, %v", c.from, c.to, got, ok, c.want, c.ok)
		}
	}
}

// TestRiskIndicatorsAreRatedOnTheToolsScale: each indicator's domain and
// rating belong to the assessment's tool (docs/domain.md, "Risk and needs").
func TestRiskIndicatorsAreRatedOnTheToolsScale(t *testing.T) {
	assess := func(tool, domain_, rating string) string {
		return `{"tool":"` + tool + `","assessed_at":"2026-02-01","overall_judgement":"moderate","indicators":[{"domain":"` + domain_ + `","indicator":"X1","rating":"` + rating + `"}]}`
	}
	for _, c := range []struct {
		tool, domain_, rating string
		field                 string // "" accepted
	}{
		{"VERA-2R", "beliefs-attitudes", "high", ""},
		{"VERA-2R", "beliefs-attitudes", "strongly-present", "data.indicators[0].rating"},
		{"VERA-2R", "intent", "low", "data.indicators[0].domain"},
		{"ERG22+", "intent", "strongly-present", ""},
		{"ERG22+", "intent", "high", "data.indicators[0].rating"},
		{"TRAP-18", "proximal-warning-behaviours", "present", ""},
		{"TRAP-18", "beliefs-attitudes", "present", "data.indicators[0].domain"},
		{"RADAR-iTE", "any-area", "unknown", ""},
		{"HCR-20", "any-domain", "moderate", ""},
		{"other", "any-domain", "present", "data.indicators[0].rating"},
		{"VERA-2R", "beliefs-attitudes", "extreme", "data.indicators[0].rating"},
	} {
		_, _, err := decode(t, domain.RiskAssessmentRecorded, assess(c.tool, c.domain_, c.rating))
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s %s %s refused: %v", c.tool, c.domain_, c.rating, err)
		case c.field != "" && !slices.Contains(fieldsOf(t, err), c.field):
			t.Errorf("%s %s %s: %v, want %s named", c.tool, c.domain_, c.rating, err, c.field)
		}
	}
	items := domain.DataSchema(domain.RiskAssessmentRecorded)
	p, _ := items.Property("indicators")
	rating, _ := p.Schema.Items.Property("rating")
	if len(rating.Schema.Rules) == 0 || !strings.Contains(rating.Schema.Rules[0], "ERG22+: not-present, partly-present, strongly-present") {
		t.Errorf("the schema does not state the tools' scales: %q", rating.Schema.Rules)
	}
	if _, ok := p.Schema.Items.Property("score"); ok {
		t.Error("an indicator has a score: the judgement is the assessor's, never computed")
	}
}

// TestNewFieldsAreCheckedAndOldDataStillReads: the fields issue 18 added are
// validated naming the field, and data stored before them (none of them
// given) still decodes, and still validates.
func TestNewFieldsAreCheckedAndOldDataStillReads(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  domain.EventType
		data string
		want string
	}{
		{"a goal id twice", domain.TreatmentPlanAdopted, `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","id":"G1"},{"stage":"identity","description":"e","responsible":"exit-ngo","id":"G1"}]}`, "data.goals[1].id"},
		{"a need area that is none", domain.TreatmentPlanAdopted, `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","needs":["moon"]}]}`, "data.goals[0].needs[0]"},
		{"a need named twice", domain.TreatmentPlanAdopted, `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","needs":["housing","housing"]}]}`, "data.goals[0].needs[1]"},
		{"a goal status that is none", domain.TreatmentPlanAdopted, `{"goals":[{"stage":"identity","description":"d","responsible":"exit-ngo","status":"done"}]}`, "data.goals[0].status"},
		{"an update without status", domain.GoalUpdated, `{"goal_id":"G1","date":"2026-05-01"}`, "data.status"},
		{"an action id twice", domain.CaseConferenceHeld, `{"date":"2026-03-01","participants":["exit-ngo"],"actions":[{"owner":"exit-ngo","description":"a","id":"A1"},{"owner":"exit-ngo","description":"b","id":"A1"}]}`, "data.actions[1].id"},
		{"a session without its series", domain.InterventionRecorded, `{"practice_code":"08","date":"2026-03-01","session_number":3}`, "data.session_number"},
		{"a session past its series", domain.InterventionRecorded, `{"practice_code":"08","date":"2026-03-01","series_ref":"S-1","session_number":21,"series_length":20}`, "data.session_number"},
		{"a group of one", domain.InterventionRecorded, `{"practice_code":"08","date":"2026-03-01","format":"group","group_size":1}`, "data.group_size"},
		{"lost to follow-up, yet observed", domain.OutcomeRecorded, `{"follow_up_at":"2028-01-01","lost_to_follow_up":true,"reintegration":{"housing":true}}`, "data.reintegration"},
		{"lost to follow-up, yet a recidivism", domain.OutcomeRecorded, `{"follow_up_at":"2028-01-01","lost_to_follow_up":true,"recidivism":"none"}`, "data.recidivism"},
		{"a hard case that is not a yes or no", domain.OutcomeRecorded, `{"follow_up_at":"2028-01-01","citizenship_lost":"yes"}`, "data.citizenship_lost"},
		{"a transfer to nowhere", domain.Transferred, `{"date":"2026-05-01","regime":"mixed"}`, "data.facility"},
		{"a regime that is none", domain.Transferred, `{"date":"2026-05-01","facility":"F","regime":"dispersal"}`, "data.regime"},
		{"a participation that is none", domain.CaseOpened, `{"subject_ref":"P-1","target_group":"islamist","participation":"forced"}`, "data.participation"},
		{"mentoring ended for nobody", domain.MentoringEnded, `{"ended_at":"2028-01-01"}`, "data.mentor_org"},
		{"a change that is none", domain.RiskAssessmentRecorded, `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"low","change_since_previous":"better"}`, "data.change_since_previous"},
	} {
		_, _, err := decode(t, c.typ, c.data)
		if !slices.Contains(fieldsOf(t, err), c.want) {
			t.Errorf("%s: %v, want %s named", c.name, err, c.want)
		}
	}
	// Data as the hub stored it before these fields existed.
	for typ, stored := range map[domain.EventType]string{
		domain.CaseOpened:             `{"subject_ref":"P-2026-0001","target_group":"islamist","gender":"male","regime":"dispersion"}`,
		domain.RiskAssessmentRecorded: `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"moderate","domains":{"beliefs_attitudes":"high"},"notes":"n"}`,
		domain.TreatmentPlanAdopted:   `{"goals":[{"stage":"basic-needs","description":"stable housing","responsible":"municipality","due":"2027-01-01"}]}`,
		domain.InterventionRecorded:   `{"practice_code":"08","date":"2026-03-01","format":"group","duration_minutes":90}`,
		domain.CaseConferenceHeld:     `{"date":"2026-03-01","participants":["prison-service"],"actions":[{"owner":"municipality","description":"find a flat"}]}`,
		domain.MentorAssigned:         `{"mentor_org":"exit-ngo","mentor_ref":"M-12"}`,
		domain.OutcomeRecorded:        `{"follow_up_at":"2028-03-01","months_since_release":6,"reintegration":{"housing":true,"employment":false,"social_network":true},"recidivism":"none"}`,
	} {
		if _, err := domain.RehydrateData(typ, []byte(stored)); err != nil {
			t.Errorf("stored %s no longer reads: %v", typ, err)
		}
		if _, canonical, err := decode(t, typ, stored); err != nil || string(canonical) != stored {
			t.Errorf("old %s data: %v, canonical %s", typ, err, canonical)
		}
	}
}
