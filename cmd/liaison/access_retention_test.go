package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// TestAccessRetention runs a hub, then the hub again two days later with
// --access-retention 1d: the records of the first session are pruned at
// start, `liaison audit verify` still passes over the whole history, and
// the auditor's query by user answers the pruned records as pruned, with
// their leaf hashes, beside the records kept.
func TestAccessRetention(t *testing.T) {
	dir := t.TempDir()
	h := startTestHub(t, dir)
	id := h.openCase("P-R1")
	for range 5 {
		h.as(caseworker, "GET", "/v1/cases/"+id+"/sections/risk", "case-management", nil)
	}
	old := len(h.records())
	h.close()

	retention, err := parseRetention("1d")
	if err != nil || retention != 24*time.Hour {
		t.Fatalf("--access-retention 1d reads as %v (%v)", retention, err)
	}
	later := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir, AccessRetention: retention},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:  func() time.Time { return time.Now().Add(48 * time.Hour) },
	}
	if err := later.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for later.store.Pruned() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no access record pruned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pruned := later.store.Pruned()
	// Every record of the first session, but the last, which is never
	// pruned (the journal's end is checked against the tree).
	if pruned != uint64(old-1) {
		t.Errorf("%d records pruned, want %d", pruned, old-1)
	}
	if err := later.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out := verifyExit(t, dir); code != 0 {
		t.Fatalf("audit verify after pruning: exit %d\n%s", code, out)
	}

	h = startTestHub(t, dir)
	h.as(caseworker, "GET", "/v1/cases/"+id+"/sections/risk", "case-management", nil)
	a := h.as(auditor, "GET", "/v1/audit/records?sub="+caseworker.sub+"&limit=100", "oversight", nil)
	if a.status != 200 {
		t.Fatalf("audit records: %d %s", a.status, a.body)
	}
	var out struct {
		Items []accesslog.Record `json:"items"`
	}
	a.decode(t, &out)
	var kept, gone int
	for _, r := range out.Items {
		switch {
		case r.Index < pruned && r.Pruned && len(r.LeafHash) == 32 && r.Sub == "":
			gone++
		case r.Index >= pruned && !r.Pruned && r.Sub == caseworker.sub:
			kept++
		default:
			t.Errorf("record %d answers %+v (pruned below %d)", r.Index, r, pruned)
		}
	}
	if gone == 0 || kept < 2 {
		t.Errorf("the query by user answers %d pruned records and %d kept; want some of each", gone, kept)
	}
}
