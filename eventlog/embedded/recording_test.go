package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

var _ eventlog.RecordingLog = (*embedded.Store)(nil)

// appendWithRecords is AppendWithRecords that fails the test on an error.
func appendWithRecords(t *testing.T, s *embedded.Store, stream string, expected int64, events []eventlog.Event, records ...[]byte) (eventlog.Appended, uint64) {
	t.Helper()
	a, first, err := s.AppendWithRecords(t.Context(), stream, expected, events, records)
	if err != nil {
		t.Fatalf("AppendWithRecords(%s, %d): %v", stream, expected, err)
	}
	return a, first
}

// records reads the whole journal as strings.
func records(t *testing.T, s *embedded.Store) []string {
	t.Helper()
	var out []string
	for i, e := range readAll(t, s.ReadRecords(t.Context(), 0)) {
		if e.Index != uint64(i) {
			t.Fatalf("journal record %d read at index %d", e.Index, i)
		}
		out = append(out, string(e.Data))
	}
	return out
}

// datas returns the data of events as strings.
func datas(events []eventlog.Recorded) []string {
	var out []string
	for _, e := range events {
		out = append(out, string(e.Data))
	}
	return out
}

func TestAppendWithRecordsSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	mustAppend(t, s, "other", eventlog.NoStream, event("o1"))
	if _, err := s.AppendRecords(t.Context(), []byte("r0")); err != nil {
		t.Fatal(err)
	}
	a, first := appendWithRecords(t, s, "c", eventlog.NoStream, []eventlog.Event{event("c1"), event("c2")}, []byte("r1"), []byte("r2"))
	if a.Version != 2 || a.Position.Commit != 3 || first != 1 {
		t.Fatalf("got version %d, position %d, first record %d; want 2, 3, 1", a.Version, a.Position.Commit, first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	got := readAll(t, s.ReadStream(t.Context(), "c", 1))
	if len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 || got[0].Position.Commit != 2 || got[1].Position.Commit != 3 ||
		!slices.Equal(datas(got), []string{"c1", "c2"}) {
		t.Fatalf("after reopen the stream holds %+v", got)
	}
	if got, want := records(t, s), []string{"r0", "r1", "r2"}; !slices.Equal(got, want) {
		t.Fatalf("after reopen the journal holds %q, want %q", got, want)
	}
	if n, _ := s.Len(t.Context()); n != 3 {
		t.Errorf("Len after reopen: %d, want 3", n)
	}
	a, first = appendWithRecords(t, s, "c", 2, []eventlog.Event{event("c3")}, []byte("r3"))
	if a.Version != 3 || a.Position.Commit != 4 || first != 3 {
		t.Errorf("after reopen: version %d, position %d, first record %d; want 3, 4, 3", a.Version, a.Position.Commit, first)
	}
}

func TestAppendWithRecordsEdgeCases(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	t.Run("no records: an Append, and the journal's length", func(t *testing.T) {
		if _, err := s.AppendRecords(ctx, []byte("r0"), []byte("r1")); err != nil {
			t.Fatal(err)
		}
		a, first := appendWithRecords(t, s, "c", eventlog.NoStream, []eventlog.Event{event("c1")})
		if a.Version != 1 || first != 2 {
			t.Errorf("got version %d, first %d; want 1, 2", a.Version, first)
		}
		if n, _ := s.Len(ctx); n != 2 {
			t.Errorf("Len %d, want 2", n)
		}
	})
	t.Run("no events: records written if the version holds", func(t *testing.T) {
		a, first := appendWithRecords(t, s, "c", 1, nil, []byte("r2"))
		if a.Version != 1 || !a.Position.IsZero() || first != 2 {
			t.Errorf("got %+v, first %d; want version 1, zero position, first 2", a, first)
		}
		if _, _, err := s.AppendWithRecords(ctx, "c", 7, nil, [][]byte{[]byte("stale")}); !errors.Is(err, eventlog.ErrConflict) {
			t.Errorf("stale: got %v, want ErrConflict", err)
		}
		if got, want := records(t, s), []string{"r0", "r1", "r2"}; !slices.Equal(got, want) {
			t.Errorf("journal %q, want %q", got, want)
		}
	})
	t.Run("invalid arguments: an error, and nothing written", func(t *testing.T) {
		if _, _, err := s.AppendWithRecords(ctx, "", eventlog.AnyVersion, []eventlog.Event{event("x")}, [][]byte{[]byte("x")}); err == nil {
			t.Error("empty stream name: no error")
		}
		if _, _, err := s.AppendWithRecords(ctx, "c", -2, []eventlog.Event{event("x")}, [][]byte{[]byte("x")}); err == nil {
			t.Error("expected version -2: no error")
		}
		if n, _ := s.Len(ctx); n != 3 {
			t.Errorf("Len %d, want 3", n)
		}
		if h, _ := s.Head(ctx); h.Commit != 1 {
			t.Errorf("head %d, want 1", h.Commit)
		}
	})
	t.Run("a closed store: ErrClosed", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		s.Close()
		if _, _, err := s.AppendWithRecords(ctx, "c", eventlog.AnyVersion, []eventlog.Event{event("x")}, [][]byte{[]byte("x")}); !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("got %v, want ErrClosed", err)
		}
	})
}

func TestAppendWithRecordsConflictWritesNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	appendWithRecords(t, s, "c", eventlog.NoStream, []eventlog.Event{event("c1")}, []byte("r0"))
	h0, _ := s.Head(ctx)

	_, _, err := s.AppendWithRecords(ctx, "c", eventlog.NoStream, []eventlog.Event{event("again")}, [][]byte{[]byte("refused")})
	if !errors.Is(err, eventlog.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if got := records(t, s); !slices.Equal(got, []string{"r0"}) {
		t.Errorf("journal %q after the conflict, want only r0", got)
	}
	if got := datas(readAll(t, s.ReadStream(ctx, "c", 1))); !slices.Equal(got, []string{"c1"}) {
		t.Errorf("stream %q after the conflict, want only c1", got)
	}
	if h, _ := s.Head(ctx); h != h0 {
		t.Errorf("head %v after the conflict, want %v", h, h0)
	}

	t.Run("in a group, the others' indices stay dense", func(t *testing.T) {
		waiting, release := embedded.HoldWALSyncs(s)
		defer release()
		held := appendAsync(ctx, s, "held", eventlog.NoStream, event("h"))
		waitSignal(t, waiting, "the first fsync") // what follows queues up behind it

		type result struct {
			first uint64
			err   error
		}
		var results []chan result
		for _, c := range []struct {
			stream   string
			expected int64
			record   string
		}{
			{"", 0, "a"},        // AppendRecords
			{"c", 5, "stale"},   // a conflict
			{"c", 1, "c2"},      // fine
			{"c", 1, "stale 2"}, // stale once c2 is staged
			{"", 0, "b"},
		} {
			done := make(chan result, 1)
			results = append(results, done)
			go func() {
				var r result
				if c.stream == "" {
					r.first, r.err = s.AppendRecords(ctx, []byte(c.record))
				} else {
					_, r.first, r.err = s.AppendWithRecords(ctx, c.stream, c.expected, []eventlog.Event{event(c.record)}, [][]byte{[]byte(c.record)})
				}
				done <- r
			}()
			time.Sleep(10 * time.Millisecond) // queued in this order
		}
		before := s.Stats().Groups
		release()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		for i, want := range []result{{1, nil}, {0, eventlog.ErrConflict}, {2, nil}, {0, eventlog.ErrConflict}, {3, nil}} {
			got := <-results[i]
			if !errors.Is(got.err, want.err) || got.err == nil && got.first != want.first {
				t.Errorf("request %d: got %d, %v; want %d, %v", i, got.first, got.err, want.first, want.err)
			}
		}
		if got := s.Stats().Groups - before; got != 2 {
			t.Errorf("%d groups, want 2 (the held one and the others)", got)
		}
		if got, want := records(t, s), []string{"r0", "a", "c2", "b"}; !slices.Equal(got, want) {
			t.Errorf("journal %q, want %q", got, want)
		}
		if got, want := datas(readAll(t, s.ReadStream(ctx, "c", 1))), []string{"c1", "c2"}; !slices.Equal(got, want) {
			t.Errorf("stream %q, want %q", got, want)
		}
	})
}

