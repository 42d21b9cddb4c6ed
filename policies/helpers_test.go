package policies_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// now is the fixed time of the tests (the Rego fixtures use the same instant).
var now = time.Date(2026, 11, 26, 20, 46, 9, 0, time.UTC)

// Identities of the demo directory (docs/protocol.md, "Organisations and
// roles").
var (
	prisonCaseworker   = who("pc-anna", "prison-service", "caseworker")
	prisonPsychologist = who("pp-ben", "prison-service", "psychologist")
	securityOfficer    = who("ps-carl", "prison-service", "security-officer")
	prisonManager      = who("pm-dora", "prison-service", "manager")
	probationOfficer   = who("po-emil", "probation-service", "officer")
	analyst            = who("ia-fay", "intelligence-service", "analyst")
	otherAnalyst       = who("ia-other", "intelligence-service", "analyst")
	coordinator        = who("mc-gus", "municipality", "coordinator")
	mentor             = who("ng-hana", "exit-ngo", "mentor")
	auditor            = who("au-jon", "oversight-board", "auditor")
	dpo                = who("dp-kim", "oversight-board", "dpo")
	researcher         = who("rs-lea", "research-institute", "researcher")
)

func who(sub, agency string, roles ...string) domain.Identity {
	return domain.Identity{Subject: sub, Agency: agency, Roles: roles}
}

// newAuthorizer returns an Authorizer on the default bundle.
func newAuthorizer(t testing.TB, opts policies.Options) *policies.Authorizer {
	t.Helper()
	a, err := policies.New(context.Background(), policies.Default(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// caseOf builds a case by applying events in order, each recorded a minute
// apart before now, as the projections do.
func caseOf(events ...domain.Event) *domain.Case {
	c := &domain.Case{}
	for i, e := range events {
		e.CaseID = "case-1"
		e.Version = uint64(i + 1)
		if e.RecordedAt.IsZero() {
			e.RecordedAt = now.Add(time.Duration(i-len(events)) * time.Minute)
		}
		c.Apply(e)
	}
	return c
}

// ev is an event of type typ written by w with data d.
func ev(w domain.Identity, d domain.Data) domain.Event {
	return domain.Event{Type: d.EventType(), Originator: w.Agency, Author: w.Subject, Data: d}
}

var opened = ev(prisonCaseworker, domain.CaseOpenedData{SubjectRef: "P-2026-0001", TargetGroup: "islamist"})

func consent(orgs ...string) domain.Event {
	return ev(prisonCaseworker, domain.ConsentGivenData{Organisations: orgs})
}

func consentUntil(date string, orgs ...string) domain.Event {
	return ev(prisonCaseworker, domain.ConsentGivenData{Organisations: orgs, ExpiresAt: date})
}

func withdraw(orgs ...string) domain.Event {
	return ev(prisonCaseworker, domain.ConsentWithdrawnData{Organisations: orgs})
}

func breakGlass(w domain.Identity, until time.Time) domain.Event {
	e := ev(w, domain.BreakGlassData{Justification: "imminent threat reported by prison security", ExpiresAt: domain.FormatTime(until)})
	e.RecordedAt = now.Add(-time.Second)
	return e
}

var riskAssessment = ev(prisonPsychologist, domain.RiskAssessmentData{Tool: "VERA-2R", AssessedAt: "2026-02-01", OverallJudgement: "moderate"})

var needsAssessment = ev(prisonCaseworker, domain.NeedsAssessmentData{Needs: []domain.Need{{Area: "housing", Level: "high"}}})

// bundleDir writes the default bundle to a temporary directory, applies edits
// (file name → new content, "" removes the file) and returns the directory.
func bundleDir(t testing.TB, edits map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := policies.Default().WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for name, content := range edits {
		p := filepath.Join(dir, filepath.FromSlash(name))
		var err error
		if content == "" {
			err = os.Remove(p)
		} else {
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.WriteFile(p, []byte(content), 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withoutTests is an edit that removes every test file of the default bundle,
// for bundles whose data a test changes on purpose.
func withoutTests(edits map[string]string) map[string]string {
	out := map[string]string{}
	for _, name := range policies.Default().Files() {
		if strings.HasSuffix(name, "_test.rego") {
			out[name] = ""
		}
	}
	for k, v := range edits {
		out[k] = v
	}
	return out
}

// defaultFile returns a file of the default bundle.
func defaultFile(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := policies.Default().WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equal[T comparable](a, b []T) bool { return slices.Equal(a, b) }
