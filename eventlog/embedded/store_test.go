package embedded_test

import (
	"crypto/rand"
	"errors"
	"io"
	"iter"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/eventlogtest"
)

func TestConformance(t *testing.T) {
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log { return openStore(t, t.TempDir()) })
}

func TestJournalConformance(t *testing.T) {
	eventlogtest.RunJournal(t, func(t *testing.T) eventlog.Journal { return openStore(t, t.TempDir()) })
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens the store in dir and closes it when the test ends.
func openStore(t testing.TB, dir string, opts ...func(*embedded.Options)) *embedded.Store {
	t.Helper()
	o := embedded.Options{Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	s, err := embedded.Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// event returns an event with data and a random ID: two events, even with
// the same data, are never one appended twice (the store deduplicates).
func event(data string) eventlog.Event {
	var id [16]byte
	rand.Read(id[:])
	return eventlog.Event{ID: id, Type: "test.event", Data: []byte(data)}
}

func mustAppend(t *testing.T, s *embedded.Store, stream string, expected int64, events ...eventlog.Event) eventlog.Appended {
	t.Helper()
	a, err := s.Append(t.Context(), stream, expected, events...)
	if err != nil {
		t.Fatalf("Append(%s, %d): %v", stream, expected, err)
	}
	return a
}

func readAll[T any](t *testing.T, seq iter.Seq2[T, error]) []T {
	t.Helper()
	var got []T
	for v, err := range seq {
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, v)
	}
	return got
}

func TestOpenLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	t.Run("a second Open of the directory fails with ErrLocked", func(t *testing.T) {
		_, err := embedded.Open(dir, embedded.Options{Logger: quiet})
		if !errors.Is(err, embedded.ErrLocked) {
			t.Fatalf("got %v, want ErrLocked", err)
		}
		t.Logf("the error reads: %v", err)
	})
	t.Run("the directory opens again once closed", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		openStore(t, dir)
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	a1 := mustAppend(t, s, "case-a", eventlog.NoStream, event("a1"), event("a2"))
	mustAppend(t, s, "case-b", eventlog.NoStream, event("b1"))
	if _, err := s.AppendRecords(t.Context(), []byte("r0"), []byte("r1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), true, eventlog.KVOp{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	h1, _ := s.Head(t.Context())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	if got, _ := s.Head(t.Context()); got != h1 {
		t.Errorf("Head after reopen: got %v, want %v", got, h1)
	}
	if got, _ := s.Len(t.Context()); got != 2 {
		t.Errorf("Len after reopen: got %d, want 2", got)
	}
	if _, err := s.Append(t.Context(), "case-a", 1, event("stale")); !errors.Is(err, eventlog.ErrConflict) {
		t.Errorf("stale append after reopen: got %v, want ErrConflict", err)
	}
	a2 := mustAppend(t, s, "case-a", 2, event("a3"))
	if got, want := a2.Version, uint64(3); got != want {
		t.Errorf("version after reopen: got %d, want %d", got, want)
	}
	if got, want := a2.Position.Commit, h1.Commit+1; got != want {
		t.Errorf("position after reopen: got %d, want %d", got, want)
	}
	if a1.Position.Commit != 2 {
		t.Errorf("first append's position: got %d, want 2", a1.Position.Commit)
	}
	if got, _ := s.AppendRecords(t.Context(), []byte("r2")); got != 2 {
		t.Errorf("journal index after reopen: got %d, want 2", got)
	}
	if v, ok, err := s.Get(t.Context(), []byte("k")); err != nil || !ok || string(v) != "v" {
		t.Errorf("KV after reopen: got %q, %v, %v; want \"v\"", v, ok, err)
	}
	var versions []uint64
	for _, r := range readAll(t, s.ReadAll(t.Context(), eventlog.Position{})) {
		if r.Stream == "case-a" {
			versions = append(versions, r.Version)
		}
	}
	if want := []uint64{1, 2, 3}; !slices.Equal(versions, want) {
		t.Errorf("case-a versions: got %v, want %v", versions, want)
	}
}

func TestRecordedAtNeverGoesBackwards(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	clock := base
	withClock := func(o *embedded.Options) { o.Clock = func() time.Time { return clock } }
	s := openStore(t, dir, withClock)
	mustAppend(t, s, "c", eventlog.AnyVersion, event("1"))
	clock = base.Add(-time.Hour) // the clock steps back
	mustAppend(t, s, "c", eventlog.AnyVersion, event("2"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clock = base.Add(-2 * time.Hour) // and back again across a restart
	s = openStore(t, dir, withClock)
	mustAppend(t, s, "c", eventlog.AnyVersion, event("3"))
	clock = base.Add(time.Minute)
	mustAppend(t, s, "c", eventlog.AnyVersion, event("4"))

	var got []time.Time
	for _, r := range readAll(t, s.ReadStream(t.Context(), "c", 1)) {
		got = append(got, r.RecordedAt)
	}
	want := []time.Time{base, base, base, base.Add(time.Minute)}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].Location() != time.UTC {
			t.Errorf("event %d: RecordedAt %v, want %v in UTC", i+1, got[i], want[i].UTC())
		}
	}
}

func TestClosedStore(t *testing.T) {
	s := openStore(t, t.TempDir())
	mustAppend(t, s, "c", eventlog.NoStream, event("x"))
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.Subscribe(t.Context(), eventlog.Position{}, func(eventlog.Recorded) error { return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("a running subscription returns ErrClosed", func(t *testing.T) {
		if err := <-subDone; !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("got %v, want ErrClosed", err)
		}
	})
	t.Run("every call returns ErrClosed", func(t *testing.T) {
		checkAllClosed(t, s)
	})
	t.Run("a second Close returns nil", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}

// checkAllClosed checks that every method of s returns ErrClosed.
func checkAllClosed(t *testing.T, s *embedded.Store) {
	t.Helper()
	ctx := t.Context()
	firstErr := func(seq iter.Seq2[eventlog.Recorded, error]) error {
		for _, err := range seq {
			return err
		}
		return nil
	}
	_, appendErr := s.Append(ctx, "c", eventlog.AnyVersion, event("y"))
	_, recordsErr := s.AppendRecords(ctx, []byte("r"))
	_, headErr := s.Head(ctx)
	_, lenErr := s.Len(ctx)
	_, _, getErr := s.Get(ctx, []byte("k"))
	var scanErr, recordErr error
	for _, err := range s.Scan(ctx, nil, nil) {
		scanErr = err
	}
	for _, err := range s.ReadRecords(ctx, 0) {
		recordErr = err
	}
	for name, err := range map[string]error{
		"Append":        appendErr,
		"AppendRecords": recordsErr,
		"Head":          headErr,
		"Len":           lenErr,
		"ReadAll":       firstErr(s.ReadAll(ctx, eventlog.Position{})),
		"ReadStream":    firstErr(s.ReadStream(ctx, "c", 0)),
		"Subscribe":     s.Subscribe(ctx, eventlog.Position{}, func(eventlog.Recorded) error { return nil }),
		"Get":           getErr,
		"Write":         s.Write(ctx, false, eventlog.KVOp{Key: []byte("k")}),
		"Scan":          scanErr,
		"ReadRecords":   recordErr,
	} {
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("%s: got %v, want ErrClosed", name, err)
		}
	}
}

func TestFailedCommit(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	before := mustAppend(t, s, "c", eventlog.NoStream, event("durable"))
	errDisk := errors.New("disk on fire")
	embedded.FailWALSyncs(s, errDisk)

	t.Run("the failing append gets ErrFailed and the cause", func(t *testing.T) {
		_, err := s.Append(t.Context(), "c", 1, event("lost"))
		if !errors.Is(err, embedded.ErrFailed) || !errors.Is(err, errDisk) {
			t.Fatalf("got %v, want ErrFailed wrapping the disk error", err)
		}
	})
	t.Run("every later call returns ErrClosed", func(t *testing.T) {
		checkAllClosed(t, s)
	})
	t.Run("a reopened store holds what was acknowledged", func(t *testing.T) {
		s.Close() // Pebble reports the failed sync again; nothing to check.
		s := openStore(t, dir)
		got := readAll(t, s.ReadStream(t.Context(), "c", 1))
		if len(got) == 0 || got[0].Position != before.Position || string(got[0].Data) != "durable" {
			t.Fatalf("got %d events, want the acknowledged one first", len(got))
		}
		mustAppend(t, s, "c", int64(len(got)), event("after"))
	})
}
