package domain_test

import (
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// history builds a case from events given as (type, originator, data) and returns it.
func history(t *testing.T, events ...domain.Event) *domain.Case {
	t.Helper()
	c := &domain.Case{}
	for i, e := range events {
		e.CaseID = "c1"
		e.Version = uint64(i + 1)
		if e.RecordedAt.IsZero() {
			e.RecordedAt = t0.Add(time.Duration(i) * time.Minute)
		}
		c.Apply(e)
	}
	return c
}

func ev(typ domain.EventType, org string, data domain.Data) domain.Event {
	return domain.Event{Type: typ, Originator: org, Author: "u-" + org, Data: data}
}

var opened = ev(domain.CaseOpened, "prison-service", domain.CaseOpenedData{SubjectRef: "P-1", TargetGroup: "islamist", Regime: "separation"})

func TestStageMovesForwardOnly(t *testing.T) {
	c := history(t, opened,
		ev(domain.TreatmentPlanAdopted, "prison-service", domain.TreatmentPlanData{}),
		ev(domain.RiskAssessmentRecorded, "prison-service", domain.RiskAssessmentData{}),
	)
	if got, want := c.Stage, domain.StageIntervention; got != want {
		t.Errorf("stage %s, want %s", got, want)
	}
	c.Apply(domain.Event{Type: domain.ReleaseScheduled, Version: 4, Data: domain.ReleaseScheduledData{ReleaseDate: "2027-01-01"}})
	if got, want := c.Stage, domain.StageTransition; got != want {
		t.Errorf("stage %s, want %s", got, want)
	}
	if got, want := c.Profile.ReleaseDate, "2027-01-01"; got != want {
		t.Errorf("release date %s, want %s", got, want)
	}
}

func TestConsentIsGivenAndWithdrawnPerOrganisation(t *testing.T) {
	c := history(t, opened,
		ev(domain.ConsentGiven, "prison-service", domain.ConsentGivenData{Organisations: []string{"exit-ngo", "municipality"}, ExpiresAt: "2027-01-31"}),
		ev(domain.ConsentWithdrawn, "exit-ngo", domain.ConsentWithdrawnData{Organisations: []string{"exit-ngo"}}),
	)
	if _, ok := c.Consent["exit-ngo"]; ok {
		t.Error("withdrawn consent still covers exit-ngo")
	}
	if got := c.Consent["municipality"].ExpiresAt; got != "2027-01-31" {
		t.Errorf("municipality consent expires %q, want 2027-01-31", got)
	}
	before := c.Clone()
	c.Apply(domain.Event{Type: domain.ConsentWithdrawn, Version: 4, Data: domain.ConsentWithdrawnData{All: true}})
	if len(c.Consent) != 0 {
		t.Errorf("withdrawal of all left %v", c.Consent)
	}
	if len(before.Consent) != 1 {
		t.Errorf("a clone changed with the original: %v", before.Consent)
	}
}

func TestClosedAndErasedCasesTakeNoMoreEvents(t *testing.T) {
	var none domain.Case
	if got := domain.KindOf(none.CheckAppend(domain.NeedsAssessmentRecorded)); got != domain.KindNotFound {
		t.Errorf("append to no case: %s, want not-found", got)
	}
	if err := none.CheckAppend(domain.CaseOpened); err != nil {
		t.Errorf("opening a new case refused: %v", err)
	}
	c := history(t, opened, ev(domain.CaseClosed, "prison-service", domain.CaseClosedData{Reason: "done"}))
	if got := domain.KindOf(c.CheckAppend(domain.NeedsAssessmentRecorded)); got != domain.KindConflict {
		t.Errorf("append to closed case: %s, want conflict", got)
	}
	if got := domain.KindOf(c.CheckAppend(domain.CaseOpened)); got != domain.KindConflict {
		t.Errorf("reopening: %s, want conflict", got)
	}
	if err := c.CheckAppend(domain.CaseErased); err != nil {
		t.Errorf("erasing a closed case refused: %v", err)
	}
	c.Apply(domain.Event{Type: domain.CaseErased, Version: 3, Data: domain.CaseErasedData{LegalBasis: "retention"}})
	if got := domain.KindOf(c.CheckAppend(domain.CaseErased)); got != domain.KindGone {
		t.Errorf("append to erased case: %s, want gone", got)
	}
	if c.Consent != nil || c.Profile.TargetGroup != "" {
		t.Errorf("erased case keeps content: %+v", c)
	}
}

func TestBreakGlassGrantsExpireAndArePruned(t *testing.T) {
	exp := t0.Add(time.Hour)
	c := history(t, opened, domain.Event{Type: domain.BreakGlassInvoked, Originator: "intelligence-service", Author: "ia-fay",
		Data: domain.BreakGlassData{Justification: "imminent threat reported by prison security", ExpiresAt: domain.FormatTime(exp)}})
	if len(c.BreakGlass) != 1 || c.BreakGlass[0].Subject != "ia-fay" || !c.BreakGlass[0].ExpiresAt.Equal(exp) {
		t.Fatalf("grants %+v", c.BreakGlass)
	}
	if got := c.NextChange(t0); !got.Equal(exp) {
		t.Errorf("NextChange = %v, want %v", got, exp)
	}
	c.Apply(domain.Event{Type: domain.InterventionRecorded, Version: 3, RecordedAt: exp.Add(time.Second), Data: domain.InterventionData{}})
	if len(c.BreakGlass) != 0 {
		t.Errorf("expired grant kept: %+v", c.BreakGlass)
	}
}

func TestPolicyKeyIsSharedByCasesInTheSameState(t *testing.T) {
	a := history(t, opened, ev(domain.CounsellingNoteAdded, "exit-ngo", domain.CounsellingNoteData{}))
	b := history(t, ev(domain.CaseOpened, "probation-service", domain.CaseOpenedData{SubjectRef: "P-2", TargetGroup: "returnee"}),
		ev(domain.CounsellingNoteAdded, "exit-ngo", domain.CounsellingNoteData{}))
	b.ID = "other"
	// The profile writers differ (prison vs probation), so the keys must too.
	if a.PolicyKey() == b.PolicyKey() {
		t.Errorf("different writers share a key: %s", a.PolicyKey())
	}
	c := history(t, opened, ev(domain.CounsellingNoteAdded, "exit-ngo", domain.CounsellingNoteData{Date: "2026-01-01", Note: "other content"}))
	if a.PolicyKey() != c.PolicyKey() {
		t.Errorf("same state, different keys: %s vs %s", a.PolicyKey(), c.PolicyKey())
	}
	c.Apply(ev(domain.ConsentGiven, "prison-service", domain.ConsentGivenData{Organisations: []string{"exit-ngo"}}))
	if a.PolicyKey() == c.PolicyKey() {
		t.Error("consent did not change the key")
	}
}

func TestConsentExpiryIsANextChange(t *testing.T) {
	c := history(t, opened, ev(domain.ConsentGiven, "prison-service", domain.ConsentGivenData{Organisations: []string{"exit-ngo"}, ExpiresAt: "2026-04-01"}))
	want := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if got := c.NextChange(t0); !got.Equal(want) {
		t.Errorf("NextChange = %v, want %v", got, want)
	}
	if got := c.NextChange(want); !got.IsZero() {
		t.Errorf("NextChange after expiry = %v, want zero", got)
	}
}
