package follow_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/follow"
)

var state = []byte("Xs")

// consumer writes one key per record, name then the record's index, and
// notes what it is given.
type consumer struct {
	name      string
	given     []uint64 // the indexes of every record given, in order
	committed int
	restarts  int
}

func (c *consumer) Append(ops []eventlog.KVOp, batch []eventlog.Entry) ([]eventlog.KVOp, error) {
	for _, e := range batch {
		c.given = append(c.given, e.Index)
		ops = append(ops, eventlog.KVOp{Key: binary.BigEndian.AppendUint64([]byte(c.name), e.Index), Value: slices.Clone(e.Data)})
	}
	return ops, nil
}

func (c *consumer) Committed(context.Context) { c.committed++ }

func (c *consumer) Restart(context.Context, eventlog.KV) error { c.restarts++; return nil }

// kv is the store's KV, noting the ops of every write, failing the writes
// while fail is set.
type kv struct {
	*embedded.Store
	writes [][]eventlog.KVOp
	fail   bool
}

var errWrite = errors.New("write refused")

func (k *kv) Write(ctx context.Context, sync bool, ops ...eventlog.KVOp) error {
	if k.fail {
		return errWrite
	}
	k.writes = append(k.writes, slices.Clone(ops))
	return k.Store.Write(ctx, sync, ops...)
}

func openStore(t *testing.T, dir string) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(dir, embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func appendRecords(t *testing.T, j eventlog.Journal, n int) {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, "record %d", i)
	}
	if _, err := j.AppendRecords(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

func TestFollower(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	k := &kv{Store: st}
	tree, index := &consumer{name: "T"}, &consumer{name: "A"}
	f := follow.New(k, st, state, tree, index)
	if _, ok, err := f.Load(ctx); ok || err != nil {
		t.Fatalf("Load of an empty KV: %v, %v; want no state", ok, err)
	}
	appendRecords(t, st, 2500)
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("each batch stores every consumer's writes and the state together", func(t *testing.T) {
		var sizes []int
		for i, ops := range k.writes {
			n := (len(ops) - 1) / 2
			sizes = append(sizes, n)
			last := ops[len(ops)-1]
			if string(last.Key) != string(state) || binary.BigEndian.Uint64(last.Value) != uint64(1024*i+n) {
				t.Errorf("write %d ends with %q = %x, want the state %d", i, last.Key, last.Value, 1024*i+n)
			}
			for j, op := range ops[:len(ops)-1] {
				if want := []string{"T", "A"}[j/n]; string(op.Key[:1]) != want {
					t.Errorf("write %d, op %d: key %q, want the %s consumer's", i, j, op.Key, want)
				}
			}
		}
		if want := []int{1024, 1024, 452}; !slices.Equal(sizes, want) {
			t.Errorf("batches of %v records, want %v", sizes, want)
		}
		if tree.committed != 3 || index.committed != 3 {
			t.Errorf("committed %d and %d times, want 3", tree.committed, index.committed)
		}
	})

	t.Run("a batch that is not stored is given again", func(t *testing.T) {
		appendRecords(t, st, 10)
		k.fail = true
		if err := f.CatchUp(ctx); !errors.Is(err, errWrite) {
			t.Fatalf("CatchUp: %v, want the KV's error", err)
		}
		if tree.committed != 3 {
			t.Errorf("committed %d times after a failed write, want 3", tree.committed)
		}
		k.fail = false
		if err := f.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for range 2 {
			for i := range uint64(10) {
				want = append(want, 2500+i)
			}
		}
		if got := tree.given[2500:]; !slices.Equal(got, want) {
			t.Errorf("given after the failed write: %v, want %v", got, want)
		}
		if got := next(t, f); got != 2510 {
			t.Errorf("state %d, want 2510", got)
		}
	})

	t.Run("a follower reopened goes on where the state says", func(t *testing.T) {
		again := &consumer{name: "T"}
		f := follow.New(k, st, state, again)
		if n := next(t, f); n != 2510 {
			t.Fatalf("Load: %d, want 2510", n)
		}
		appendRecords(t, st, 3)
		if err := f.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if want := []uint64{2510, 2511, 2512}; !slices.Equal(again.given, want) {
			t.Errorf("given %v, want %v", again.given, want)
		}
	})

	t.Run("a restart gives every consumer the journal from its first record", func(t *testing.T) {
		tree.given, index.given = nil, nil
		if err := f.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if tree.restarts != 1 || index.restarts != 1 || len(tree.given) != 2513 || tree.given[0] != 0 || len(index.given) != 2513 {
			t.Errorf("restarts %d and %d, %d and %d records given from %v; want 1, 1, 2513 from 0",
				tree.restarts, index.restarts, len(tree.given), len(index.given), tree.given[:1])
		}
	})
}

func TestRunTakesInWhatNotifyAnnounces(t *testing.T) {
	st := openStore(t, t.TempDir())
	c := &consumer{name: "T"}
	f := follow.New(st, st, state, c)
	ctx, cancel := context.WithCancel(context.Background())
	steps := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, time.Hour, func(context.Context) error {
			steps <- struct{}{}
			return nil
		})
	}()
	<-steps // the first catch-up, at once
	appendRecords(t, st, 5)
	f.Notify()
	select {
	case <-steps:
	case <-time.After(10 * time.Second):
		t.Fatal("no catch-up after Notify")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := next(t, f); n != 5 {
		t.Errorf("state %d after Run, want 5", n)
	}
}

// next returns the number of records the follower's state says its
// consumers hold.
func next(t *testing.T, f *follow.Follower) uint64 {
	t.Helper()
	n, ok, err := f.Load(context.Background())
	if err != nil || !ok {
		t.Fatalf("Load: %v, %v", ok, err)
	}
	return n
}
