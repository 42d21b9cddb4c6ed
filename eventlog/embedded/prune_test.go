package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// TestPruneRecords prunes the first journal records: they read back as
// pruned, without data, in their places; the others and the length are
// unchanged; the last record is never pruned; pruning never goes back; and
// all of it holds after a reopen, in a store of format 2, which a release
// reading format 1 only refuses.
func TestPruneRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	var recs [][]byte
	for i := range 100 {
		recs = append(recs, fmt.Appendf(nil, `{"n":%d}`, i))
	}
	if _, err := s.AppendRecords(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	check := func(s *embedded.Store, pruned uint64) {
		t.Helper()
		if got := s.Pruned(); got != pruned {
			t.Fatalf("Pruned() = %d, want %d", got, pruned)
		}
		if n, err := s.Len(ctx); err != nil || n != 100 {
			t.Fatalf("Len = %d (%v), want 100", n, err)
		}
		for _, from := range []uint64{0, pruned / 2, pruned, 99} {
			i := from
			for e, err := range s.ReadRecords(ctx, from) {
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case e.Index != i:
					t.Fatalf("from %d: record %d at %d", from, e.Index, i)
				case i < pruned && (!e.Pruned || e.Data != nil):
					t.Fatalf("record %d: %+v, want pruned", i, e)
				case i >= pruned && (e.Pruned || !slices.Equal(e.Data, recs[i])):
					t.Fatalf("record %d: %+v, want %s", i, e, recs[i])
				}
				i++
			}
			if i != 100 {
				t.Fatalf("from %d: read up to %d, want 100", from, i)
			}
		}
	}
	if f, err := embedded.Format(s); err != nil || f != 1 {
		t.Fatalf("a new store has format %d (%v), want 1", f, err)
	}
	if n, err := s.PruneRecords(ctx, 40); err != nil || n != 40 {
		t.Fatalf("PruneRecords(40) = %d, %v", n, err)
	}
	check(s, 40)
	if f, err := embedded.Format(s); err != nil || f != 2 {
		t.Fatalf("a store that pruned has format %d (%v), want 2", f, err)
	}
	if n, err := s.PruneRecords(ctx, 10); err != nil || n != 40 {
		t.Fatalf("PruneRecords(10) after 40 = %d, %v: pruning goes back", n, err)
	}
	if n, err := s.PruneRecords(ctx, 1000); err != nil || n != 99 {
		t.Fatalf("PruneRecords(1000) = %d, %v; want 99, the last record kept", n, err)
	}
	check(s, 99)
	s.Close()
	s = openStore(t, dir)
	check(s, 99)
	if i, err := s.AppendRecords(ctx, []byte("next")); err != nil || i != 100 {
		t.Fatalf("appended at %d (%v), want 100", i, err)
	}
	s.Close()

	// Format 2: a build that reads up to format 1 refuses the store, as
	// this one refuses format 3.
	if embedded.SchemaVersion != 2 {
		t.Fatalf("SchemaVersion = %d, want 2", embedded.SchemaVersion)
	}
	s = openStore(t, dir)
	if err := embedded.SetFormat(s, 3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := embedded.Open(dir, embedded.Options{Logger: quiet}); !errors.Is(err, embedded.ErrNewerFormat) {
		t.Fatalf("Open of format 3: %v, want ErrNewerFormat", err)
	}
}
