package policies_test

import (
	"context"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// stat returns the statistics of one kind of decision.
func stat(t *testing.T, a *policies.Authorizer, kind string) policies.DecisionStats {
	t.Helper()
	for _, s := range a.Stats() {
		if s.Kind == kind {
			return s
		}
	}
	t.Fatalf("no statistics of %q decisions", kind)
	return policies.DecisionStats{}
}

// Every decision is counted; only those the cache did not give are counted as
// evaluations, with their time.
func TestStatsCountDecisionsAndEvaluations(t *testing.T) {
	ctx := context.Background()
	q, s := benchQuery()
	for _, cached := range []bool{true, false} {
		opts := policies.Options{}
		if !cached {
			opts.CacheEntries = -1
		}
		a := newAuthorizer(t, opts)
		for range 3 {
			if _, err := a.ReadSection(ctx, q, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.ReadItem(ctx, q, s, benchItem); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Append(ctx, policies.WriteQuery{Identity: prisonCaseworker, Type: domain.CaseOpened, Now: now}); err != nil {
			t.Fatal(err)
		}
		wantEvals := uint64(1)
		if !cached {
			wantEvals = 3
		}
		sec := stat(t, a, "section")
		if sec.Decisions != 3 || sec.Evaluations != wantEvals || sec.EvalTime <= 0 {
			t.Errorf("cached=%v: section %+v, want 3 decisions, %d evaluations, some time", cached, sec, wantEvals)
		}
		for _, k := range []string{"item", "append"} {
			if st := stat(t, a, k); st.Decisions != 1 || st.Evaluations != 1 || st.EvalTime <= 0 {
				t.Errorf("cached=%v: %s %+v, want 1 decision, 1 evaluation", cached, k, st)
			}
		}
		if st := stat(t, a, "case"); st.Decisions != 0 || st.Evaluations != 0 || st.EvalTime != 0 {
			t.Errorf("cached=%v: case %+v, want nothing", cached, st)
		}
	}
}
