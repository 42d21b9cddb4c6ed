package policies_test

import (
	"context"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/policies"
)

// TestBreakGlassForIsTheBundles checks that BreakGlassFor is what the bundle
// in force says (0 when it says no positive whole number of minutes), and
// follows a Reload.
func TestBreakGlassForIsTheBundles(t *testing.T) {
	ctx := context.Background()
	a, err := policies.New(ctx, policies.Default(), policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.BreakGlassFor(); got != 60*time.Minute {
		t.Errorf("the default bundle: %v, want 60m (docs/protocol.md, \"Break-glass\")", got)
	}
	for data, want := range map[string]time.Duration{
		`{"minutes": 30, "min_justification": 20, "excluded_sections": ["counselling"]}`:   30 * time.Minute,
		`{"minutes": 0, "min_justification": 20, "excluded_sections": ["counselling"]}`:    0,
		`{"minutes": 1.5, "min_justification": 20, "excluded_sections": ["counselling"]}`:  0,
		`{"minutes": "60", "min_justification": 20, "excluded_sections": ["counselling"]}`: 0,
		`{"min_justification": 20, "excluded_sections": ["counselling"]}`:                  0,
		`{"minutes": 1e30, "min_justification": 20, "excluded_sections": ["counselling"]}`: 0,
		`{"minutes": 1440, "min_justification": 20, "excluded_sections": ["counselling"]}`: 24 * time.Hour,
	} {
		b := load(t, bundleDir(t, withoutTests(map[string]string{"protocol/break_glass/data.json": data})))
		if err := a.Reload(ctx, b); err != nil {
			t.Fatal(err)
		}
		if got := a.BreakGlassFor(); got != want {
			t.Errorf("break_glass %s: %v, want %v", data, got, want)
		}
	}
}
