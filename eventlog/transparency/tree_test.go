package transparency_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/test/testlog"
)

func TestProofs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	const n = 37
	appendRecords(t, st, n)
	trees := openTrees(t, st, dir, nil)
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	access, _ := leaves(t, st)
	tr := trees.Access

	t.Run("roots are RFC 6962 tree hashes at every size", func(t *testing.T) {
		for size := uint64(0); size <= n; size++ {
			got, err := tr.Root(ctx, size)
			if err != nil {
				t.Fatal(err)
			}
			if want := rootOf(access[:size]); !bytes.Equal(got, want) {
				t.Errorf("root of size %d: %x, want %x", size, got, want)
			}
		}
	})
	t.Run("every inclusion proof verifies", func(t *testing.T) {
		for size := uint64(1); size <= n; size++ {
			root := rootOf(access[:size])
			for i := range size {
				p, err := tr.Inclusion(ctx, i, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(hasher, i, size, access[i], p, root); err != nil {
					t.Errorf("inclusion of %d in %d: %v", i, size, err)
				}
			}
		}
	})
	t.Run("every consistency proof verifies", func(t *testing.T) {
		for to := uint64(1); to <= n; to++ {
			for from := uint64(1); from <= to; from++ {
				p, err := tr.Consistency(ctx, from, to)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(hasher, from, to, p, rootOf(access[:from]), rootOf(access[:to])); err != nil {
					t.Errorf("consistency %d → %d: %v", from, to, err)
				}
			}
		}
	})
	t.Run("arguments out of range are refused naming the field", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			call  func() error
			field string
		}{
			{"size beyond the tree", func() error { _, err := tr.Inclusion(ctx, 0, n+1); return err }, "size"},
			{"index not below size", func() error { _, err := tr.Inclusion(ctx, 5, 5); return err }, "index"},
			{"to beyond the tree", func() error { _, err := tr.Consistency(ctx, 1, n+1); return err }, "to"},
			{"from above to", func() error { _, err := tr.Consistency(ctx, 6, 5); return err }, "from"},
			{"root beyond the tree", func() error { _, err := tr.Root(ctx, n+1); return err }, "size"},
		} {
			var re *transparency.RangeError
			if err := c.call(); !errors.As(err, &re) || re.Field != c.field {
				t.Errorf("%s: %v, want a range error on %s", c.name, err, c.field)
			}
		}
	})
}

