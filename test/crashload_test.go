package liaison_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestCrashUnderLoad is docs/targets.md, R1: mixed load on a hub, SIGKILL at a
// random moment, restart on the same data directory, and check that
//
//   - every acknowledged append (201) is there, with the marker it carried, at
//     the version it was acknowledged with, and no case has a version gap;
//   - every answered read (200, 403 or 404) has its access record, found by
//     its X-Request-Id through GET /v1/audit/records as the oversight auditor;
//   - `liaison audit verify` passes on the stopped hub.
//
// Three rounds by default; LIAISON_CRASH_ROUNDS=N for the long run (≥ 20).
func TestCrashUnderLoad(t *testing.T) {
	rounds := 3
	if v := os.Getenv("LIAISON_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LIAISON_CRASH_ROUNDS=%q: want a positive count", v)
		}
		rounds = n
	}
	dir := t.TempDir()
	h := startHub(t, dir)
	cl := newCrashLoad(t, h)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	var acked, reads int
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			h = startHub(t, dir)
		}
		done := cl.run(h, round)
		time.Sleep(time.Duration(200+r.IntN(1300)) * time.Millisecond)
		h.Kill()
		res := <-done

		h = startHub(t, dir)
		a := cl.checkEvents(h)
		cl.checkReads(h, res.reads)
		h.Stop()
		if out, err := exec.Command(binary, "audit", "verify", "--data", dir).CombinedOutput(); err != nil {
			t.Fatalf("round %d: liaison audit verify after the restart: %v\n%s", round, err, out)
		}
		acked, reads = a, reads+len(res.reads)
		t.Logf("round %d: killed after %d appends and %d reads acknowledged; %d acknowledged events and %d answered reads checked so far",
			round, res.appends, len(res.reads), acked, reads)
		if t.Failed() {
			return
		}
	}
	t.Logf("R1: %d rounds, %d acknowledged events present, %d answered reads recorded, audit verify passed after every restart", rounds, acked, reads)
}

// The identities of the crash load: writers of the prison (one per worker),
// and readers of four organisations whose answers are 200 (the prison; the
// others on some sections), 403 (intelligence and probation on sections their
// mandate does not open at the case's stage) and 404 (an exit worker without
// consent: the case does not exist for it).
var (
	crashWriters = 8
	crashReaders = []struct {
		id      identity
		purpose string
	}{
		{identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "crash-reader-prison"}, "case-management"},
		{identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "crash-reader-probation"}, "case-management"},
		{identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "crash-reader-ngo"}, "reintegration"},
		{identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "crash-reader-intel"}, "risk-management"},
	}
	crashAuditor  = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "crash-auditor"}
	crashSections = []string{"profile", "interventions", "needs", "counselling", "risk"}
)

func crashWriter(w int) identity {
	return identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "crash-writer-" + strconv.Itoa(w)}
}

// crashCase is one case of the load, owned by one writer.
type crashCase struct {
	id      string
	writer  int
	version uint64            // the version the writer appends after
	markers map[uint64]string // acknowledged version → marker
}

// crashLoad is the state of the test across rounds.
type crashLoad struct {
	t       *testing.T
	cases   []*crashCase
	http    *http.Client
	writers []string // tokens, by writer
	readers []string // tokens, by crashReaders index
}

// crashRead is one answered read: its request id and who asked.
type crashRead struct {
	requestID, sub string
}

// crashResult is what one round's load saw acknowledged.
type crashResult struct {
	appends int
	reads   []crashRead
}

