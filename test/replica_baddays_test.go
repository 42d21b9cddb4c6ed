package liaison_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/esdb/esdbtest"
)

// Identities of the bad-day test.
var (
	bdCaseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "bd-pc"}
	bdDPOA       = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "bd-dpo-a"}
	bdDPOB       = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "bd-dpo-b"}
)

// retrying sends a request until it is answered other than 5xx (the cluster
// away, a replica behind: 503; an append whose outcome was lost: 500), for up
// to 30 s, and returns that answer. Writes carry an Idempotency-Key, so a
// retry never does anything twice.
func retrying(t *testing.T, h *hub, method, path string, id *identity, purpose string, body any, headers map[string]string) response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := h.doWith(method, path, id, purpose, body, headers)
		if r.Status < 500 || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicatedHubsOnABadDay (issue 22): two hub processes on one (fake)
// cluster whose leader fails over, again and again, while a partner writes
// through one replica, retrying with its Idempotency-Key, and reads through
// the other; then an erasure through the first while the second serves the
// case. Every write happens once, every read finds its write, and once the
// erasure is confirmed the other replica never serves the case again.
func TestReplicatedHubsOnABadDay(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	a, b := startReplicas(t, c.URL("", ""))

	// An open retried on the other replica is the same case.
	open := map[string]any{"subject_ref": "BAD-2026-0001", "target_group": "returnee"}
	first := retrying(t, a, "POST", "/v1/cases", &bdCaseworker, "", open, map[string]string{"Idempotency-Key": "bad-open-1"})
	second := retrying(t, b, "POST", "/v1/cases", &bdCaseworker, "", open, map[string]string{"Idempotency-Key": "bad-open-1"})
	if first.Status != 201 || second.Status != 201 {
		t.Fatalf("open: %d %s; retried on the other replica: %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	id := first.json(t)["case_id"].(string)
	if got := second.json(t)["case_id"]; got != id {
		t.Fatalf("the open retried on the other replica opened case %v, the first %v", got, id)
	}

	// Appends through a, reads through b, while the leader fails over.
	failing := make(chan struct{})
	go func() {
		defer close(failing)
		for round := range 3 {
			leader := round % 3
			time.Sleep(300 * time.Millisecond)
			c.Node(leader).Stop()
			c.Elect(-1)
			time.Sleep(200 * time.Millisecond)
			c.Elect((leader + 1) % 3)
			c.Node(leader).Start()
		}
	}()
	needs := map[string]any{"type": "NeedsAssessmentRecorded", "data": map[string]any{"needs": []any{map[string]any{"area": "housing", "level": "high"}}}}
	appended := 0
	for done := false; !done || appended < 5; appended++ {
		select {
		case <-failing:
			done = true
		default:
		}
		r := retrying(t, a, "POST", "/v1/cases/"+id+"/events", &bdCaseworker, "", needs, map[string]string{"Idempotency-Key": fmt.Sprint("bad-append-", appended)})
		if r.Status != 201 {
			t.Fatalf("append %d: %d %s", appended, r.Status, r.Body)
		}
		pos := r.json(t)["position"].(string)
		read := retrying(t, b, "GET", "/v1/cases/"+id, &bdCaseworker, "case-management", nil, map[string]string{"Liaison-Min-Position": pos})
		if read.Status != 200 {
			t.Fatalf("read %d on the other replica: %d %s", appended, read.Status, read.Body)
		}
		if v := read.json(t)["version"].(float64); v < float64(appended+2) {
			t.Fatalf("read %d on the other replica: version %v, want at least %d", appended, v, appended+2)
		}
	}
	t.Logf("%d appends through three leader failovers", appended)
	for name, h := range map[string]*hub{"the writer's replica": a, "the other replica": b} {
		r := retrying(t, h, "GET", "/v1/cases/"+id, &bdCaseworker, "case-management", nil, nil)
		if r.Status != 200 || r.json(t)["version"].(float64) != float64(appended+1) {
			t.Errorf("%s: %d %s; want version %d (each append once)", name, r.Status, r.Body, appended+1)
		}
	}

	// An erasure through a while b serves the case.
	// Each read's status with when it was sent and when answered: a read
	// sent after another was answered 410 must not be answered 200 (two
	// readers record their answers in the order they read them, which is not
	// the order the replica served them in).
	type read struct {
		status    int
		sent, got time.Time
	}
	var (
		mu    sync.Mutex
		reads []read
	)
	stop := make(chan struct{})
	readers := sync.WaitGroup{}
	var stopOnce sync.Once
	stopReaders := func() {
		stopOnce.Do(func() { close(stop) })
		readers.Wait()
	}
	defer stopReaders()
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				r := b.doWith("GET", "/v1/cases/"+id+"/sections/needs", &bdCaseworker, "case-management", nil, nil)
				got := time.Now()
				mu.Lock()
				reads = append(reads, read{r.Status, sent, got})
				mu.Unlock()
			}
		}()
	}
	req := retrying(t, a, "POST", "/v1/cases/"+id+"/erase", &bdDPOA, "", map[string]string{"legal_basis": "subject-request", "reference": "BAD-DPA-1"}, map[string]string{"Idempotency-Key": "bad-erase-1"})
	if req.Status != 202 {
		t.Fatalf("erasure request: %d %s", req.Status, req.Body)
	}
	conf := retrying(t, a, "POST", "/v1/erasures/"+req.json(t)["request_id"].(string)+"/confirm", &bdDPOB, "", nil, map[string]string{"Idempotency-Key": "bad-confirm-1"})
	if conf.Status != 200 {
		t.Fatalf("erasure confirmation: %d %s", conf.Status, conf.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := b.doWith("GET", "/v1/cases/"+id+"/sections/needs", &bdCaseworker, "case-management", nil, nil)
		if r.Status == http.StatusGone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other replica still answers %d %s after the erasure", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopReaders()
	var gone time.Time // when the first 410 was answered
	for _, r := range reads {
		if r.status == http.StatusGone && (gone.IsZero() || r.got.Before(gone)) {
			gone = r.got
		}
	}
	for i, r := range reads {
		switch {
		case r.status == http.StatusGone:
		case r.status == http.StatusOK && !gone.IsZero() && r.sent.After(gone):
			t.Errorf("read %d on the other replica: 200, sent %v after it had answered 410", i, r.sent.Sub(gone))
		case r.status == http.StatusOK:
		case r.status != http.StatusServiceUnavailable:
			t.Errorf("read %d on the other replica: %d during the erasure", i, r.status)
		}
	}
	if r := b.doWith("GET", "/v1/cases/"+id+"/events", &bdCaseworker, "case-management", nil, nil); r.Status != http.StatusGone {
		t.Errorf("the erased case's events on the other replica: %d %s", r.Status, r.Body)
	}
}
