package policies_test

import (
	"context"
	"errors"
	"testing"

	"github.com/liaison-hub/liaison/policies"
)

// TestDefaultBundleRegoTests runs the Rego tests of the embedded bundle; a
// failure lists every failing test (and test case) by name.
func TestDefaultBundleRegoTests(t *testing.T) {
	report, err := policies.Default().RunTests(context.Background())
	var failure *policies.TestFailure
	switch {
	case errors.As(err, &failure):
		for _, name := range failure.Report.Failed {
			t.Errorf("Rego test fails: %s", name)
		}
	case err != nil:
		t.Fatalf("RunTests: %v", err)
	}
	if report.Passed == 0 {
		t.Fatal("no Rego test ran")
	}
	t.Logf("%d Rego tests (and test cases) pass", report.Passed)
}
