package hub

import (
	"fmt"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// TestHistoryHoldsOneEntryPerCaseAndSecond: a user reading one case
// thousands of times a second, as a load test does, keeps one entry a second
// in its 10-minute window, not one per read; distinct cases are still
// counted, and leave the window after 10 minutes.
func TestHistoryHoldsOneEntryPerCaseAndSecond(t *testing.T) {
	h := newHistory()
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	r := &accesslog.Record{Sub: "u", Issuer: "i", Agency: "a", Action: "section.read", CaseID: "c1", Decision: accesslog.Allow, Status: 200}
	for i := range 100_000 {
		r.Time = at.Add(time.Duration(i) * 100 * time.Microsecond) // 10 s
		if got := h.take(r, "probation/r", true, true); got.DistinctCases10m != 1 {
			t.Fatalf("read %d: %d distinct cases, want 1", i, got.DistinctCases10m)
		}
	}
	u := h.Users["i\x00u\x00a"]
	if n := len(u.Cases); n > 11 {
		t.Errorf("%d entries for one case read over 10 seconds, want at most 11", n)
	}
	// Many cases, each read again and again: at most twice the distinct
	// cases (and the slack) are held.
	for i := range 50_000 {
		r.Time, r.CaseID = at.Add(20*time.Second+time.Duration(i)*10*time.Millisecond), fmt.Sprintf("c%d", i%100)
		h.take(r, "probation/r", true, true)
	}
	if n, d := len(u.Cases), len(u.seen); d != 100 || n > 2*d+64 {
		t.Errorf("%d entries for %d distinct cases", n, d)
	}
	r.Time, r.CaseID = at.Add(time.Hour), "c-late"
	if got := h.take(r, "probation/r", true, true); got.DistinctCases10m != 1 {
		t.Errorf("an hour later: %d distinct cases in 10 minutes, want 1", got.DistinctCases10m)
	}
}
