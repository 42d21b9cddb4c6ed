package projections

import (
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// TestTheRegisterFollowsEachRequest: requests, cancellations, confirmations
// and the retention job's erasures, each entry with its status over time.
func TestTheRegisterFollowsEachRequest(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var r register
	request := func(id, caseID, sub string, at time.Time) {
		r.apply(domain.Event{ID: id, CaseID: caseID, Originator: "oversight-board", Author: sub, RecordedAt: at,
			Data: domain.ErasureRequestedData{LegalBasis: "court-order", Reference: "F-" + id, ExpiresAt: domain.FormatTime(at.Add(7 * 24 * time.Hour))}})
	}
	request("r1", "c1", "dp-kim", t0)
	r.apply(domain.Event{ID: "x1", CaseID: "c1", Originator: "oversight-board", Author: "dp-lou", RecordedAt: t0.Add(time.Hour), Data: domain.ErasureCancelledData{RequestID: "r1"}})
	request("r2", "c1", "dp-kim", t0.Add(2*time.Hour))
	r.apply(domain.Event{ID: "e1", CaseID: "c1", Originator: "oversight-board", Author: "dp-lou", RecordedAt: t0.Add(3 * time.Hour),
		Data: domain.CaseErasedData{LegalBasis: "court-order", Reference: "F-r2", RequestID: "r2"}})
	request("r3", "c2", "dp-kim", t0)
	request("r4", "c3", "dp-kim", t0)
	r.apply(domain.Event{ID: "e2", CaseID: "c3", Originator: "liaison-hub", Author: "liaison:retention", RecordedAt: t0.Add(time.Hour),
		Data: domain.CaseErasedData{LegalBasis: domain.LegalBasisRetention}})

	later := t0.Add(8 * 24 * time.Hour)
	for _, c := range []struct {
		id, at, status string
		when           time.Time
	}{
		{"r1", "cancelled", ErasureCancelled, t0.Add(4 * time.Hour)},
		{"r2", "confirmed", ErasureConfirmed, later},
		{"r3", "pending within its week", ErasurePending, t0.Add(24 * time.Hour)},
		{"r3", "expired after its week", ErasureExpired, later},
		{"r4", "overtaken by the retention job", ErasureRetention, t0.Add(4 * time.Hour)},
		{"e2", "the retention job's own", ErasureRetention, later},
	} {
		e := r.byID[c.id]
		if e == nil {
			t.Errorf("%s (%s): not in the register", c.id, c.at)
			continue
		}
		if got := e.StatusAt(c.when); got != c.status {
			t.Errorf("%s (%s): status %s, want %s", c.id, c.at, got, c.status)
		}
	}
	if e := r.byID["r2"]; e.DecidedBy.Subject != "dp-lou" || e.RequestedBy.Subject != "dp-kim" || e.Reference != "F-r2" {
		t.Errorf("the confirmed request: %+v", e)
	}
	if len(r.entries) != 5 {
		t.Errorf("%d entries, want 5 (4 requests and the retention erasure)", len(r.entries))
	}
}
