package eventlogtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
)

// RunJournal runs the conformance suite for eventlog.Journal. open returns a
// fresh journal for each subtest and registers its own cleanup; an empty
// journal is not required, but no one else should append to it while a subtest
// runs.
func RunJournal(t *testing.T, open func(t *testing.T) eventlog.Journal) {
	t.Helper()
	for _, tc := range journalTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

var journalTests = []struct {
	name string
	run  func(t *testing.T, j eventlog.Journal)
}{
	{"records get indices in order from the journal's length", func(t *testing.T, j eventlog.Journal) {
		n0 := mustLen(t, j)
		want := newRecords(3)
		first := mustAppendRecords(t, j, want...)
		if got, want := first, n0; got != want {
			t.Errorf("first index: got %d, want the length before the append, %d", got, want)
		}
		if got, want := mustLen(t, j), n0+3; got != want {
			t.Errorf("Len: got %d, want %d", got, want)
		}
		checkRecords(t, collect(t, j.ReadRecords(t.Context(), first)), first, want...)
		more := newRecords(2)
		if got, want := mustAppendRecords(t, j, more...), first+3; got != want {
			t.Errorf("second append: got first index %d, want %d", got, want)
		}
		checkRecords(t, collect(t, j.ReadRecords(t.Context(), first)), first, append(want, more...)...)
	}},
	{"ReadRecords from an index starts there", func(t *testing.T, j eventlog.Journal) {
		want := newRecords(5)
		first := mustAppendRecords(t, j, want...)
		checkRecords(t, collect(t, j.ReadRecords(t.Context(), first+2)), first+2, want[2:]...)
	}},
	{"ReadRecords from the length yields nothing", func(t *testing.T, j eventlog.Journal) {
		mustAppendRecords(t, j, newRecords(2)...)
		if got := collect(t, j.ReadRecords(t.Context(), mustLen(t, j))); len(got) != 0 {
			t.Errorf("got %d records, want none", len(got))
		}
	}},
	{"a ReadRecords stopped early stops cleanly", func(t *testing.T, j eventlog.Journal) {
		first := mustAppendRecords(t, j, newRecords(3)...)
		n := 0
		for _, err := range j.ReadRecords(t.Context(), first) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 1 {
				break
			}
		}
		if n != 1 {
			t.Errorf("the loop body ran %d times, want 1", n)
		}
	}},
	{"concurrent appenders get distinct contiguous indices", func(t *testing.T, j eventlog.Journal) {
		const writers, appends = 16, 10
		n0 := mustLen(t, j)
		type batch struct {
			first   uint64
			records [][]byte
		}
		batches := make([][]batch, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range appends {
					rs := newRecords(1 + i%3)
					first, err := j.AppendRecords(t.Context(), rs...)
					if err != nil {
						t.Errorf("AppendRecords: %v", err)
						return
					}
					batches[w] = append(batches[w], batch{first, rs})
				}
			})
		}
		wg.Wait()
		all := collect(t, j.ReadRecords(t.Context(), n0))
		seen := map[uint64]bool{}
		total := 0
		for _, bs := range batches {
			for _, b := range bs {
				for k, rec := range b.records {
					idx := b.first + uint64(k)
					if seen[idx] {
						t.Fatalf("index %d given twice", idx)
					}
					seen[idx] = true
					total++
					if idx < n0 || idx-n0 >= uint64(len(all)) || !bytes.Equal(all[idx-n0].Data, rec) {
						t.Fatalf("record %d is not the one appended there", idx)
					}
				}
			}
		}
		if got, want := len(all), total; got != want {
			t.Errorf("got %d records, want %d", got, want)
		}
		checkIndices(t, all, n0)
	}},
	{"record bytes round-trip exactly", func(t *testing.T, j eventlog.Journal) {
		all, big := everyByte(), randomBytes(256<<10)
		want := [][]byte{nil, {}, all, make([]byte, 300), big, {0}}
		first := mustAppendRecords(t, j, want...)
		checkRecords(t, collect(t, j.ReadRecords(t.Context(), first)), first, want...)
	}},
	{"append with a cancelled context returns its error and appends nothing", func(t *testing.T, j eventlog.Journal) {
		n0 := mustLen(t, j)
		rec := newRecords(1)
		if _, err := j.AppendRecords(cancelled(t), rec...); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		for _, e := range collect(t, j.ReadRecords(t.Context(), n0)) {
			if bytes.Equal(e.Data, rec[0]) {
				t.Fatalf("record found at %d", e.Index)
			}
		}
	}},
	{"a cancelled context stops ReadRecords with its error", func(t *testing.T, j eventlog.Journal) {
		first := mustAppendRecords(t, j, newRecords(2)...)
		if _, err := collectErr(j.ReadRecords(cancelled(t), first)); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	}},
}

// newRecords returns n distinct records.
func newRecords(n int) [][]byte {
	rs := make([][]byte, n)
	for i := range rs {
		id := newID()
		rs[i] = fmt.Appendf(nil, `{"record":"%x","n":%d}`, id, i)
	}
	return rs
}

func mustAppendRecords(t *testing.T, j eventlog.Journal, records ...[]byte) uint64 {
	t.Helper()
	first, err := j.AppendRecords(t.Context(), records...)
	if err != nil {
		t.Fatalf("AppendRecords(%d records): %v", len(records), err)
	}
	return first
}

func mustLen(t *testing.T, j eventlog.Journal) uint64 {
	t.Helper()
	n, err := j.Len(t.Context())
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	return n
}

// checkRecords checks that got starts with want, at indices from first on.
func checkRecords(t *testing.T, got []eventlog.Entry, first uint64, want ...[]byte) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("got %d records, want at least %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Index != first+uint64(i) {
			t.Errorf("record %d: got index %d, want %d", i, got[i].Index, first+uint64(i))
		}
		if !bytes.Equal(got[i].Data, w) {
			t.Errorf("record %d: got %d bytes, want %d (or different bytes)", got[i].Index, len(got[i].Data), len(w))
		}
	}
}

func checkIndices(t *testing.T, got []eventlog.Entry, first uint64) {
	t.Helper()
	for i, e := range got {
		if e.Index != first+uint64(i) {
			t.Fatalf("record %d: got index %d, want %d", i, e.Index, first+uint64(i))
		}
	}
}
