package demo_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

// remit is one entry of PROTOCOL.md's write table: an organisation type, the
// roles it needs (nil: any role), and whether it writes only with consent.
type remit struct {
	org     domain.OrgType
	roles   []string
	consent bool
}

// writeTable is PROTOCOL.md "Write access", copied by hand.
var writeTable = map[domain.EventType][]remit{
	domain.CaseOpened:                 {{domain.OrgPrison, []string{"caseworker", "manager"}, false}, {domain.OrgProbation, nil, false}},
	domain.ConsentGiven:               {{domain.OrgPrison, []string{"caseworker"}, false}, {domain.OrgProbation, nil, false}},
	domain.ConsentWithdrawn:           {{domain.OrgPrison, []string{"caseworker"}, false}, {domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, false}},
	domain.RiskAssessmentRecorded:     {{domain.OrgPrison, []string{"psychologist"}, false}, {domain.OrgProbation, nil, false}},
	domain.NeedsAssessmentRecorded:    {{domain.OrgPrison, []string{"caseworker", "psychologist"}, false}, {domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, true}},
	domain.TreatmentPlanAdopted:       {{domain.OrgPrison, []string{"caseworker", "manager"}, false}, {domain.OrgProbation, nil, false}},
	domain.InterventionRecorded:       {{domain.OrgPrison, nil, false}, {domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, true}, {domain.OrgFamilySupport, nil, true}},
	domain.CounsellingNoteAdded:       {{domain.OrgPrison, []string{"psychologist"}, false}, {domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, true}, {domain.OrgFamilySupport, nil, true}},
	domain.CaseConferenceHeld:         {{domain.OrgPrison, []string{"manager"}, false}, {domain.OrgProbation, nil, false}, {domain.OrgMunicipality, nil, true}},
	domain.IntelligenceNoteAdded:      {{domain.OrgIntelligence, nil, false}},
	domain.RiskDisclosureRaised:       {{domain.OrgPrison, nil, false}, {domain.OrgProbation, nil, false}, {domain.OrgIntelligence, nil, false}, {domain.OrgMunicipality, nil, false}, {domain.OrgCivilSociety, nil, false}, {domain.OrgFamilySupport, nil, false}},
	domain.FamilyContactRecorded:      {{domain.OrgPrison, []string{"caseworker"}, false}, {domain.OrgCivilSociety, nil, true}, {domain.OrgFamilySupport, nil, true}},
	domain.TransitionPlanAgreed:       {{domain.OrgPrison, []string{"caseworker", "manager"}, false}, {domain.OrgProbation, nil, false}},
	domain.MentorAssigned:             {{domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, true}},
	domain.ReleaseScheduled:           {{domain.OrgPrison, []string{"caseworker", "manager"}, false}},
	domain.Released:                   {{domain.OrgPrison, []string{"caseworker", "manager"}, false}},
	domain.ProbationHandoverCompleted: {{domain.OrgProbation, nil, false}},
	domain.OutcomeRecorded:            {{domain.OrgProbation, nil, false}, {domain.OrgCivilSociety, nil, true}, {domain.OrgMunicipality, nil, true}},
	domain.CaseClosed:                 {{domain.OrgPrison, []string{"manager"}, false}, {domain.OrgProbation, nil, false}},
	domain.CaseErased:                 {{domain.OrgOversight, []string{"dpo"}, false}},
	domain.ErasureRequested:           {{domain.OrgOversight, []string{"dpo"}, false}},
	domain.ErasureCancelled:           {{domain.OrgOversight, []string{"dpo"}, false}},
	domain.BreakGlassInvoked:          {{domain.OrgPrison, []string{"manager"}, false}, {domain.OrgProbation, nil, false}, {domain.OrgIntelligence, nil, false}},
}

// consentState tracks, per organisation, whether consent covers it: "open"
// (no expiry) or "expiring". A write "with consent" counts only on open
// consent, because the hub judges expiry on the day it loads the demo.
type consentState map[string]string

func (c consentState) fold(s demo.Step) {
	switch s.Type {
	case domain.ConsentGiven:
		var d struct {
			Organisations []string `json:"organisations"`
			ExpiresAt     string   `json:"expires_at"`
		}
		mustUnmarshal(s.Data, &d)
		for _, org := range d.Organisations {
			c[org] = "open"
			if d.ExpiresAt != "" {
				c[org] = "expiring"
			}
		}
	case domain.ConsentWithdrawn:
		var d struct {
			Organisations []string `json:"organisations"`
			All           bool     `json:"all"`
		}
		mustUnmarshal(s.Data, &d)
		if d.All {
			clear(c)
		}
		for _, org := range d.Organisations {
			delete(c, org)
		}
	}
}

// visible says whether org can read the case's profile (PROTOCOL.md read
// table: prison, probation, intelligence always; municipality, civil society
// and family support with consent; oversight and research never).
func visible(dir domain.MapDirectory, org string, c consentState) bool {
	switch dir[org] {
	case domain.OrgPrison, domain.OrgProbation, domain.OrgIntelligence:
		return true
	case domain.OrgMunicipality, domain.OrgCivilSociety, domain.OrgFamilySupport:
		return c[org] == "open"
	}
	return false
}

