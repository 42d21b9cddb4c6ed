package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/hub"
)

// clockHub is a hub in this process whose clock the test moves forward.
type clockHub struct {
	t      *testing.T
	m      *Main
	dir    string
	base   string
	offset atomic.Int64 // how far the hub's clock runs ahead of the wall clock
}

func startClockHub(t *testing.T) *clockHub {
	t.Helper()
	h := &clockHub{t: t, dir: t.TempDir()}
	h.m = &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: h.dir},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) },
	}
	if err := h.m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.m.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for !h.m.Projector.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("hub not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.base = "http://" + h.m.Addr()
	return h
}

// advance moves the hub's clock d further ahead.
func (h *clockHub) advance(d time.Duration) { h.offset.Add(int64(d)) }

// as sends a request as w with a token minted on the hub's clock.
func (h *clockHub) as(w who, method, path, purpose string, body any) answer {
	h.t.Helper()
	key, err := api.LoadOrCreateDevKey(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := api.MintDevToken(key, api.TokenRequest{Subject: w.sub, Agency: w.agency, Roles: w.roles, TTL: time.Hour, Now: h.m.Clock()})
	if err != nil {
		h.t.Fatal(err)
	}
	return call(h.t, h.base, method, path, tok, purpose, body)
}

func (h *clockHub) open(ref string) string {
	h.t.Helper()
	a := h.as(caseworker, "POST", "/v1/cases", "", map[string]any{"subject_ref": ref, "target_group": "returnee"})
	if a.status != http.StatusCreated {
		h.t.Fatalf("open case: %d %s", a.status, a.body)
	}
	var out struct {
		CaseID string `json:"case_id"`
	}
	a.decode(h.t, &out)
	return out.CaseID
}

// request asks for the erasure of a case as w and returns the request id and
// its expiry.
func (h *clockHub) request(caseID string, w who) (string, time.Time) {
	h.t.Helper()
	a := h.as(w, "POST", "/v1/cases/"+caseID+"/erase", "oversight", map[string]string{"legal_basis": "subject-request", "reference": "DPA-EXP-1"})
	if a.status != http.StatusAccepted {
		h.t.Fatalf("erasure request: %d, want 202: %s", a.status, a.body)
	}
	var out struct {
		RequestID string `json:"request_id"`
		ExpiresAt string `json:"expires_at"`
	}
	a.decode(h.t, &out)
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if out.RequestID == "" || err != nil {
		h.t.Fatalf("erasure request answer %s", a.body)
	}
	return out.RequestID, exp
}

// erasureStatus returns the status GET /v1/erasures gives a request.
func (h *clockHub) erasureStatus(w who, requestID string) string {
	h.t.Helper()
	a := h.as(w, "GET", "/v1/erasures", "oversight", nil)
	var out struct {
		Items []struct {
			RequestID string `json:"request_id"`
			Status    string `json:"status"`
		} `json:"items"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &out) != nil {
		h.t.Fatalf("GET /v1/erasures: %d %s", a.status, a.body)
	}
	for _, it := range out.Items {
		if it.RequestID == requestID {
			return it.Status
		}
	}
	return ""
}

// TestErasureRequestExpiresAfterSevenDays is issue 13's decision F on the
// hub's clock: a request not confirmed within 7 days lapses (confirm → 409,
// listed as expired, nothing erased, and a new request may be made); one
// confirmed a minute before its expiry erases the case.
func TestErasureRequestExpiresAfterSevenDays(t *testing.T) {
	h := startClockHub(t)
	dpoA := who{"oversight-board", "dp-exp-anna", []string{"dpo"}}
	dpoB := who{"oversight-board", "dp-exp-ben", []string{"dpo"}}
	late, inTime := h.open("EXP-2026-0001"), h.open("EXP-2026-0002")
	requested := h.m.Clock()
	lateID, lateExp := h.request(late, dpoA)
	inTimeID, _ := h.request(inTime, dpoA)
	if want := requested.Add(7 * 24 * time.Hour); lateExp.Before(want.Add(-time.Minute)) || lateExp.After(want.Add(time.Minute)) {
		t.Errorf("expires_at %s, want %s (7 days after the request)", lateExp, want)
	}

	h.advance(7*24*time.Hour - time.Minute)
	if a := h.as(dpoB, "POST", "/v1/erasures/"+inTimeID+"/confirm", "oversight", nil); a.status != http.StatusOK {
		t.Errorf("confirm a minute before the expiry: %d, want 200: %s", a.status, a.body)
	}
	if a := h.as(caseworker, "GET", "/v1/cases/"+inTime, "case-management", nil); a.status != http.StatusGone {
		t.Errorf("the case confirmed in time: %d, want 410", a.status)
	}

	h.advance(time.Minute + time.Second) // 7 days and 1 s after the request
	if a := h.as(dpoB, "POST", "/v1/erasures/"+lateID+"/confirm", "oversight", nil); a.status != http.StatusConflict {
		t.Errorf("confirm 7 days and 1 s after the request: %d, want 409: %s", a.status, a.body)
	}
	if a := h.as(caseworker, "GET", "/v1/cases/"+late+"/sections/profile", "case-management", nil); a.status != http.StatusOK || !bytes.Contains(a.body, []byte("EXP-2026-0001")) {
		t.Errorf("the case whose request lapsed: %d %s, want 200 with its content", a.status, a.body)
	}
	if got := h.erasureStatus(dpoB, lateID); got != "expired" {
		t.Errorf("the lapsed request is listed as %q, want expired", got)
	}
	if got := h.erasureStatus(dpoB, inTimeID); got != "confirmed" {
		t.Errorf("the request confirmed in time is listed as %q, want confirmed", got)
	}
	if a := h.as(dpoA, "POST", "/v1/erasures/"+lateID+"/cancel", "oversight", nil); a.status != http.StatusConflict {
		t.Errorf("cancel a lapsed request: %d, want 409 (not pending): %s", a.status, a.body)
	}
	// Nothing is pending any more: a new request is taken.
	if a := h.as(dpoB, "POST", "/v1/cases/"+late+"/erase", "oversight", map[string]string{"legal_basis": "subject-request", "reference": "DPA-EXP-2"}); a.status != http.StatusAccepted {
		t.Errorf("a new request after the lapse: %d, want 202: %s", a.status, a.body)
	}
}

// TestRetentionErasesWithLegalBasisRetentionExpired is issue 13's decision F
// for the retention job: it erases a case closed long ago without a request,
// with the legal basis code retention-expired, in its access record (design
// A: legal_basis) and in the CaseErased event, whose data is stored unsealed.
func TestRetentionErasesWithLegalBasisRetentionExpired(t *testing.T) {
	h := startClockHub(t)
	closed := h.open("RET-2026-0101")
	manager := who{"prison-service", "pm-dora", []string{"manager"}}
	if a := h.as(manager, "POST", "/v1/cases/"+closed+"/events", "", map[string]any{"type": "CaseClosed", "data": map[string]string{"reason": "programme completed"}}); a.status != http.StatusCreated {
		t.Fatalf("close: %d %s", a.status, a.body)
	}
	h.advance(31 * 24 * time.Hour)
	if n, err := h.m.Hub.ApplyRetention(context.Background(), 30*24*time.Hour); err != nil || n != 1 {
		t.Fatalf("retention: erased %d, %v; want 1", n, err)
	}
	if a := h.as(caseworker, "GET", "/v1/cases/"+closed, "case-management", nil); a.status != http.StatusGone {
		t.Errorf("the case after retention: %d, want 410", a.status)
	}
	a := h.as(auditor, "GET", "/v1/audit/records?case_id="+closed, "oversight", nil)
	var page struct {
		Items []struct {
			Action     string `json:"action"`
			Sub        string `json:"sub"`
			LegalBasis string `json:"legal_basis"`
		} `json:"items"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &page) != nil {
		t.Fatalf("records: %d %s", a.status, a.body)
	}
	found := false
	for _, r := range page.Items {
		if r.Action == "case.erase" && r.Sub == hub.RetentionSubject {
			found = true
			if r.LegalBasis != "retention-expired" {
				t.Errorf("the retention erasure's record has legal_basis %q, want retention-expired", r.LegalBasis)
			}
		}
	}
	if !found {
		t.Errorf("no case.erase record by %s: %s", hub.RetentionSubject, a.body)
	}
	var last []byte
	var lastType string
	for r, err := range h.m.Log.ReadStream(context.Background(), closed, 1) {
		if err != nil {
			t.Fatal(err)
		}
		last, lastType = r.Data, r.Type
	}
	if lastType != "CaseErased" || !bytes.Contains(last, []byte(`"retention-expired"`)) {
		t.Errorf("the case's last event is %s with data %q, want CaseErased naming retention-expired", lastType, last)
	}
}
