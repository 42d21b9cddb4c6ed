package liaison_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConsentWithdrawalRacingReads shows that a withdrawal takes effect on the very
// next read, under load: exit workers read the case continuously while the prison
// withdraws their consent; no read sent after the withdrawal was acknowledged may
// see the case.
func TestConsentWithdrawalRacingReads(t *testing.T) {
	h := startHub(t, "")
	id := openCase(t, h, prisonCaseworker, "RACE-2026-0001")
	appendOK(t, h, id, prisonCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []any{map[string]any{"area": "housing", "level": "high"}}}, nil)
	appendOK(t, h, id, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	readers := []identity{exitMentor, {Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ng-ivo"}}
	for _, r := range readers {
		h.token(r) // mint before the race
	}

	var withdrawnAt atomic.Int64 // unix nanos when the withdrawal's 201 arrived; 0 before
	var before200, after200, after404, reads atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := readers[i%len(readers)]
			paths := []string{"/v1/cases/" + id, "/v1/cases/" + id + "/sections/needs", "/v1/cases/" + id + "/events"}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now().UnixNano()
				ack := withdrawnAt.Load()
				r := h.do("GET", paths[n%len(paths)], &who, "reintegration", nil)
				reads.Add(1)
				switch {
				case ack != 0 && sent > ack && r.Status == 200:
					after200.Add(1)
					t.Errorf("a read sent %v after the withdrawal was acknowledged still saw the case", time.Duration(sent-ack))
				case ack != 0 && sent > ack && r.Status == 404:
					after404.Add(1)
				case r.Status == 200:
					before200.Add(1)
				case r.Status != 404:
					t.Errorf("unexpected status %d: %s", r.Status, r.Body)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	r := h.do("POST", "/v1/cases/"+id+"/events", &prisonCaseworker, "", map[string]any{"type": "ConsentWithdrawn", "data": map[string]any{"organisations": []string{"exit-ngo"}}})
	if r.Status != 201 {
		t.Fatalf("withdrawal: %d %s", r.Status, r.Body)
	}
	withdrawnAt.Store(time.Now().UnixNano())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d reads: %d saw the case before the withdrawal, %d refused after it, %d saw it after it", reads.Load(), before200.Load(), after404.Load(), after200.Load())
	if before200.Load() == 0 || after404.Load() == 0 {
		t.Errorf("the race did not happen: %d reads before, %d after", before200.Load(), after404.Load())
	}
}

// TestRateLimitPerIdentity shows the per-identity rate limit: over it, 429 with
// Retry-After and an access record; another identity is unaffected.
func TestRateLimitPerIdentity(t *testing.T) {
	h := startHub(t, "", "--rate-limit", "2", "--rate-burst", "3")
	id := openCase(t, h, prisonCaseworker, "RATE-2026-0001")
	limited := 0
	for range 8 {
		r := h.do("GET", "/v1/cases/"+id, &prisonManager, "case-management", nil)
		if r.Status == 429 {
			limited++
			if r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited == 0 {
		t.Error("8 quick reads with a burst of 3 were never limited")
	}
	if r := h.do("GET", "/v1/cases/"+id, &intelAnalyst, "risk-management", nil); r.Status != 200 {
		t.Errorf("another identity: %d, want 200", r.Status)
	}
	time.Sleep(1100 * time.Millisecond)
	r := h.do("GET", "/v1/audit/records?sub=pm-dora&decision=deny", &auditor, "oversight", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "rate limit") {
		t.Errorf("the refusals are not in the access log: %d %s", r.Status, r.Body)
	}
}
