package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/hub"
)

// lockedBuffer is a log sink the hub's goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const devWarning = "no production identity configured"

// TestServeWarnsOnceOfDevelopmentTokens: a hub with no production identity
// and no --demo says once, at start, that it accepts development tokens.
func TestServeWarnsOnceOfDevelopmentTokens(t *testing.T) {
	var log lockedBuffer
	h := startLoggedHub(t, t.TempDir(), &log)
	// Calls with development tokens say nothing more.
	for range 3 {
		call(t, h.base, "GET", "/v1/cases", token(t, h.dir, caseworker), "case-management", nil)
	}
	h.close()
	if n := strings.Count(log.String(), devWarning); n != 1 {
		t.Errorf("the warning of development tokens was logged %d times, want once:\n%s", n, log.String())
	}
}

// TestTheDemoLoaderIsNotRateLimited: the demo data set is loaded through the
// use cases, not through HTTP, so even under a rate limit of one call a
// second it leaves no refusal (429, or any deny) under the demo persons'
// names to drown the auditor's deny filter; and a demo hub does not warn of
// development tokens, which it is for.
func TestTheDemoLoaderIsNotRateLimited(t *testing.T) {
	dir := t.TempDir()
	var log lockedBuffer
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir, Demo: true, DemoSeed: 1, DemoCases: 12, RateLimit: 1, RateBurst: 3},
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo data set was not loaded in 3 minutes:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := "http://" + m.Addr()
	var all, denied struct {
		Items []struct {
			Status int    `json:"status"`
			Sub    string `json:"sub"`
			Action string `json:"action"`
		} `json:"items"`
	}
	limit := strconv.Itoa(hub.MaxRecordLimit)
	call(t, base, "GET", "/v1/audit/records?limit="+limit, token(t, dir, auditor), "oversight", nil).decode(t, &all)
	if len(all.Items) < 12 {
		t.Fatalf("%d access records after loading 12 demo cases, want at least one per case", len(all.Items))
	}
	call(t, base, "GET", "/v1/audit/records?decision=deny&limit="+limit, token(t, dir, auditor), "oversight", nil).decode(t, &denied)
	for _, r := range denied.Items {
		t.Errorf("the demo loader left a refusal: %d %s by %s", r.Status, r.Action, r.Sub)
	}
	if strings.Contains(log.String(), devWarning) {
		t.Errorf("a demo hub warns of development tokens")
	}
}
