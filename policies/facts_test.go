package policies

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/open-policy-agent/opa/v1/ast"
)

// demoCases applies the demo data set's histories, cut at several points so
// that every stage, consent state and break-glass grant occurs.
func demoCases(t *testing.T, n int, at time.Time) []*domain.Case {
	t.Helper()
	var out []*domain.Case
	for _, dc := range demo.Generate(17, n) {
		c := &domain.Case{}
		for i, s := range dc.Steps {
			raw := []byte(s.Data)
			switch s.Type {
			case domain.BreakGlassInvoked:
				// Half of the grants still run at the decision time.
				until := at.Add(time.Hour)
				if i%2 == 1 {
					until = at.Add(-time.Hour)
				}
				raw, _ = json.Marshal(domain.BreakGlassData{Justification: s.Justification, ExpiresAt: domain.FormatTime(until)})
			case domain.CaseErased:
				raw, _ = json.Marshal(domain.CaseErasedData{LegalBasis: s.Justification})
			}
			data, _, err := domain.DecodeData(s.Type, raw, demo.Directory(), "data")
			if err != nil {
				t.Fatalf("demo step %s: %v", s.Type, err)
			}
			c.Apply(domain.Event{CaseID: "case", Type: s.Type, Version: uint64(i + 1), RecordedAt: at.Add(time.Duration(i-len(dc.Steps)) * time.Hour),
				Originator: s.As.Agency, Author: s.As.Subject, Classification: s.Classification, ShareWith: s.ShareWith, Data: data})
			if i%8 == 7 || i == len(dc.Steps)-1 {
				out = append(out, c.Clone())
			}
		}
	}
	return out
}

// Section and item decisions are given only some facts of the case
// (readFacts), and cached by them: the Rego must decide on those exactly as
// on the whole case. This evaluates both inputs for every demo persona, a
// foreign user of each organisation (whose break-glass grants differ),
// section and item of many cut demo histories, and compares.
func TestDecisionsOnTheSelectedFactsEqualThoseOnTheWholeCase(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, err := New(ctx, Default(), Options{CacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	st := a.state.Load()
	var ids []ReadQuery
	for _, p := range demo.Identities() {
		ids = append(ids, ReadQuery{Identity: p.Identity, Purpose: string(p.Purpose)})
		other := p.Identity
		other.Subject = "someone-else@" + other.Agency
		ids = append(ids, ReadQuery{Identity: other, Purpose: string(p.Purpose)})
	}
	decide := func(q ReadQuery, s domain.Section, f domain.Facts, it *Item) ast.Object {
		extra := [][2]*ast.Term{{keySection, ast.StringTerm(string(s))}}
		pq, query := st.sectionQ, querySection
		if it != nil {
			extra = append(extra, [2]*ast.Term{keyItem, itemTerm(*it)})
			pq, query = st.itemQ, queryItem
		}
		in := readInput(q, at, s, extra...)
		in.Insert(keyCase, caseTermFor(q.Case, f, false))
		obj, err := eval(ctx, &a.counts[kindSection], pq, query, in)
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	cases := demoCases(t, 6, at)
	var consented, grants, closed bool
	for _, c := range cases {
		consented = consented || len(c.Consent) > 0
		grants = grants || len(c.BreakGlass) > 0
		closed = closed || c.Closed
	}
	if !consented || !grants || !closed {
		t.Fatalf("the demo cases lack consent (%v), break-glass grants (%v) or a closed case (%v): take more", consented, grants, closed)
	}
	compared, differ := 0, 0
	for _, c := range cases {
		for _, q := range ids {
			q.Case, q.Now = c, at
			for _, s := range domain.Sections {
				whole := decide(q, s, domain.Facts{}, nil)
				part := decide(q, s, readFacts(q, s), nil)
				compared++
				if !reflect.DeepEqual(whole, part) && differ < 5 {
					differ++
					t.Errorf("%s/%s reads %s at stage %s: whole case %v, selected facts %v", q.Identity.Agency, q.Identity.Subject, s, c.Stage, whole, part)
				}
				for _, it := range testItems {
					whole := decide(q, s, domain.Facts{}, &it)
					part := decide(q, s, readFacts(q, s), &it)
					compared++
					if !reflect.DeepEqual(whole, part) && differ < 5 {
						differ++
						t.Errorf("%s/%s reads item %+v of %s: whole case %v, selected facts %v", q.Identity.Agency, q.Identity.Subject, it, s, whole, part)
					}
				}
			}
		}
	}
	t.Logf("%d decisions compared", compared)
}

// testItems are items of various types, originators, classifications and
// share lists.
var testItems = []Item{
	{Type: domain.RiskAssessmentRecorded, Originator: "prison-service", Classification: domain.TLPAmber},
	{Type: domain.IntelligenceNoteAdded, Originator: "intelligence-service", Classification: domain.TLPAmber, ShareWith: []string{"prison-service"}},
}
