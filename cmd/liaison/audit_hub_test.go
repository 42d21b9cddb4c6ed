package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// testHub is a hub running in this process (Main) on a data directory.
type testHub struct {
	t    testing.TB
	dir  string
	m    *Main
	base string
	once sync.Once
}

// who is the identity a token speaks for.
type who struct {
	agency, sub string
	roles       []string
}

var (
	caseworker   = who{"prison-service", "pc-anna", []string{"caseworker"}}
	psychologist = who{"prison-service", "pp-ben", []string{"psychologist"}}
	analyst      = who{"intelligence-service", "ia-fay", []string{"analyst"}}
	coordinator  = who{"municipality", "mc-gus", []string{"coordinator"}}
	mentor       = who{"exit-ngo", "ng-hana", []string{"mentor"}}
	auditor      = who{"oversight-board", "ob-ida", []string{"auditor"}}
	dpo          = who{"oversight-board", "ob-jon", []string{"dpo"}}
	secondDPO    = who{"oversight-board", "ob-kai", []string{"dpo"}}
	researcher   = who{"research-institute", "ri-kai", []string{"researcher"}}
)

// startTestHub runs a hub on dir and waits until it is ready; it is closed
// when the test ends, unless closed before.
func startTestHub(t testing.TB, dir string) *testHub {
	t.Helper()
	return startLoggedHub(t, dir, io.Discard)
}

// startLoggedHub is startTestHub with the hub's log written to w.
func startLoggedHub(t testing.TB, dir string, w io.Writer) *testHub {
	t.Helper()
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir},
		Logger: slog.New(slog.NewTextHandler(w, nil)),
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &testHub{t: t, dir: dir, m: m, base: "http://" + m.Addr()}
	t.Cleanup(h.close)
	deadline := time.Now().Add(30 * time.Second)
	for !m.Projector.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("hub not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return h
}

func (h *testHub) close() {
	h.once.Do(func() {
		if err := h.m.Close(); err != nil {
			h.t.Errorf("closing the hub: %v", err)
		}
	})
}

// answer is one answer of the hub.
type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", a.status, err, a.body)
	}
}

// token mints a development token for w with the hub's key.
func token(t testing.TB, dir string, w who) string {
	t.Helper()
	key, err := api.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := api.MintDevToken(key, api.TokenRequest{Subject: w.sub, Agency: w.agency, Roles: w.roles, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call sends one request with the bearer token tok ("" for none), a purpose
// ("" for none) and a JSON body (nil for none).
func call(t testing.TB, base, method, path, tok, purpose string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if purpose != "" {
		req.Header.Set(api.PurposeHeader, purpose)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b, resp.Header}
}

func (h *testHub) as(w who, method, path, purpose string, body any) answer {
	h.t.Helper()
	return call(h.t, h.base, method, path, token(h.t, h.dir, w), purpose, body)
}

// records returns the hub's access log as stored.
func (h *testHub) records() []accesslog.Record {
	h.t.Helper()
	var out []accesslog.Record
	for r, err := range accesslog.New(h.m.store).Records(context.Background(), 0) {
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// openCase opens a case as the prison caseworker and returns its id.
func (h *testHub) openCase(ref string) string {
	h.t.Helper()
	a := h.as(caseworker, "POST", "/v1/cases", "", map[string]any{
		"subject_ref": ref, "target_group": "islamist", "gender": "male", "regime": "dispersion",
	})
	if a.status != http.StatusCreated {
		h.t.Fatalf("open case: %d %s", a.status, a.body)
	}
	var out struct {
		CaseID string `json:"case_id"`
	}
	a.decode(h.t, &out)
	return out.CaseID
}

// erase erases a case with four eyes: the dpo requests, the second dpo
// confirms.
func (h *testHub) erase(id string) {
	h.t.Helper()
	a := h.as(dpo, "POST", "/v1/cases/"+id+"/erase", "", map[string]any{"legal_basis": "subject-request", "reference": "DPO-2026-7"})
	if a.status != http.StatusAccepted {
		h.t.Fatalf("erasure request: %d %s", a.status, a.body)
	}
	var req struct {
		RequestID string `json:"request_id"`
	}
	a.decode(h.t, &req)
	if a := h.as(secondDPO, "POST", "/v1/erasures/"+req.RequestID+"/confirm", "", map[string]any{}); a.status != http.StatusOK {
		h.t.Fatalf("erasure confirmation: %d %s", a.status, a.body)
	}
}

// riskAssessment is the body of a RiskAssessmentRecorded append.
func riskAssessment() map[string]any {
	return map[string]any{"type": "RiskAssessmentRecorded", "data": map[string]any{
		"tool": "VERA-2R", "assessed_at": "2026-02-01", "overall_judgement": "moderate", "notes": "MARKER-RISK",
	}}
}

// needsAssessment is the body of a NeedsAssessmentRecorded append.
func needsAssessment() map[string]any {
	return map[string]any{"type": "NeedsAssessmentRecorded", "data": map[string]any{
		"needs": []map[string]any{{"area": "housing", "level": "high", "note": "MARKER-NEEDS"}},
	}}
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
