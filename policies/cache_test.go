package policies_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// randomCase builds a case from a random history: stage moves, consent given
// (some with an expiry around now) and withdrawn, writers in several sections,
// break-glass grants ending around now.
func randomCase(r *rand.Rand) *domain.Case {
	events := []domain.Event{opened}
	orgs := []string{"exit-ngo", "municipality", "family-support"}
	pick := func() string { return orgs[r.IntN(len(orgs))] }
	for range r.IntN(8) {
		var e domain.Event
		switch r.IntN(9) {
		case 0:
			e = consent(pick())
		case 1:
			e = consentUntil([]string{"2026-11-26", "2026-11-27", "2026-11-28"}[r.IntN(3)], pick())
		case 2:
			e = withdraw(pick())
		case 3:
			e = riskAssessment
		case 4:
			e = needsAssessment
		case 5:
			e = ev(prisonCaseworker, domain.TransitionPlanData{PlannedRelease: "2027-09-30"})
		case 6:
			e = ev(who("x", pick(), "mentor"), domain.RiskDisclosureData{Concern: "c", Urgency: "urgent"})
		case 7:
			e = ev(mentor, domain.CounsellingNoteData{Date: "2026-03-01", Note: "n"})
		case 8:
			e = breakGlass([]domain.Identity{analyst, probationOfficer}[r.IntN(2)], now.Add(time.Duration(r.IntN(120)-30)*time.Minute))
		}
		events = append(events, e)
	}
	return caseOf(events...)
}

// The cache must answer exactly what an evaluation answers, whatever the order
// of queries and the time of each.
func TestCacheAgreesWithEvaluation(t *testing.T) {
	ctx := context.Background()
	cached := newAuthorizer(t, policies.Options{CacheEntries: 512})
	fresh := newAuthorizer(t, policies.Options{CacheEntries: -1})
	r := rand.New(rand.NewPCG(1, 2))
	cases := make([]*domain.Case, 40)
	for i := range cases {
		cases[i] = randomCase(r)
	}
	readers := []domain.Identity{prisonCaseworker, probationOfficer, analyst, coordinator, mentor, auditor}
	purposes := []string{"case-management", "risk-management", "reintegration"}
	labels := []domain.TLP{domain.TLPGreen, domain.TLPAmber, domain.TLPAmberStrict, domain.TLPRed}
	n := 1500
	if testing.Short() {
		n = 300
	}
	for range n {
		q := policies.ReadQuery{
			Identity: readers[r.IntN(len(readers))],
			Purpose:  purposes[r.IntN(len(purposes))],
			Case:     cases[r.IntN(len(cases))],
			Now:      now.Add(time.Duration(r.IntN(48*60)-60) * time.Minute),
		}
		s := domain.Sections[r.IntN(len(domain.Sections))]
		it := policies.Item{Type: domain.NeedsAssessmentRecorded, Originator: []string{"prison-service", "exit-ngo"}[r.IntN(2)], Classification: labels[r.IntN(len(labels))], ShareWith: []string{"intelligence-service"}}
		c1, err1 := cached.ReadCase(ctx, q)
		c2, err2 := fresh.ReadCase(ctx, q)
		agree(t, "case", q, s, c1, err1, c2, err2)
		s1, err1 := cached.ReadSection(ctx, q, s)
		s2, err2 := fresh.ReadSection(ctx, q, s)
		agree(t, "section", q, s, s1, err1, s2, err2)
		i1, err1 := cached.ReadItem(ctx, q, s, it)
		i2, err2 := fresh.ReadItem(ctx, q, s, it)
		agree(t, "item", q, s, i1, err1, i2, err2)
	}
}

// agree compares a cached answer with an evaluated one.
func agree[D any](t *testing.T, what string, q policies.ReadQuery, s domain.Section, got D, err error, want D, err2 error) {
	t.Helper()
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s of %s at %s on %s (%s): cached %+v, evaluated %+v", what, q.Identity.Subject, q.Now.Format(time.RFC3339), q.Case.PolicyKey(), s, got, want)
	}
}

// Section and item decisions are keyed by the facts of the section asked: two
// cases that differ only in who wrote in another section share them, while the
// case decision (which sees every section) tells them apart.
func TestSectionDecisionsAreSharedByCasesAlikeInThatSection(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, policies.Options{})
	plain := caseOf(opened, consent("exit-ngo"))
	counselled := caseOf(opened, consent("exit-ngo"), ev(mentor, domain.CounsellingNoteData{Date: "2026-03-01", Note: "n"}))
	q := func(c *domain.Case) policies.ReadQuery {
		return policies.ReadQuery{Identity: prisonCaseworker, Purpose: "case-management", Case: c, Now: now}
	}
	if _, err := a.ReadSection(ctx, q(plain), domain.SectionProfile); err != nil {
		t.Fatal(err)
	}
	before := a.CachedDecisions()
	d, err := a.ReadSection(ctx, q(counselled), domain.SectionProfile)
	if err != nil || !d.Allow {
		t.Fatalf("profile of the counselled case: %+v, %v", d, err)
	}
	if got := a.CachedDecisions(); got != before {
		t.Errorf("a case alike in the profile section was decided again (%d cached, was %d)", got, before)
	}
	// The counselling section itself differs: its decision is not shared.
	own, err := a.ReadSection(ctx, policies.ReadQuery{Identity: mentor, Purpose: "reintegration", Case: counselled, Now: now}, domain.SectionCounselling)
	if err != nil || !own.Allow {
		t.Errorf("the mentor's own counselling section: %+v, %v", own, err)
	}
	if _, err := a.ReadCase(ctx, q(plain)); err != nil {
		t.Fatal(err)
	}
	n := a.CachedDecisions()
	if _, err := a.ReadCase(ctx, q(counselled)); err != nil {
		t.Fatal(err)
	}
	if a.CachedDecisions() == n {
		t.Error("the case decision of two cases with different writers was shared")
	}
}

// Section and item decisions see only the caller's consent and break-glass
// grants: cases that differ in another organisation's consent share them,
// and cases that differ in the caller's own consent do not.
func TestSectionDecisionsAreSharedByCasesAlikeForTheCaller(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, policies.Options{})
	read := func(id domain.Identity, purpose string, c *domain.Case) policies.SectionDecision {
		t.Helper()
		d, err := a.ReadSection(ctx, policies.ReadQuery{Identity: id, Purpose: purpose, Case: c, Now: now}, domain.SectionProfile)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	read(prisonCaseworker, "case-management", caseOf(opened, consentUntil("2027-01-31", "exit-ngo")))
	before := a.CachedDecisions()
	if d := read(prisonCaseworker, "case-management", caseOf(opened, consentUntil("2027-03-15", "exit-ngo", "municipality"))); !d.Allow {
		t.Fatalf("the prison reads the profile: %+v", d)
	}
	if got := a.CachedDecisions(); got != before {
		t.Errorf("another organisation's consent made the prison's decision again (%d cached, was %d)", got, before)
	}
	with := read(mentor, "reintegration", caseOf(opened, consentUntil("2027-01-31", "exit-ngo")))
	without := read(mentor, "reintegration", caseOf(opened, consentUntil("2027-01-31", "municipality")))
	if !with.Allow || without.Allow {
		t.Errorf("the exit worker with consent: %+v; without: %+v", with, without)
	}
}
