package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog"
)

// post sends a POST with a raw JSON body and extra headers (an
// Idempotency-Key, say), as w.
func (h *testHub) post(w who, path, body string, headers map[string][]string) answer {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token(h.t, h.dir, w))
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b, resp.Header}
}

func key(k string) map[string][]string { return map[string][]string{api.IdempotencyHeader: {k}} }

// caseVersion reads the number of events of a case, as the prison sees it.
func (h *testHub) caseVersion(id string) float64 {
	h.t.Helper()
	var c struct {
		Version float64 `json:"version"`
	}
	h.as(caseworker, "GET", "/v1/cases/"+id, "case-management", nil).decode(h.t, &c)
	return c.Version
}

// TestIdempotencyKeys: a POST sent again with its Idempotency-Key gets the
// first answer again, byte for byte, and does nothing twice, also after a
// restart and when the remembered answer is gone (then from the log); the
// key with another request is 422, a malformed key 400; another caller's
// key is its own; the replay leaves its record (issue 22).
func TestIdempotencyKeys(t *testing.T) {
	dir := t.TempDir()
	h := startTestHub(t, dir)
	open := `{"subject_ref":"IDEM-2026-0001","target_group":"returnee"}`
	first := h.post(caseworker, "/v1/cases", open, key(`"open-1"`))
	if first.status != 201 {
		t.Fatalf("open: %d %s", first.status, first.body)
	}
	var opened struct {
		CaseID string `json:"case_id"`
	}
	first.decode(t, &opened)
	again := h.post(caseworker, "/v1/cases", open, key(`"open-1"`))
	if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get(api.ReplayedHeader) != "true" {
		t.Fatalf("the open sent again: %d %s (replayed %q); want the first answer %s", again.status, again.body, again.header.Get(api.ReplayedHeader), first.body)
	}
	if n := strings.Count(string(h.as(caseworker, "GET", "/v1/cases", "case-management", nil).body), "IDEM-2026-0001"); n != 1 {
		t.Errorf("the list holds %d cases of that reference, want 1", n)
	}

	events := "/v1/cases/" + opened.CaseID + "/events"
	needs := `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high","note":"no address"}]}}`
	a1 := h.post(caseworker, events, needs, key("append-1"))
	if a1.status != 201 {
		t.Fatalf("append: %d %s", a1.status, a1.body)
	}
	if a2 := h.post(caseworker, events, needs, key(`"append-1"`)); a2.status != 201 || !bytes.Equal(a2.body, a1.body) {
		t.Errorf("the append sent again (the key quoted now): %d %s; want %s", a2.status, a2.body, a1.body)
	}
	if v := h.caseVersion(opened.CaseID); v != 2 {
		t.Errorf("the case is at version %v, want 2: an append was repeated", v)
	}

	// The key with another request: 422, naming the header.
	other := `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"employment","level":"low","note":"x"}]}}`
	for name, a := range map[string]answer{
		"another body": h.post(caseworker, events, other, key("append-1")),
		"another path": h.post(caseworker, "/v1/cases", open, key("append-1")),
	} {
		if a.status != 422 || !strings.Contains(string(a.body), api.IdempotencyHeader) {
			t.Errorf("the key with %s: %d %s; want 422 naming %s", name, a.status, a.body, api.IdempotencyHeader)
		}
	}
	// Malformed keys: 400.
	for name, hdr := range map[string]map[string][]string{
		"empty":          key(`""`),
		"unterminated":   key(`"open`),
		"a bad escape":   key(`"a\nb"`),
		"a space":        key(`two words`),
		"too long":       key(strings.Repeat("k", 256)),
		"given twice":    {api.IdempotencyHeader: {"a", "b"}},
		"non-ASCII text": key(`"clé"`),
	} {
		if a := h.post(caseworker, events, other, hdr); a.status != 400 || !strings.Contains(string(a.body), api.IdempotencyHeader) {
			t.Errorf("a key %s: %d %s; want 400 naming the header", name, a.status, a.body)
		}
	}
	// Another caller's key is its own.
	colleague := who{"prison-service", "pc-carl", []string{"caseworker"}}
	if a := h.post(colleague, events, needs, key("append-1")); a.status != 201 || bytes.Equal(a.body, a1.body) {
		t.Errorf("another caller with the same key: %d %s; want its own append", a.status, a.body)
	}
	if v := h.caseVersion(opened.CaseID); v != 3 {
		t.Errorf("the case is at version %v, want 3", v)
	}

	// The replay's record.
	var replays int
	for _, r := range h.records() {
		for _, reason := range r.Reasons {
			if strings.HasPrefix(reason, "idempotent replay of request ") {
				replays++
			}
		}
	}
	if replays != 2 {
		t.Errorf("%d access records note a replay, want 2", replays)
	}

	// A restart keeps the answers.
	h.close()
	h = startTestHub(t, dir)
	if a := h.post(caseworker, events, needs, key("append-1")); a.status != 201 || !bytes.Equal(a.body, a1.body) {
		t.Errorf("after a restart: %d %s; want %s", a.status, a.body, a1.body)
	}
	// An answer not remembered (the hub crashed before it answered, or the
	// retry reached another replica): the event is found in the log.
	a3 := h.post(caseworker, events, other, key("append-3"))
	if a3.status != 201 {
		t.Fatalf("append: %d %s", a3.status, a3.body)
	}
	forgetAnswers(t, h)
	if a := h.post(caseworker, events, other, key("append-3")); a.status != 201 || !bytes.Equal(a.body, a3.body) {
		t.Errorf("a retry whose answer is not remembered: %d %s; want %s", a.status, a.body, a3.body)
	}
	if v := h.caseVersion(opened.CaseID); v != 4 {
		t.Errorf("the case is at version %v, want 4: the retry appended again", v)
	}
	forgetAnswers(t, h)
	if a := h.post(caseworker, "/v1/cases", open, key("open-1")); a.status != 201 || !strings.Contains(string(a.body), opened.CaseID) {
		t.Errorf("an open retried, its answer not remembered: %d %s; want case %s again", a.status, a.body, opened.CaseID)
	}
	if n := strings.Count(string(h.as(caseworker, "GET", "/v1/cases", "case-management", nil).body), "IDEM-2026-0001"); n != 1 {
		t.Errorf("the list holds %d cases of that reference, want 1", n)
	}
}

// forgetAnswers deletes every remembered answer from the hub's KV.
func forgetAnswers(t *testing.T, h *testHub) {
	t.Helper()
	ctx := context.Background()
	var ops []eventlog.KVOp
	for kv, err := range h.m.store.Scan(ctx, []byte("idem/"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, eventlog.KVOp{Key: bytes.Clone(kv.Key), Delete: true})
	}
	if len(ops) == 0 {
		t.Fatal("no remembered answer to forget")
	}
	if err := h.m.store.Write(ctx, true, ops...); err != nil {
		t.Fatal(err)
	}
}
