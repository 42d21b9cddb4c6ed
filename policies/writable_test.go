package policies_test

import (
	"context"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// TestWritableAgreesWithAppend checks that what Writable offers is exactly
// what Append allows: every type offered is appended with the label and
// share list offered when the writer gives none, every label offered is
// accepted, every type of the events endpoint not offered is refused, and
// break-glass is offered exactly when it would be granted.
func TestWritableAgreesWithAppend(t *testing.T) {
	a := newAuthorizer(t, policies.Options{})
	ctx := context.Background()
	cases := map[string]*domain.Case{
		"consented":  caseOf(opened, consent("probation-service", "exit-ngo", "municipality"), riskAssessment, needsAssessment),
		"no consent": caseOf(opened, riskAssessment),
		"closed":     caseOf(opened, consent("exit-ngo"), ev(prisonManager, domain.CaseClosedData{Reason: "completed"})),
	}
	people := []domain.Identity{prisonCaseworker, prisonPsychologist, securityOfficer, prisonManager, probationOfficer, analyst, coordinator, mentor, auditor, dpo, researcher}
	offered := 0
	for name, c := range cases {
		for _, id := range people {
			w, err := a.Writable(ctx, id, c, now)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, id.Subject, err)
			}
			if w.Status != 200 {
				// The case is unseen: a write would get the same status.
				d, err := a.Append(ctx, policies.WriteQuery{Identity: id, Case: c, Type: domain.NeedsAssessmentRecorded, Now: now})
				want := map[int]domain.Kind{404: domain.KindNotFound, 410: domain.KindGone}[w.Status]
				if err != nil || d.Allow || d.Kind != want {
					t.Errorf("%s, %s: writable %d, append %v (%v)", name, id.Subject, w.Status, d.Kind, err)
				}
				continue
			}
			for _, typ := range domain.EventTypes {
				if domain.OwnEndpoint(typ) != "" {
					if _, ok := w.Options[typ]; ok {
						t.Errorf("%s, %s: %s offered, which has an endpoint of its own", name, id.Subject, typ)
					}
					continue
				}
				d, err := a.Append(ctx, policies.WriteQuery{Identity: id, Case: c, Type: typ, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				opt, ok := w.Options[typ]
				if ok != d.Allow {
					t.Errorf("%s, %s, %s: offered %v, append allowed %v", name, id.Subject, typ, ok, d.Allow)
					continue
				}
				if !ok {
					continue
				}
				offered++
				if opt.Classification != d.Classification || !slices.Equal(opt.ShareWith, d.ShareWith) {
					t.Errorf("%s, %s, %s: offered default %s %v, append gives %s %v", name, id.Subject, typ, opt.Classification, opt.ShareWith, d.Classification, d.ShareWith)
				}
				for _, l := range opt.Labels {
					if d, err := a.Append(ctx, policies.WriteQuery{Identity: id, Case: c, Type: typ, Classification: l, Now: now}); err != nil || !d.Allow {
						t.Errorf("%s, %s, %s: label %s offered but refused", name, id.Subject, typ, l)
					}
				}
			}
			d, err := a.Append(ctx, policies.WriteQuery{Identity: id, Case: c, Type: domain.BreakGlassInvoked, Justification: "an imminent threat reported by prison security", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if w.BreakGlass != d.Allow {
				t.Errorf("%s, %s: break-glass offered %v, granted %v", name, id.Subject, w.BreakGlass, d.Allow)
			}
		}
	}
	if offered == 0 {
		t.Fatal("nothing was offered to anyone: the test checked nothing")
	}
}
