package policies_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/policies"
)

// TestMonitorBundleRegoTests runs the Rego tests of the embedded monitoring
// rules (policies/monitor/rules_test.rego).
func TestMonitorBundleRegoTests(t *testing.T) {
	report, err := policies.DefaultMonitorBundle().RunTests(context.Background())
	var failure *policies.TestFailure
	switch {
	case errors.As(err, &failure):
		for _, name := range failure.Report.Failed {
			t.Errorf("Rego test fails: %s", name)
		}
	case err != nil:
		t.Fatalf("RunTests: %v", err)
	}
	if report.Passed < 20 {
		t.Fatalf("only %d Rego tests ran", report.Passed)
	}
	t.Logf("%d monitoring Rego tests pass", report.Passed)
}

// TestMonitorRulesEvaluate evaluates the prepared query from Go, on the input
// the monitor builds: one quiet read and one probe past the threshold.
func TestMonitorRulesEvaluate(t *testing.T) {
	ctx := context.Background()
	m, err := policies.NewMonitorRules(ctx, policies.DefaultMonitorBundle())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Rules()); got != 7 {
		t.Errorf("rules %v, want 7", m.Rules())
	}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	events := []policies.MonitorEvent{
		{Record: policies.MonitorRecord{Index: 1, Time: at, Sub: "a", OrgType: "probation", Action: "section.read", CaseID: "c", Decision: "allow", Status: 200, Read: true},
			History: policies.MonitorHistory{ReadsHour: 1, DistinctCases10m: 1, DeniedBefore: -1, Related: true}},
		{Record: policies.MonitorRecord{Index: 2, Time: at, Sub: "b", OrgType: "civil-society", Action: "case.read", CaseID: "x", Decision: "deny", Status: 404},
			History: policies.MonitorHistory{NotFoundHour: 3, DeniedBefore: -1, Related: true}},
		{Record: policies.MonitorRecord{Index: 3, Time: at.Add(-8 * time.Hour), Sub: "c", OrgType: "intelligence", Action: "section.read", CaseID: "y", Decision: "partial", Status: 200, Read: true},
			History: policies.MonitorHistory{ReadsHour: 80, UserUsual: 2.5, UserHours: 3, DistinctCases10m: 80, DeniedBefore: 5 * time.Minute, Related: true}},
	}
	got, err := m.Evaluate(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	want := []policies.MonitorFinding{
		{Event: 1, Rule: "probing", Detail: "3 case ids not found in the last hour"},
		{Event: 2, Rule: "breadth"}, {Event: 2, Rule: "off_hours"}, {Event: 2, Rule: "volume"},
	}
	if len(got) != len(want) {
		t.Fatalf("findings %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Event != want[i].Event || got[i].Rule != want[i].Rule || want[i].Detail != "" && got[i].Detail != want[i].Detail {
			t.Errorf("finding %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	t.Logf("%+v", got)
}

// BenchmarkMonitorRules measures one evaluation of the monitoring rules per
// batch of 64 quiet reads (the common case), per event.
func BenchmarkMonitorRules(b *testing.B) {
	ctx := context.Background()
	m, err := policies.NewMonitorRules(ctx, policies.DefaultMonitorBundle())
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	types := []string{"prison", "probation", "intelligence", "civil-society"}
	events := make([]policies.MonitorEvent, 64)
	for i := range events {
		events[i] = policies.MonitorEvent{
			Record:  policies.MonitorRecord{Index: uint64(i), Time: at, Sub: "u", OrgType: types[i%4], Action: "section.read", CaseID: "c", Decision: "allow", Status: 200, Read: true},
			History: policies.MonitorHistory{ReadsHour: 5 + i, UserUsual: 20, UserHours: 3, RoleUsual: 20, DistinctCases10m: 3, DeniedBefore: -1, Related: true},
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.Evaluate(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events))/1000, "µs/event")
}