func TestAppendWithRecordsConcurrently(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := t.Context()
	const writers, rounds = 12, 40

	var mu sync.Mutex
	wrote := map[uint64]string{}    // journal index → record
	linked := map[uint64][]byte{}   // journal index → IDs of the events it accounts for
	events := map[string][]string{} // stream → event data by version - 1
	keep := func(index uint64, record string, ids []byte, stream string, version uint64, data ...string) {
		mu.Lock()
		defer mu.Unlock()
		if record != "" {
			if _, dup := wrote[index]; dup {
				t.Errorf("journal index %d handed out twice", index)
			}
			wrote[index] = record
			if ids != nil {
				linked[index] = ids
			}
		}
		if stream != "" {
			l := events[stream]
			for uint64(len(l)) < version {
				l = append(l, "")
			}
			for i, d := range data {
				l[version-uint64(len(data))+uint64(i)] = d
			}
			events[stream] = l
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("w%d", w)
			var v uint64
			for i := range rounds {
				switch i % 3 {
				case 0: // events and their record, exact expected version
					evs := []eventlog.Event{event(fmt.Sprintf("%s-%d-a", own, i)), event(fmt.Sprintf("%s-%d-bb", own, i))}
					evs[0].ID, evs[1].ID = [16]byte{byte(w), byte(i), 1}, [16]byte{byte(w), byte(i), 2}
					record := fmt.Sprintf("record of %s v%d-%d", own, v+1, v+2)
					a, first, err := s.AppendWithRecords(ctx, own, int64(v), evs, [][]byte{[]byte(record)})
					if err != nil {
						t.Error(err)
						return
					}
					if a.Version != v+2 {
						t.Errorf("%s: version %d, want %d", own, a.Version, v+2)
					}
					v = a.Version
					keep(first, record, append(evs[0].ID[:], evs[1].ID[:]...), own, v, string(evs[0].Data), string(evs[1].Data))
				case 1: // a shared stream, any version, with two records
					d := fmt.Sprintf("%s-%d-hot", own, i)
					r1, r2 := "hot "+d+" 1", "hot "+d+" 2"
					a, first, err := s.AppendWithRecords(ctx, "hot", eventlog.AnyVersion, []eventlog.Event{event(d)}, [][]byte{[]byte(r1), []byte(r2)})
					if err != nil {
						t.Error(err)
						return
					}
					keep(first, r1, nil, "hot", a.Version, d)
					keep(first+1, r2, nil, "", 0)
				case 2: // plain Append and AppendRecords in between
					d := fmt.Sprintf("%s-%d-plain", own, i)
					a, err := s.Append(ctx, "plain", eventlog.AnyVersion, event(d))
					if err != nil {
						t.Error(err)
						return
					}
					keep(0, "", nil, "plain", a.Version, d)
					first, err := s.AppendRecords(ctx, []byte("alone "+d))
					if err != nil {
						t.Error(err)
						return
					}
					keep(first, "alone "+d, nil, "", 0)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	check := func(s *embedded.Store) {
		t.Helper()
		journal := records(t, s)
		if len(journal) != len(wrote) {
			t.Fatalf("the journal holds %d records, %d were appended", len(journal), len(wrote))
		}
		for i, r := range journal { // dense: every index 0…n-1 was handed out once
			if wrote[uint64(i)] != r {
				t.Fatalf("journal record %d is %q, want %q", i, r, wrote[uint64(i)])
			}
		}
		byID := map[[16]byte]eventlog.Recorded{}
		for stream, want := range events {
			got := readAll(t, s.ReadStream(ctx, stream, 1))
			if !slices.Equal(datas(got), want) {
				t.Fatalf("%s holds %q, want %q", stream, datas(got), want)
			}
			for i, e := range got {
				if e.Version != uint64(i+1) {
					t.Fatalf("%s: version %d at %d", stream, e.Version, i+1)
				}
				byID[e.ID] = e
			}
		}
		for index, ids := range linked {
			first, second := byID[[16]byte(ids[:16])], byID[[16]byte(ids[16:])]
			want := fmt.Sprintf("record of %s v%d-%d", first.Stream, first.Version, second.Version)
			if journal[index] != want || second.Stream != first.Stream || second.Version != first.Version+1 {
				t.Fatalf("record %d is %q, its events are %s v%d and %s v%d", index, journal[index], first.Stream, first.Version, second.Stream, second.Version)
			}
		}
		var last uint64
		for _, e := range readAll(t, s.ReadAll(ctx, eventlog.Position{})) {
			if e.Position.Commit != last+1 {
				t.Fatalf("position %d follows %d", e.Position.Commit, last)
			}
			last = e.Position.Commit
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(openStore(t, dir))
}

func TestAppendWithRecordsIsReadableTogether(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h0, _ := s.Head(ctx)

	t.Run("nothing is visible before the fsync", func(t *testing.T) {
		waiting, release := embedded.HoldWALSyncs(s)
		defer release()
		done := make(chan error, 1)
		go func() {
			_, _, err := s.AppendWithRecords(ctx, "c", eventlog.NoStream, []eventlog.Event{event("c1")}, [][]byte{[]byte("r0")})
			done <- err
		}()
		waitSignal(t, waiting, "the fsync")
		time.Sleep(20 * time.Millisecond) // Pebble shows the batch while it syncs
		if h, _ := s.Head(ctx); h != h0 {
			t.Errorf("Head %v before the fsync, want %v", h, h0)
		}
		if n, _ := s.Len(ctx); n != 0 {
			t.Errorf("Len %d before the fsync, want 0", n)
		}
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a subscription sees the events, and the records are there", func(t *testing.T) {
		type seen struct {
			r   eventlog.Recorded
			len uint64
		}
		live := make(chan seen, 10)
		go s.Subscribe(ctx, h0, func(r eventlog.Recorded) error {
			n, err := s.Len(ctx)
			if err != nil {
				return err
			}
			live <- seen{r, n}
			return nil
		})
		_, first := appendWithRecords(t, s, "c", 1, []eventlog.Event{event("c2"), event("c3")}, []byte("r1"))
		for _, want := range []struct {
			data    string
			version uint64
			len     uint64
		}{{"c1", 1, 1}, {"c2", 2, first + 1}, {"c3", 3, first + 1}} {
			select {
			case got := <-live:
				if string(got.r.Data) != want.data || got.r.Version != want.version || got.r.Stream != "c" {
					t.Errorf("got %s v%d %q, want c v%d %q", got.r.Stream, got.r.Version, got.r.Data, want.version, want.data)
				}
				if got.len < want.len {
					t.Errorf("the journal had %d records when %q was delivered, want at least %d", got.len, want.data, want.len)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the subscription did not get %q", want.data)
			}
		}
	})

	t.Run("cancelled while queued: ctx.Err() and nothing written", func(t *testing.T) {
		waiting, release := embedded.HoldWALSyncs(s)
		defer release()
		held := appendAsync(ctx, s, "held", eventlog.NoStream, event("h"))
		waitSignal(t, waiting, "the first fsync")
		n0, _ := s.Len(ctx)
		qctx, qcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, _, err := s.AppendWithRecords(qctx, "queued", eventlog.NoStream, []eventlog.Event{event("q")}, [][]byte{[]byte("q")})
			done <- err
		}()
		time.Sleep(10 * time.Millisecond)
		qcancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		release()
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, "after", eventlog.NoStream, event("a")) // the committer went past it
		if got := readAll(t, s.ReadStream(ctx, "queued", 1)); len(got) != 0 {
			t.Errorf("%d events of the cancelled append", len(got))
		}
		if n, _ := s.Len(ctx); n != n0 {
			t.Errorf("Len %d, want %d", n, n0)
		}
	})
}

func TestAppendWithRecordsFailedCommitLeavesBothOrNeither(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	appendWithRecords(t, s, "c", eventlog.NoStream, []eventlog.Event{event("durable")}, []byte("durable"))
	errDisk := errors.New("disk on fire")
	embedded.FailWALSyncs(s, errDisk)
	_, _, err := s.AppendWithRecords(t.Context(), "c", 1, []eventlog.Event{event("unknown")}, [][]byte{[]byte("unknown")})
	if !errors.Is(err, embedded.ErrFailed) || !errors.Is(err, errDisk) {
		t.Fatalf("got %v, want ErrFailed wrapping the disk error", err)
	}
	s.Close()

	s = openStore(t, dir)
	evs, recs := datas(readAll(t, s.ReadStream(t.Context(), "c", 1))), records(t, s)
	if !slices.Equal(evs, recs) || len(evs) == 0 || evs[0] != "durable" {
		t.Errorf("after reopen: events %q, records %q; want the same, starting with the durable one", evs, recs)
	}
	t.Logf("the unsynced commit was %s", map[bool]string{true: "kept", false: "lost"}[len(evs) == 2])
}
