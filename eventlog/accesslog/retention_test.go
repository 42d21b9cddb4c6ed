package accesslog_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// TestRetention prunes the oldest access records of a log and checks what
// retention promises: the bytes go, the journal keeps its length, `audit
// verify` still passes over the whole history (and still catches a pruned
// record's leaf hash changed), the auditor's queries answer for pruned
// records as pruned, with their leaf hashes, and all of it after a restart.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	h := openHub(t, dir, true)
	tr := newTraffic(3)
	const n, cut = 6000, 4000
	var recs []*accesslog.Record
	add := func(k int) {
		batch := make([]*accesslog.Record, 0, 50)
		for range k {
			r := tr.next()
			r.Time = base.Add(time.Duration(len(recs)+len(batch)) * time.Second)
			batch = append(batch, r)
			if len(batch) == cap(batch) {
				if err := h.log.AppendAll(ctx, batch); err != nil {
					t.Fatal(err)
				}
				recs, batch = append(recs, batch...), batch[:0]
			}
		}
		if !h.trees.Access.WaitSize(ctx, uint64(len(recs)), time.Minute) {
			t.Fatal("the tree did not take the records in")
		}
	}
	add(n - 500)
	if err := h.trees.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	add(500) // beyond the latest checkpoint: not prunable yet
	if err := h.st.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := h.st.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][]byte, n)
	for i := range leaves {
		if leaves[i], err = h.trees.Access.LeafHash(ctx, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}

	// The records stamped before cut seconds are older than the period;
	// the log's order strays from their times by up to two minutes, so
	// those of the last two minutes before it stay.
	pruned, err := h.svc.Prune(ctx, base.Add(cut*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(cut - 120); pruned != want {
		t.Fatalf("pruned %d records, want %d", pruned, want)
	}
	// A later time than every record prunes what the latest checkpoint
	// covers, but its last record.
	if pruned, err = h.svc.Prune(ctx, base.Add(2*n*time.Second)); err != nil || pruned != n-501 {
		t.Fatalf("pruned %d records (%v), want %d: those the latest checkpoint covers but its last", pruned, err, n-501)
	}
	if err := h.st.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := h.st.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("journal on disk: %d bytes before, %d after pruning %d of %d records", before.Journal, after.Journal, pruned, n)
	if after.Journal*4 > before.Journal {
		t.Errorf("the journal takes %d bytes after pruning %d of %d records, %d before: not reclaimed", after.Journal, pruned, n, before.Journal)
	}
	if l, err := h.log.Len(ctx); err != nil || l != n {
		t.Fatalf("the log's length is %d (%v) after pruning, want %d", l, err, n)
	}
	check := func(h *hub) {
		t.Helper()
		rep, err := transparency.Verify(ctx, transparency.Sources{Journal: h.st, Events: h.st, KV: h.st}, h.trees.VerifierKeys()...)
		if err != nil {
			t.Fatalf("audit verify after pruning: %v", err)
		}
		if rep.Access.Leaves != n || rep.Access.Covered < pruned {
			t.Fatalf("audit verify checked %d leaves, %d covered by checkpoints; want %d, at least the %d pruned", rep.Access.Leaves, rep.Access.Covered, n, pruned)
		}
		// A query by user lists the user's records in index order: the
		// pruned ones as pruned, with their leaf hashes, then the others.
		sub := recs[n-1].Sub
		var want []uint64
		for _, r := range recs {
			if r.Sub == sub {
				want = append(want, r.Index)
			}
		}
		p, err := h.svc.Query(ctx, accesslog.Filter{Sub: sub}, 0, len(want)+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != len(want) {
			t.Fatalf("the query by user found %d records, want %d", len(p.Records), len(want))
		}
		prunedSeen := 0
		for k, r := range p.Records {
			switch {
			case r.Index != want[k]:
				t.Fatalf("record %d of the query is %d, want %d", k, r.Index, want[k])
			case r.Index < pruned:
				prunedSeen++
				if !r.Pruned || r.Sub != "" || !bytes.Equal(r.LeafHash, leaves[r.Index]) {
					t.Fatalf("pruned record %d answers %+v, want pruned with leaf hash %x", r.Index, r, leaves[r.Index])
				}
			case r.Pruned || r.Sub != sub || !bytes.Equal(rfc6962.DefaultHasher.HashLeaf(r.Encode()), leaves[r.Index]):
				t.Fatalf("record %d answers %+v, want it whole", r.Index, r)
			}
		}
		if prunedSeen == 0 {
			t.Fatal("the query by user met no pruned record")
		}
		// Records lists every record, the pruned ones as such.
		i := 0
		for r, err := range h.log.Records(ctx, 0) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Index != uint64(i) || r.Pruned != (r.Index < pruned) {
				t.Fatalf("Records yields %d (pruned %t) at %d", r.Index, r.Pruned, i)
			}
			i++
		}
		if i != n {
			t.Fatalf("Records yields %d records, want %d", i, n)
		}
	}
	check(h)

	// After a restart: the same, and appends go on after the last record.
	h.stop()
	h = openHub(t, dir, true)
	check(h)
	r := tr.next()
	if i, err := h.log.Append(ctx, r); err != nil || i != n {
		t.Fatalf("appended at %d (%v), want %d", i, err, n)
	}

	// A pruned record's stored leaf hash is all that stands for it, and the
	// checkpoints commit to it: changed, verify names it.
	h.stop()
	st := reopenStore(t, dir)
	key := append([]byte("Tan\x00"), make([]byte, 8)...)
	key[len(key)-1] = 7 // access tree, level 0, index 7
	if err := st.Write(ctx, true, eventlog.KVOp{Key: key, Value: bytes.Repeat([]byte{1}, 32)}); err != nil {
		t.Fatal(err)
	}
	vkeys := h.trees.VerifierKeys()
	_, err = transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, vkeys...)
	var bad *transparency.TamperError
	if !errors.As(err, &bad) {
		t.Fatalf("audit verify with a pruned record's leaf hash changed: %v, want tampering found", err)
	}
	t.Logf("caught: %v", bad)
}
