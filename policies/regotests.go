package policies

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// testTimeout bounds each Rego test; the table-driven ones evaluate hundreds of
// decisions with tracing on, which a slow or busy machine may take a while for.
const testTimeout = 2 * time.Minute

// TestReport is the outcome of a bundle's own Rego tests.
type TestReport struct {
	// Passed counts the tests (and test cases of parametrised tests) that passed.
	Passed int
	// Failed names each failing test or test case, with its file and line, and
	// its error when it did not evaluate.
	Failed []string
}

// TestFailure is the error of a bundle whose own tests fail.
type TestFailure struct {
	// Source is where the bundle was read from.
	Source string
	// Report lists the failing tests.
	Report TestReport
}

// Error lists the failing tests.
func (e *TestFailure) Error() string {
	return fmt.Sprintf("policies: bundle %s: %d of %d tests fail:\n  %s", e.Source,
		len(e.Report.Failed), len(e.Report.Failed)+e.Report.Passed, strings.Join(e.Report.Failed, "\n  "))
}

// RunTests runs the bundle's _test.rego tests. It returns the report, and a
// *TestFailure when any test fails, or an error when the tests cannot be
// compiled or run.
func (b *Bundle) RunTests(ctx context.Context) (TestReport, error) {
	var report TestReport
	store := inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return report, fmt.Errorf("policies: test bundle %s: %w", b.source, err)
	}
	defer store.Abort(ctx, txn)
	opa := b.opa.Copy()
	results, err := tester.NewRunner().
		SetStore(store).
		SetBundles(map[string]*bundle.Bundle{b.source: &opa}).
		CapturePrintOutput(true).
		SetTimeout(testTimeout).
		RunTests(ctx, txn)
	if err != nil {
		return report, fmt.Errorf("policies: test bundle %s: %w", b.source, err)
	}
	for r := range results {
		where := ""
		if r.Location != nil {
			where = fmt.Sprintf(" (%s:%d)", r.Location.File, r.Location.Row)
		}
		name := r.Package + "." + r.Name
		switch {
		case r.Error != nil:
			report.Failed = append(report.Failed, fmt.Sprintf("%s%s: %v", name, where, r.Error))
		case len(r.SubResults) > 0:
			r.SubResults.Iter(func(path []string, sr *tester.SubResult) bool {
				if len(sr.SubResults) > 0 {
					return true // counted at its leaves
				}
				if sr.Fail {
					report.Failed = append(report.Failed, name+"/"+strings.Join(path, "/")+where)
				} else {
					report.Passed++
				}
				return true
			})
		case r.Fail:
			report.Failed = append(report.Failed, name+where+output(r.Output))
		case !r.Skip:
			report.Passed++
		}
	}
	sort.Strings(report.Failed)
	if len(report.Failed) > 0 {
		return report, &TestFailure{Source: b.source, Report: report}
	}
	return report, nil
}

func output(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return ": " + strings.TrimSpace(string(b))
}
