package policies_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// The cache must never outlive what a decision depends on: each change below
// takes effect on the very next decision.
func TestChangesTakeEffectOnTheNextDecision(t *testing.T) {
	ctx := context.Background()
	read := func(t *testing.T, a *policies.Authorizer, id domain.Identity, purpose string, c *domain.Case, s domain.Section, at time.Time) policies.SectionDecision {
		t.Helper()
		d, err := a.ReadSection(ctx, policies.ReadQuery{Identity: id, Purpose: purpose, Case: c, Now: at}, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	expect := func(t *testing.T, d policies.SectionDecision, allow bool, kind domain.Kind) {
		t.Helper()
		if d.Allow != allow || (!allow && d.Kind != kind) {
			t.Errorf("decision = %+v, want allow=%v kind=%v", d, allow, kind)
		}
	}

	t.Run("a consent withdrawal hides the case at once", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		given := caseOf(opened, consent("exit-ngo"))
		expect(t, read(t, a, mentor, "reintegration", given, domain.SectionNeeds, now), true, 0)
		withdrawn := caseOf(opened, consent("exit-ngo"), withdraw("exit-ngo"))
		expect(t, read(t, a, mentor, "reintegration", withdrawn, domain.SectionNeeds, now), false, domain.KindNotFound)
		if a.CachedDecisions() == 0 {
			t.Error("nothing was cached")
		}
	})

	t.Run("a stage change opens the section at once", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		assessed := caseOf(opened, needsAssessment)
		expect(t, read(t, a, probationOfficer, "case-management", assessed, domain.SectionNeeds, now), false, domain.KindForbidden)
		plan := ev(prisonCaseworker, domain.TransitionPlanData{PlannedRelease: "2027-09-30"})
		expect(t, read(t, a, probationOfficer, "case-management", caseOf(opened, needsAssessment, plan), domain.SectionNeeds, now), true, 0)
	})

	t.Run("consent ends on its expiry date", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		c := caseOf(opened, consentUntil("2026-11-27", "exit-ngo"))
		midnight := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
		expect(t, read(t, a, mentor, "reintegration", c, domain.SectionNeeds, now), true, 0)
		expect(t, read(t, a, mentor, "reintegration", c, domain.SectionNeeds, midnight.Add(-time.Second)), true, 0)
		expect(t, read(t, a, mentor, "reintegration", c, domain.SectionNeeds, midnight), false, domain.KindNotFound)
	})

	t.Run("a break-glass grant ends on its expiry", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		until := now.Add(time.Hour)
		c := caseOf(opened, needsAssessment, breakGlass(analyst, until))
		d := read(t, a, analyst, "risk-management", c, domain.SectionNeeds, now)
		expect(t, d, true, 0)
		if !d.BreakGlass {
			t.Error("a section opened by break-glass is not flagged")
		}
		expect(t, read(t, a, analyst, "risk-management", c, domain.SectionNeeds, until.Add(-time.Second)), true, 0)
		expect(t, read(t, a, analyst, "risk-management", c, domain.SectionNeeds, until), false, domain.KindForbidden)
	})

	t.Run("a decision made later is not reused for an earlier time", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		until := now.Add(time.Hour)
		c := caseOf(opened, needsAssessment, breakGlass(analyst, until))
		expect(t, read(t, a, analyst, "risk-management", c, domain.SectionNeeds, until), false, domain.KindForbidden)
		expect(t, read(t, a, analyst, "risk-management", c, domain.SectionNeeds, now), true, 0)
	})

	t.Run("a reload takes effect at once and empties the cache", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		c := caseOf(opened, consent("municipality"))
		expect(t, read(t, a, coordinator, "reintegration", c, domain.SectionProfile, now), true, 0)
		if err := a.Reload(ctx, withoutPurpose(t, "municipality", "reintegration")); err != nil {
			t.Fatal(err)
		}
		if n := a.CachedDecisions(); n != 0 {
			t.Errorf("%d decisions cached after a reload", n)
		}
		d := read(t, a, coordinator, "reintegration", c, domain.SectionProfile, now)
		expect(t, d, false, domain.KindForbidden)
		if d.Revision != a.Revision() || d.Revision == policies.Default().Revision() {
			t.Errorf("decision of revision %s, in force %s", d.Revision, a.Revision())
		}
	})
}

