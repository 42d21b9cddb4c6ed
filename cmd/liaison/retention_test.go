package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
)

// TestRetentionErasesCasesClosedLongAgo: the retention rule erases cases closed
// more than N days ago, and only those, each with its access record.
func TestRetentionErasesCasesClosedLongAgo(t *testing.T) {
	dir := t.TempDir()
	var offset atomic.Int64 // how far the hub's clock runs ahead of the wall clock
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for !m.Projector.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	base := "http://" + m.Addr()
	open := func(ref string) string {
		var out struct {
			CaseID string `json:"case_id"`
		}
		call(t, base, "POST", "/v1/cases", token(t, dir, caseworker), "", map[string]any{"subject_ref": ref, "target_group": "returnee"}).decode(t, &out)
		return out.CaseID
	}
	manager := who{"prison-service", "pm-dora", []string{"manager"}}
	closed, open1 := open("RET-2026-0001"), open("RET-2026-0002")
	if a := call(t, base, "POST", "/v1/cases/"+closed+"/events", token(t, dir, manager), "", map[string]any{"type": "CaseClosed", "data": map[string]string{"reason": "programme completed"}}); a.status != 201 {
		t.Fatalf("close: %d %s", a.status, a.body)
	}
	// Closed just now: not yet due.
	if n, err := m.Hub.ApplyRetention(context.Background(), 30*24*time.Hour); err != nil || n != 0 {
		t.Fatalf("retention right after closing: erased %d, %v", n, err)
	}
	offset.Store(int64(31 * 24 * time.Hour))
	n, err := m.Hub.ApplyRetention(context.Background(), 30*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("retention 31 days later: erased %d, %v; want 1", n, err)
	}
	// Tokens minted on the hub's clock, a month ahead.
	hubToken := func(w who) string {
		key, err := api.LoadOrCreateDevKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := api.MintDevToken(key, api.TokenRequest{Subject: w.sub, Agency: w.agency, Roles: w.roles, TTL: time.Hour, Now: m.Clock()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := hubToken(caseworker)
	if a := call(t, base, "GET", "/v1/cases/"+closed, tok, "case-management", nil); a.status != 410 {
		t.Errorf("the closed case after retention: %d, want 410", a.status)
	}
	if a := call(t, base, "GET", "/v1/cases/"+open1, tok, "case-management", nil); a.status != 200 {
		t.Errorf("the open case after retention: %d, want 200", a.status)
	}
	recs := call(t, base, "GET", "/v1/audit/records?case_id="+closed+"&sub=liaison:retention", hubToken(auditor), "oversight", nil)
	if recs.status != 200 || !strings.Contains(string(recs.body), `"legal_basis":"retention-expired"`) || !strings.Contains(string(recs.body), `"action":"case.erase"`) {
		t.Errorf("the retention erasure is not in the access log: %d %s", recs.status, recs.body)
	}
	if n, err := m.Hub.ApplyRetention(context.Background(), 30*24*time.Hour); err != nil || n != 0 {
		t.Errorf("retention again: erased %d, %v; want 0", n, err)
	}
}