func TestFollowers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	appendRecords(t, st, 3)
	appendEvents(t, st, 4)
	trees := openTrees(t, st, dir, func(c *transparency.Config) { c.Every, c.Interval = 10, time.Hour })
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- trees.Run(runCtx) }()

	t.Run("records and events appended while running are taken in", func(t *testing.T) {
		for _, step := range []struct{ records, events, access, cases int }{{12, 8, 15, 12}, {20, 13, 35, 25}} {
			for range step.records {
				appendRecords(t, st, 1)
				trees.NotifyAccess()
			}
			appendEvents(t, st, step.events)
			eventually(t, "the access tree", func() bool { return trees.Access.Size() == uint64(step.access) })
			eventually(t, "the case tree", func() bool { return trees.Cases.Size() == uint64(step.cases) })
		}
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	access, cases := leaves(t, st)

	t.Run("checkpoints come every 10 leaves and at close", func(t *testing.T) {
		for _, c := range []struct {
			tr     *transparency.Tree
			leaves [][]byte
		}{{trees.Access, access}, {trees.Cases, cases}} {
			var sizes []uint64
			for cp, err := range c.tr.Checkpoints(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				if cp.Origin != c.tr.Origin() || !bytes.Equal(cp.Root, rootOf(c.leaves[:cp.Size])) {
					t.Errorf("%s checkpoint %d: origin %q, root %x does not match", c.tr.Origin(), cp.Seq, cp.Origin, cp.Root)
				}
				sizes = append(sizes, cp.Size)
			}
			if len(sizes) < 2 || sizes[len(sizes)-1] != uint64(len(c.leaves)) {
				t.Fatalf("%s checkpoint sizes %v, want the last at %d", c.tr.Origin(), sizes, len(c.leaves))
			}
			for i := 1; i < len(sizes)-1; i++ {
				if sizes[i]-sizes[i-1] < 10 {
					t.Errorf("%s checkpoint sizes %v: fewer than 10 leaves apart", c.tr.Origin(), sizes)
				}
			}
		}
	})
	t.Run("the checkpoint note is a C2SP checkpoint", func(t *testing.T) {
		cp, err := trees.Access.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		body, sig, _ := strings.Cut(string(cp.Note), "\n\n")
		if want := "liaison/access-log\n35\n"; !strings.HasPrefix(body, want) || !strings.HasPrefix(sig, "— liaison-hub ") {
			t.Errorf("note %q", cp.Note)
		}
	})
	t.Run("the logs verify", func(t *testing.T) {
		rep, err := transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, trees.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Access.Leaves != 35 || rep.Cases.Leaves != 25 || rep.Access.Covered != 35 || rep.Cases.Covered != 25 {
			t.Errorf("report %+v", rep)
		}
	})
}

func TestCheckpointAfterInterval(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	trees := openTrees(t, st, dir, func(c *transparency.Config) {
		c.Every, c.Interval, c.Poll = 1000, time.Minute, time.Millisecond
		c.Clock = func() time.Time { return time.Unix(0, now.Load()) }
	})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go trees.Run(runCtx)
	appendRecords(t, st, 3)
	eventually(t, "the tree", func() bool { return trees.Access.Size() == 3 })
	count := func() int {
		n := 0
		for _, err := range trees.Access.Checkpoints(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d checkpoints before the interval", n)
	}
	now.Add(int64(61 * time.Second))
	eventually(t, "a checkpoint after the interval", func() bool { return count() == 1 })
}

func TestTreesResumeAndRebuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	appendRecords(t, st, 20)
	appendEvents(t, st, 9)
	if err := openTrees(t, st, dir, nil).Close(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("a stored tree is resumed", func(t *testing.T) {
		trees := openTrees(t, st, dir, nil)
		if trees.Access.Size() != 20 || trees.Cases.Size() != 9 {
			t.Fatalf("sizes %d and %d after reopening, want 20 and 9", trees.Access.Size(), trees.Cases.Size())
		}
		appendRecords(t, st, 5)
		appendEvents(t, st, 2)
		if err := trees.Close(ctx); err != nil {
			t.Fatal(err)
		}
		access, cases := leaves(t, st)
		for _, c := range []struct {
			tr     *transparency.Tree
			leaves [][]byte
		}{{trees.Access, access}, {trees.Cases, cases}} {
			root, err := c.tr.Root(ctx, uint64(len(c.leaves)))
			if err != nil || !bytes.Equal(root, rootOf(c.leaves)) {
				t.Errorf("%s root after resuming: %x, %v", c.tr.Origin(), root, err)
			}
		}
	})
	t.Run("a tree whose last leaf does not match is rebuilt quietly", func(t *testing.T) {
		// The derived leaf of access record 24 is lost; the record is intact.
		key := []byte{'T', 'a', 'n', 0, 0, 0, 0, 0, 0, 0, 0, 24}
		if err := st.Write(ctx, true, eventlog.KVOp{Key: key, Value: make([]byte, 32)}); err != nil {
			t.Fatal(err)
		}
		var logs testlog.Buffer
		trees := openTrees(t, st, dir, func(c *transparency.Config) { c.Logger = slogTo(&logs) })
		if trees.Access.Size() != 0 || trees.Cases.Size() != 11 {
			t.Fatalf("sizes %d and %d, want the access tree reset", trees.Access.Size(), trees.Cases.Size())
		}
		if err := trees.Close(ctx); err != nil {
			t.Fatal(err)
		}
		access, _ := leaves(t, st)
		if root, err := trees.Access.Root(ctx, 25); err != nil || !bytes.Equal(root, rootOf(access)) {
			t.Errorf("root after rebuilding: %x, %v", root, err)
		}
		if !strings.Contains(logs.String(), "rebuilding") || strings.Contains(logs.String(), "TAMPER") {
			t.Errorf("logs:\n%s", logs.String())
		}
	})
}
