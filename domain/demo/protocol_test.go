package demo_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/policies"
)

// remit is one entry of the protocol's write table (docs/protocol.md "Write
// access"): an organisation type, the roles it needs (none: any role), and
// whether it writes only with consent.
type remit struct {
	Org     domain.OrgType `json:"org_type"`
	Roles   []string       `json:"roles"`
	Consent bool           `json:"consent"`
}

// cellKind is what a kind of read-table cell grants.
type cellKind struct {
	Grants  bool `json:"grants"`
	Consent bool `json:"consent"`
}

// protocol is what the test needs of the default policy bundle's data: the
// write table, and the read table's profile row (who can see a case).
type protocol struct {
	write   map[domain.EventType][]remit
	profile map[domain.OrgType]cellKind
}

// defaultProtocol reads the default bundle's data (policies/bundle/protocol/
// write and read), so that the test checks the demo against the protocol the
// hub enforces rather than against a copy of it.
func defaultProtocol(t *testing.T) protocol {
	t.Helper()
	dir := t.TempDir()
	if err := policies.Default().WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	read := func(name string, v any) {
		b, err := os.ReadFile(filepath.Join(dir, "protocol", name, "data.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s data: %v", name, err)
		}
	}
	var write struct {
		Events map[domain.EventType]struct {
			Remit []remit `json:"remit"`
		} `json:"events"`
	}
	read("write", &write)
	var readTable struct {
		CellKinds map[string]cellKind                  `json:"cell_kinds"`
		Table     map[string]map[domain.OrgType]string `json:"table"`
	}
	read("read", &readTable)
	p := protocol{write: map[domain.EventType][]remit{}, profile: map[domain.OrgType]cellKind{}}
	for typ, e := range write.Events {
		p.write[typ] = e.Remit
	}
	for org, kind := range readTable.Table[string(domain.SectionProfile)] {
		p.profile[org] = readTable.CellKinds[kind]
	}
	if len(p.write) == 0 || len(p.profile) == 0 {
		t.Fatalf("the default bundle has no write table or no profile row: %+v", p)
	}
	return p
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

// visible says whether org can read the case's profile: its cell in the read
// table's profile row grants it, with consent where the cell says so.
func (p protocol) visible(dir domain.MapDirectory, org string, c consentState) bool {
	k := p.profile[dir[org]]
	return k.Grants && (!k.Consent || c[org] == "open")
}

// refusal returns why the write table refuses step s on a case in state c,
// or "" when it allows it.
func (p protocol) refusal(dir domain.MapDirectory, s demo.Step, c consentState, first, closed bool) string {
	orgType, known := dir[s.As.Agency]
	switch {
	case !known:
		return "unknown organisation"
	case first != (s.Type == domain.CaseOpened):
		return "CaseOpened must be the first step and only the first"
	case closed:
		return "the case is closed"
	case !first && !p.visible(dir, s.As.Agency, c):
		return "the writer cannot see the case"
	case s.Type == domain.BreakGlassInvoked && len(strings.TrimSpace(s.Justification)) < 20:
		return "justification under 20 characters"
	}
	for _, r := range p.write[s.Type] {
		if r.Org != orgType {
			continue
		}
		if r.Roles != nil && !slices.ContainsFunc(s.As.Roles, func(role string) bool { return slices.Contains(r.Roles, role) }) {
			continue
		}
		if r.Consent && c[s.As.Agency] != "open" {
			continue
		}
		return ""
	}
	return fmt.Sprintf("%s %v may not write %s (consent %v)", s.As.Agency, s.As.Roles, s.Type, c[s.As.Agency])
}

func TestEveryStepIsAllowedByTheWriteTable(t *testing.T) {
	p := defaultProtocol(t)
	dir := demo.Directory()
	for _, run := range []struct {
		seed uint64
		n    int
	}{{1, 300}, {2, 120}, {3, 7}, {4, 1}} {
		for i, cs := range demo.Generate(run.seed, run.n) {
			c, closed := consentState{}, false
			for k, s := range cs.Steps {
				if why := p.refusal(dir, s, c, k == 0, closed); why != "" {
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
	domain.ParticipationChanged:       "date",
	domain.Transferred:                "date",
	domain.GoalUpdated:                "date",
	domain.PlanReviewed:               "date",
	domain.ConferenceActionCompleted:  "date",
	domain.MentoringEnded:             "ended_at",
}

// prerequisite names the event type that must come earlier in the case.
var prerequisite = map[domain.EventType][]domain.EventType{
	domain.TreatmentPlanAdopted:       {domain.RiskAssessmentRecorded, domain.NeedsAssessmentRecorded},
	domain.TransitionPlanAgreed:       {domain.TreatmentPlanAdopted},
	domain.ReleaseScheduled:           {domain.TransitionPlanAgreed},
	domain.Released:                   {domain.ReleaseScheduled},
	domain.ProbationHandoverCompleted: {domain.Released},
	domain.OutcomeRecorded:            {domain.Released},
	domain.GoalUpdated:                {domain.TreatmentPlanAdopted},
	domain.PlanReviewed:               {domain.TreatmentPlanAdopted},
	domain.ConferenceActionCompleted:  {domain.CaseConferenceHeld},
	domain.MentoringEnded:             {domain.MentorAssigned},
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

// TestEveryStepKeepsTheOrderRules: each step passes the order rules
// (domain.CheckOrder; docs/protocol.md, "Order rules") over the case's
// history before it. The hub checks them over the writer's own view, which
// the hub's tests load the demo through (hub/order_test.go).
func TestEveryStepKeepsTheOrderRules(t *testing.T) {
	dir := demo.Directory()
	for _, seed := range []uint64{1, 2, 11} {
		for i, cs := range demo.Generate(seed, 300) {
			var h []domain.Event
			for k, s := range cs.Steps {
				var d domain.Data
				if s.Data != nil && s.Type != domain.CaseOpened {
					var err error
					if d, _, err = domain.DecodeData(s.Type, s.Data, dir, "data"); err != nil {
						t.Fatal(err)
					}
				}
				if err := domain.CheckOrder(s.Type, d, h); err != nil {
					t.Fatalf("seed %d case %d step %d %s: %v", seed, i, k, s.Type, err)
				}
				h = append(h, domain.Event{Type: s.Type, Version: uint64(k + 1), Data: d})
			}
		}
	}
}
