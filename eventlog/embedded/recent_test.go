package embedded_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// TestRecentRecords reads the journal while appenders add to it, from
// places before, across and within the latest records the store holds in
// memory: every read yields each record once, in order, with its own bytes,
// whether it came from memory or from the store; and the memory holds the
// latest records, not more.
func TestRecentRecords(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	record := func(i uint64) string { return fmt.Sprintf(`{"record":%d}`, i) }
	total := uint64(embedded.RecentRecords * 5 / 2)
	var (
		mu   sync.Mutex
		next uint64
	)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock() // indexes are given in the order of the appends
				if next >= total {
					mu.Unlock()
					return
				}
				n := min(1+next%37, total-next)
				recs := make([][]byte, n)
				for j := range recs {
					recs[j] = []byte(record(next + uint64(j)))
				}
				first, err := s.AppendRecords(ctx, recs...)
				if err == nil && first != next {
					err = fmt.Errorf("appended at %d, want %d", first, next)
				}
				next += n
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	read := func(from uint64) uint64 {
		i := from
		for e, err := range s.ReadRecords(ctx, from) {
			if err != nil {
				t.Fatal(err)
			}
			if e.Index != i || string(e.Data) != record(i) {
				t.Fatalf("from %d: record %d is %q at %d, want %q", from, e.Index, e.Data, i, record(i))
			}
			i++
		}
		return i
	}
	for from, end := uint64(0), uint64(0); end < total; {
		end = read(from)
		start, _ := embedded.HeldRecords(s)
		read(start - min(start, embedded.RecentRecords/2)) // across memory's start, or from 0
		from = max(from, end-min(end, 10))
	}
	wg.Wait()
	if read(0) != total {
		t.Fatalf("read fewer than %d records", total)
	}
	if start, end := embedded.HeldRecords(s); end != total || end-start != embedded.RecentRecords {
		t.Fatalf("memory holds records %d to %d, want the latest %d of %d", start, end, embedded.RecentRecords, total)
	}
}