// withoutPurpose returns the default bundle (without its tests) in which
// organisation type orgType may no longer read for purpose.
func withoutPurpose(t testing.TB, orgType, purpose string) *policies.Bundle {
	t.Helper()
	data := defaultFile(t, "protocol/read/data.json")
	line := `"` + orgType + `": ["` + purpose + `", `
	if !strings.Contains(data, line) {
		t.Fatalf("no %s in the purposes of the default data", line)
	}
	data = strings.Replace(data, line, `"`+orgType+`": [`, 1)
	return load(t, bundleDir(t, withoutTests(map[string]string{"protocol/read/data.json": data})))
}

func TestReload(t *testing.T) {
	ctx := context.Background()
	q := policies.ReadQuery{Identity: coordinator, Purpose: "reintegration", Case: caseOf(opened, consent("municipality")), Now: now}

	t.Run("a refused bundle leaves the policy in force", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		before := a.Revision()
		lacking := load(t, bundleDir(t, withoutTests(map[string]string{
			"liaison/read.rego":       "package liaison.read\n\ncase_decision := 1\n",
			"liaison/read_items.rego": "",
		})))
		for name, b := range map[string]*policies.Bundle{"no bundle": nil, "a bundle without section decisions": lacking} {
			if err := a.Reload(ctx, b); err == nil {
				t.Errorf("Reload(%s) succeeded", name)
			}
		}
		if a.Revision() != before {
			t.Errorf("revision %s after refused reloads, want %s", a.Revision(), before)
		}
		if d, err := a.ReadSection(ctx, q, domain.SectionProfile); err != nil || !d.Allow || d.Revision != before {
			t.Errorf("ReadSection = %+v, %v; want allowed by %s", d, err, before)
		}
	})

	t.Run("reads during reloads each follow one whole bundle", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{CacheEntries: 64})
		open, closed := policies.Default(), withoutPurpose(t, "municipality", "reintegration")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					d, err := a.ReadCase(ctx, q)
					switch {
					case err != nil:
						t.Error(err)
						return
					case d.Revision == open.Revision() && !d.Allow, d.Revision == closed.Revision() && d.Allow:
						t.Errorf("decision %+v disagrees with its bundle", d)
						return
					}
				}
			})
		}
		for i := range 20 {
			b := open
			if i%2 == 0 {
				b = closed
			}
			if err := a.Reload(ctx, b); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
	})
}

func TestDirectory(t *testing.T) {
	a := newAuthorizer(t, policies.Options{})
	dir := a.Directory()
	want := domain.MapDirectory{
		"prison-service": domain.OrgPrison, "probation-service": domain.OrgProbation,
		"intelligence-service": domain.OrgIntelligence, "municipality": domain.OrgMunicipality,
		"exit-ngo": domain.OrgCivilSociety, "family-support": domain.OrgFamilySupport,
		"oversight-board": domain.OrgOversight, "research-institute": domain.OrgResearch,
	}
	if len(dir) != len(want) {
		t.Fatalf("directory = %v, want %v", dir, want)
	}
	for id, typ := range want {
		if got, ok := dir.TypeOf(id); !ok || got != typ {
			t.Errorf("TypeOf(%s) = %s, %v; want %s", id, got, ok, typ)
		}
	}
	if err := a.Reload(context.Background(), withoutPurpose(t, "municipality", "reintegration")); err != nil {
		t.Fatal(err)
	}
	if len(dir) != len(want) || len(a.Directory()) != len(want) {
		t.Error("a reload changed the directory")
	}
}

func TestCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, policies.Options{CacheEntries: 128})
	c := caseOf(opened)
	for i := range 400 {
		id := who(fmt.Sprintf("pc-%d", i), "prison-service", "caseworker")
		if _, err := a.ReadCase(ctx, policies.ReadQuery{Identity: id, Purpose: "case-management", Case: c, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.CachedDecisions(); n == 0 || n > 128 {
		t.Errorf("%d decisions cached, want 1..128", n)
	}
}