func newCrashLoad(t *testing.T, h *hub) *crashLoad {
	cl := &crashLoad{t: t, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	for i := range 4 * crashWriters {
		w := i % crashWriters
		id := crashWriter(w)
		res := h.do("POST", "/v1/cases", &id, "", map[string]string{
			"subject_ref": fmt.Sprintf("CRASH-2026-%04d", i), "target_group": "returnee", "gender": "female", "regime": "separation"})
		if res.Status != http.StatusCreated {
			t.Fatalf("opening a case: %d %s", res.Status, res.Body)
		}
		var out struct {
			CaseID  string `json:"case_id"`
			Version uint64 `json:"version"`
		}
		json.Unmarshal(res.Body, &out)
		cl.cases = append(cl.cases, &crashCase{id: out.CaseID, writer: w, version: out.Version, markers: map[uint64]string{}})
	}
	// Tokens are minted once: the development key stays in the data directory.
	for w := range crashWriters {
		cl.writers = append(cl.writers, h.token(crashWriter(w)))
	}
	for _, rd := range crashReaders {
		cl.readers = append(cl.readers, h.token(rd.id))
	}
	return cl
}

// send is one request of the load; unlike hub.do it returns transport errors
// (the hub is killed under it).
func (cl *crashLoad) send(h *hub, method, path, token, purpose string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.Base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// run starts the load of a round: one goroutine per writer appending to its
// cases with exact expected versions, and two per reader, until the hub stops
// answering. The result arrives once every goroutine has stopped.
func (cl *crashLoad) run(h *hub, round int) <-chan crashResult {
	var (
		mu  sync.Mutex
		res crashResult
		wg  sync.WaitGroup
	)
	for w := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []*crashCase
			for _, c := range cl.cases {
				if c.writer == w {
					mine = append(mine, c)
				}
			}
			for n := 0; ; n++ {
				c := mine[n%len(mine)]
				marker := fmt.Sprintf("crash marker r%d w%d n%d", round, w, n)
				body, _ := json.Marshal(map[string]any{"type": "InterventionRecorded", "expected_version": c.version,
					"data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker}})
				status, _, b, err := cl.send(h, "POST", "/v1/cases/"+c.id+"/events", cl.writers[w], "", body)
				if err != nil {
					return // killed: this append's fate is unknown
				}
				var out struct {
					Version uint64 `json:"version"`
				}
				if status != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.Version != c.version+1 {
					cl.t.Errorf("append to %s at version %d: %d %s", c.id, c.version, status, b)
					return
				}
				mu.Lock()
				c.version = out.Version
				c.markers[out.Version] = marker
				res.appends++
				mu.Unlock()
			}
		}()
	}
	for i := range 2 * len(crashReaders) {
		rd := crashReaders[i%len(crashReaders)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(round)))
			for {
				c := cl.cases[r.IntN(len(cl.cases))]
				sec := crashSections[r.IntN(len(crashSections))]
				status, hdr, b, err := cl.send(h, "GET", "/v1/cases/"+c.id+"/sections/"+sec, cl.readers[i%len(crashReaders)], rd.purpose, nil)
				if err != nil {
					return
				}
				switch status {
				case http.StatusOK, http.StatusForbidden, http.StatusNotFound:
				default:
					cl.t.Errorf("read of %s/%s as %s: %d %s", c.id, sec, rd.id.Sub, status, b)
					return
				}
				rid := hdr.Get("X-Request-Id")
				if rid == "" {
					cl.t.Errorf("read of %s/%s as %s answered %d without X-Request-Id", c.id, sec, rd.id.Sub, status)
					return
				}
				mu.Lock()
				res.reads = append(res.reads, crashRead{rid, rd.id.Sub})
				mu.Unlock()
			}
		}()
	}
	out := make(chan crashResult, 1)
	go func() {
		wg.Wait()
		out <- res
	}()
	return out
}

// checkEvents reads every case back as its writer and checks that versions
// run 1…n without a gap and that every acknowledged version holds its marker.
// It returns the number of acknowledged events checked.
func (cl *crashLoad) checkEvents(h *hub) int {
	checked := 0
	for _, c := range cl.cases {
		id := crashWriter(c.writer)
		res := h.do("GET", "/v1/cases/"+c.id+"/events", &id, "case-management", nil)
		var out struct {
			Items []struct {
				Version uint64          `json:"version"`
				Type    string          `json:"type"`
				Data    json.RawMessage `json:"data"`
			} `json:"items"`
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &out) != nil {
			cl.t.Fatalf("events of %s after the restart: %d %s", c.id, res.Status, res.Body)
		}
		summaries := map[uint64]string{}
		for i, it := range out.Items {
			if it.Version != uint64(i+1) {
				cl.t.Errorf("case %s: item %d has version %d: a gap", c.id, i+1, it.Version)
			}
			var d struct {
				Summary string `json:"summary"`
			}
			json.Unmarshal(it.Data, &d)
			summaries[it.Version] = d.Summary
		}
		versions := slices.Sorted(func(yield func(uint64) bool) {
			for v := range c.markers {
				if !yield(v) {
					return
				}
			}
		})
		for _, v := range versions {
			if got, ok := summaries[v]; !ok || got != c.markers[v] {
				cl.t.Errorf("case %s: acknowledged version %d (%q) lost after the crash: found %q", c.id, v, c.markers[v], got)
			}
			checked++
		}
		// The next round appends after whatever is durable: an append in
		// flight at the kill may have been made durable without its answer.
		c.version = uint64(len(out.Items))
	}
	return checked
}

// checkReads checks that every answered read has its access record, paging
// through GET /v1/audit/records per reader as the oversight auditor.
func (cl *crashLoad) checkReads(h *hub, reads []crashRead) {
	recorded := map[string]bool{}
	for _, rd := range crashReaders {
		cursor := ""
		for {
			path := "/v1/audit/records?limit=1000&sub=" + rd.id.Sub
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			res := h.do("GET", path, &crashAuditor, "oversight", nil)
			var page struct {
				Items []struct {
					RequestID string `json:"request_id"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if res.Status != http.StatusOK || json.Unmarshal(res.Body, &page) != nil {
				cl.t.Fatalf("audit records of %s: %d %s", rd.id.Sub, res.Status, res.Body)
			}
			for _, it := range page.Items {
				recorded[it.RequestID] = true
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
	}
	missing := 0
	for _, rd := range reads {
		if !recorded[rd.requestID] {
			if missing < 5 {
				cl.t.Errorf("answered read %s by %s has no access record after the crash", rd.requestID, rd.sub)
			}
			missing++
		}
	}
	if missing > 0 {
		cl.t.Errorf("%d of %d answered reads have no access record", missing, len(reads))
	}
}
