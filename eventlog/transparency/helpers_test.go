package transparency_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

var hasher = rfc6962.DefaultHasher

func quiet() *slog.Logger { return slogTo(io.Discard) }

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// openStore opens an embedded store in dir, closed when the test ends.
func openStore(t testing.TB, dir string) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(dir, embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openTrees opens the trees of st with the key of dir; cfg may adjust the
// configuration.
func openTrees(t testing.TB, st *embedded.Store, dir string, cfg func(*transparency.Config)) *transparency.Trees {
	t.Helper()
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := transparency.Config{KV: st, Journal: st, Events: st, Key: key, Logger: quiet()}
	if cfg != nil {
		cfg(&c)
	}
	tr, err := transparency.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// appendRecords appends n access records.
func appendRecords(t testing.TB, j eventlog.Journal, n int) {
	t.Helper()
	first, err := j.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"time":"2026-01-01T00:00:00Z","request_id":"r%d","sub":"u%d","decision":"allow"}`, int(first)+i, i%7)
	}
	for len(recs) > 0 {
		k := min(len(recs), 1000)
		if _, err := j.AppendRecords(context.Background(), recs[:k]...); err != nil {
			t.Fatal(err)
		}
		recs = recs[k:]
	}
}

// appendEvents appends n events over a few streams.
func appendEvents(t testing.TB, l eventlog.Log, n int) {
	t.Helper()
	for i := range n {
		e := eventlog.Event{Type: "InterventionRecorded", Metadata: []byte(`{"schema":1}`), Data: fmt.Appendf(nil, "sealed-%d", i)}
		e.ID[0], e.ID[1] = byte(i), byte(i>>8)
		if _, err := l.Append(context.Background(), fmt.Sprintf("case-%d", i%5), eventlog.AnyVersion, e); err != nil {
			t.Fatal(err)
		}
	}
}

// leaves returns the leaf hashes of the access log and of the case log.
func leaves(t testing.TB, st *embedded.Store) (access, cases [][]byte) {
	t.Helper()
	ctx := context.Background()
	for e, err := range st.ReadRecords(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		access = append(access, hasher.HashLeaf(e.Data))
	}
	for r, err := range st.ReadAll(ctx, eventlog.Position{}) {
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, hasher.HashLeaf(transparency.EventLeaf(&r)))
	}
	return access, cases
}

// rootOf is RFC 6962's Merkle tree hash, written from its definition.
func rootOf(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return hasher.EmptyRoot()
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return hasher.HashChildren(rootOf(leaves[:k]), rootOf(leaves[k:]))
}

// eventually waits for cond, for at most 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
