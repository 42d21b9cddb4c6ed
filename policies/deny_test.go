package policies_test

import (
	"context"
	"errors"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// oddBundle is a bundle, without tests, whose decision rules are written by
// each test: they answer only for some inputs, or in the wrong shape.
func oddBundle(t testing.TB, read, write, service string) *policies.Bundle {
	t.Helper()
	return load(t, writeBundle(t, map[string]string{
		"data.json":            minimalData,
		"liaison/read.rego":    "package liaison.read\n\naudience := set()\n\n" + read,
		"liaison/write.rego":   "package liaison.write\n\nwritable := {}\n\n" + write,
		"liaison/service.rego": "package liaison.service\n\n" + service,
	}))
}

// Rules that answer only for the profile section, the exit-ngo organisation,
// CaseOpened and the stats action.
const (
	partialRead = `
case_decision := {"status": 200, "sections": ["profile"], "break_glass": false, "reasons": []} if input.subject.agency == "exit-ngo"
section_decision := {"status": 200, "break_glass": false, "reasons": []} if input.section == "profile"
item_decision := {"visible": true, "fields": ["note"], "author": true, "break_glass": false, "reasons": []} if input.section == "profile"
`
	partialWrite   = `decision := {"status": 201, "classification": "TLP:GREEN", "share_with": [], "errors": [], "reasons": []} if input.event.type == "CaseOpened"`
	partialService = `decision := {"status": 200, "reasons": []} if input.action == "stats"`
)

func TestDenyWhenThePolicyDoesNotDecide(t *testing.T) {
	ctx := context.Background()
	a, err := policies.New(ctx, oddBundle(t, partialRead, partialWrite, partialService), policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := caseOf(opened)
	q := policies.ReadQuery{Identity: mentor, Purpose: "reintegration", Case: c, Now: now}
	other := policies.ReadQuery{Identity: prisonCaseworker, Purpose: "case-management", Case: c, Now: now}
	item := policies.Item{Type: domain.CaseOpened, Originator: "prison-service", Classification: domain.TLPGreen}

	t.Run("a defined answer is taken", func(t *testing.T) {
		if d, err := a.ReadSection(ctx, q, domain.SectionProfile); err != nil || !d.Allow {
			t.Errorf("ReadSection(profile) = %+v, %v; want allowed", d, err)
		}
	})
	t.Run("an undefined case decision is forbidden", func(t *testing.T) {
		d, err := a.ReadCase(ctx, other)
		assertDenied(t, d.Decision, err, policies.ErrUndefined)
		if len(d.Sections) != 0 {
			t.Errorf("sections %v on a denied case", d.Sections)
		}
	})
	t.Run("an undefined section decision is forbidden", func(t *testing.T) {
		d, err := a.ReadSection(ctx, q, domain.SectionRisk)
		assertDenied(t, d.Decision, err, policies.ErrUndefined)
	})
	t.Run("an undefined item decision hides the item", func(t *testing.T) {
		d, err := a.ReadItem(ctx, q, domain.SectionRisk, item)
		if !errors.Is(err, policies.ErrUndefined) || d.Visible || len(d.Fields) != 0 || d.Author {
			t.Errorf("ReadItem = %+v, %v; want hidden and ErrUndefined", d, err)
		}
	})
	t.Run("an undefined write decision is forbidden", func(t *testing.T) {
		d, err := a.Append(ctx, policies.WriteQuery{Identity: prisonCaseworker, Case: c, Type: domain.ConsentGiven, Now: now})
		assertDenied(t, d.Decision, err, policies.ErrUndefined)
	})
	t.Run("an undefined service decision is forbidden", func(t *testing.T) {
		d, err := a.Service(ctx, auditor, "oversight", "audit.records")
		assertDenied(t, d, err, policies.ErrUndefined)
	})
}

func TestDenyOnAWrongShape(t *testing.T) {
	ctx := context.Background()
	c := caseOf(opened)
	q := policies.ReadQuery{Identity: prisonCaseworker, Purpose: "case-management", Case: c, Now: now}
	cases := []struct {
		name, read, write, service string
	}{
		{"a status given as a string is forbidden",
			`section_decision := {"status": "200", "break_glass": false, "reasons": []}`,
			`decision := {"status": "201", "classification": "TLP:GREEN", "share_with": [], "errors": [], "reasons": []}`,
			`decision := {"status": "200", "reasons": []}`},
		{"a status outside the decision's statuses is forbidden",
			`section_decision := {"status": 201, "break_glass": false, "reasons": []}`,
			`decision := {"status": 200, "classification": "TLP:GREEN", "share_with": [], "errors": [], "reasons": []}`,
			`decision := {"status": 302, "reasons": []}`},
		{"a missing field is forbidden",
			`section_decision := {"status": 200, "reasons": []}`,
			`decision := {"status": 201, "share_with": [], "errors": [], "reasons": []}`,
			`decision := {"status": 200}`},
		{"a decision that is not an object is forbidden",
			`section_decision := true`, `decision := true`, `decision := 200`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := policies.New(ctx, oddBundle(t, tc.read+"\ncase_decision := 1\nitem_decision := 1", tc.write, tc.service), policies.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.ReadSection(ctx, q, domain.SectionRisk)
			assertDenied(t, s.Decision, err, policies.ErrShape)
			w, err := a.Append(ctx, policies.WriteQuery{Identity: prisonCaseworker, Type: domain.CaseOpened, Now: now})
			assertDenied(t, w.Decision, err, policies.ErrShape)
			d, err := a.Service(ctx, auditor, "oversight", "stats")
			assertDenied(t, d, err, policies.ErrShape)
		})
	}
	t.Run("an item whose fields are not a list is hidden", func(t *testing.T) {
		a, err := policies.New(ctx, oddBundle(t, `item_decision := {"visible": true, "fields": "all", "author": true, "break_glass": false, "reasons": []}
case_decision := 1
section_decision := 1`, partialWrite, partialService), policies.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.ReadItem(ctx, q, domain.SectionRisk, policies.Item{Type: domain.RiskAssessmentRecorded, Originator: "prison-service", Classification: domain.TLPGreen})
		if !errors.Is(err, policies.ErrShape) || d.Visible || d.Fields != nil {
			t.Errorf("ReadItem = %+v, %v; want hidden and ErrShape", d, err)
		}
	})
}

func TestDenyOnAnEvaluationError(t *testing.T) {
	ctx := context.Background()
	// Two definitions that disagree: OPA fails the evaluation (conflict).
	conflicting := `
section_decision := {"status": 200, "break_glass": false, "reasons": []} if input.section
section_decision := {"status": 403, "break_glass": false, "reasons": []} if input.purpose
case_decision := 1
item_decision := 1`
	a, err := policies.New(ctx, oddBundle(t, conflicting, partialWrite, partialService), policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := policies.ReadQuery{Identity: prisonCaseworker, Purpose: "case-management", Case: caseOf(opened), Now: now}
	t.Run("a conflict in the policy is forbidden", func(t *testing.T) {
		d, err := a.ReadSection(ctx, q, domain.SectionRisk)
		assertDenied(t, d.Decision, err, nil)
		var te *topdown.Error
		if !errors.As(err, &te) || te.Code != topdown.ConflictErr {
			t.Errorf("error = %v, want an OPA conflict error", err)
		}
	})
	t.Run("a cancelled evaluation is forbidden", func(t *testing.T) {
		def := newAuthorizer(t, policies.Options{CacheEntries: -1})
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		d, err := def.ReadSection(cancelled, q, domain.SectionRisk)
		assertDenied(t, d.Decision, err, nil)
		var te *topdown.Error
		if !errors.Is(err, context.Canceled) && (!errors.As(err, &te) || te.Code != topdown.CancelErr) {
			t.Errorf("error = %v, want context.Canceled or an OPA cancel error", err)
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		def := newAuthorizer(t, policies.Options{})
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := def.ReadSection(cancelled, q, domain.SectionRisk); err == nil {
			t.Fatal("cancelled evaluation succeeded")
		}
		if d, err := def.ReadSection(ctx, q, domain.SectionRisk); err != nil || !d.Allow {
			t.Errorf("ReadSection after a failed one = %+v, %v; want allowed", d, err)
		}
	})
}

// assertDenied checks a deny of KindForbidden with an error (wrapping want when
// want is not nil).
func assertDenied(t *testing.T, d policies.Decision, err, want error) {
	t.Helper()
	if err == nil || (want != nil && !errors.Is(err, want)) {
		t.Errorf("error = %v, want %v", err, want)
	}
	if d.Allow || d.Kind != domain.KindForbidden {
		t.Errorf("decision = %+v, want a deny of kind forbidden", d)
	}
}