// refusal returns why the write table refuses step s on a case in state c,
// or "" when it allows it.
func refusal(dir domain.MapDirectory, s demo.Step, c consentState, first, closed bool) string {
	orgType, known := dir[s.As.Agency]
	switch {
	case !known:
		return "unknown organisation"
	case first != (s.Type == domain.CaseOpened):
		return "CaseOpened must be the first step and only the first"
	case closed:
		return "the case is closed"
	case !first && !visible(dir, s.As.Agency, c):
		return "the writer cannot see the case"
	case s.Type == domain.BreakGlassInvoked && len(strings.TrimSpace(s.Justification)) < 20:
		return "justification under 20 characters"
	}
	for _, r := range writeTable[s.Type] {
		if r.org != orgType {
			continue
		}
		if r.roles != nil && !slices.ContainsFunc(s.As.Roles, func(role string) bool { return slices.Contains(r.roles, role) }) {
			continue
		}
		if r.consent && c[s.As.Agency] != "open" {
			continue
		}
		return ""
	}
	return fmt.Sprintf("%s %v may not write %s (consent %v)", s.As.Agency, s.As.Roles, s.Type, c[s.As.Agency])
}

func TestEveryStepIsAllowedByTheWriteTable(t *testing.T) {
	dir := demo.Directory()
	for _, run := range []struct {
		seed uint64
		n    int
	}{{1, 300}, {2, 120}, {3, 7}, {4, 1}} {
		for i, cs := range demo.Generate(run.seed, run.n) {
			c, closed := consentState{}, false
			for k, s := range cs.Steps {
				if why := refusal(dir, s, c, k == 0, closed); why != "" {
					t.Fatalf("seed %d case %d step %d %s: %s", run.seed, i, k, s.Type, why)
				}
				c.fold(s)
				closed = closed || s.Type == domain.CaseClosed
			}
		}
	}
}

// dated names, per event type, the field that says when the event happened.
var dated = map[domain.EventType]string{
	domain.RiskAssessmentRecorded:     "assessed_at",
	domain.InterventionRecorded:       "date",
	domain.CounsellingNoteAdded:       "date",
	domain.CaseConferenceHeld:         "date",
	domain.IntelligenceNoteAdded:      "assessed_at",
	domain.FamilyContactRecorded:      "date",
	domain.Released:                   "released_at",
	domain.ProbationHandoverCompleted: "date",
	domain.OutcomeRecorded:            "follow_up_at",
}

// prerequisite names the event type that must come earlier in the case.
var prerequisite = map[domain.EventType][]domain.EventType{
	domain.TreatmentPlanAdopted:       {domain.RiskAssessmentRecorded, domain.NeedsAssessmentRecorded},
	domain.TransitionPlanAgreed:       {domain.TreatmentPlanAdopted},
	domain.ReleaseScheduled:           {domain.TransitionPlanAgreed},
	domain.Released:                   {domain.ReleaseScheduled},
	domain.ProbationHandoverCompleted: {domain.Released},
	domain.OutcomeRecorded:            {domain.Released},
}

func TestHistoriesFollowStagesAndTime(t *testing.T) {
	lo, hi := "2024-01-01", "2027-12-31"
	for i, cs := range demo.Generate(11, 300) {
		seen := map[domain.EventType]int{}
		last, released := "", ""
		for k, s := range cs.Steps {
			where := fmt.Sprintf("case %d step %d %s", i, k, s.Type)
			if pre, ok := prerequisite[s.Type]; ok && !slices.ContainsFunc(pre, func(p domain.EventType) bool { return seen[p] > 0 }) {
				t.Fatalf("%s: no %v before it", where, pre)
			}
			if s.Type == domain.Released && seen[domain.Released] > 0 {
				t.Fatalf("%s: released twice", where)
			}
			seen[s.Type]++
			fields := map[string]any{}
			if s.Data != nil {
				mustUnmarshal(s.Data, &fields)
			}
			for _, d := range datesIn(fields) {
				if d < lo || d > hi {
					t.Fatalf("%s: date %s outside %s…%s", where, d, lo, hi)
				}
			}
			if f, ok := dated[s.Type]; ok {
				d := fields[f].(string)
				if d < last {
					t.Fatalf("%s: %s %s goes back in time (after %s)", where, f, d, last)
				}
				last = d
			}
			for _, f := range []string{"due", "next_review_due", "expires_at", "release_date", "planned_release"} {
				if d, ok := fields[f].(string); ok && d < last {
					t.Fatalf("%s: %s %s lies before the case's last date %s", where, f, d, last)
				}
			}
			switch s.Type {
			case domain.Released:
				released = fields["released_at"].(string)
			case domain.OutcomeRecorded:
				months := int(fields["months_since_release"].(float64))
				rel, _ := time.Parse(time.DateOnly, released)
				if want := rel.AddDate(0, months, 0).Format(time.DateOnly); fields["follow_up_at"] != want || months < 1 {
					t.Fatalf("%s: follow-up %v after %d months from %s, want %s", where, fields["follow_up_at"], months, released, want)
				}
			}
		}
	}
}

// datesIn returns every string in v (nested) that is a YYYY-MM-DD date.
func datesIn(v any) []string {
	var out []string
	for _, s := range stringsIn(v) {
		if domain.IsDate(s) {
			out = append(out, s)
		}
	}
	return out
}

func mustUnmarshal(raw []byte, v any) {
	if err := json.Unmarshal(raw, v); err != nil {
		panic(err)
	}
}
