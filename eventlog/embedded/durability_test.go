package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// appendAsync runs Append in the background.
func appendAsync(ctx context.Context, s *embedded.Store, stream string, expected int64, e eventlog.Event) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, stream, expected, e)
		done <- err
	}()
	return done
}

func waitSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestNothingIsVisibleBeforeItsFsync(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	h0, _ := s.Head(ctx)
	live := make(chan eventlog.Recorded, 10)
	go s.Subscribe(ctx, h0, func(r eventlog.Recorded) error { live <- r; return nil })

	waiting, release := embedded.HoldWALSyncs(s)
	defer release()
	done := appendAsync(ctx, s, "c", eventlog.NoStream, event("pending"))
	records := make(chan error, 1)
	go func() {
		_, err := s.AppendRecords(ctx, []byte("pending"))
		records <- err
	}()
	waitSignal(t, waiting, "the fsync")
	time.Sleep(20 * time.Millisecond) // Pebble shows the batch while it syncs

	if got, _ := s.Head(ctx); got != h0 {
		t.Errorf("Head: got %v before the fsync, want %v", got, h0)
	}
	if got := readAll(t, s.ReadAll(ctx, h0)); len(got) != 0 {
		t.Errorf("ReadAll: got %d events before the fsync, want none", len(got))
	}
	if got := readAll(t, s.ReadStream(ctx, "c", 1)); len(got) != 0 {
		t.Errorf("ReadStream: got %d events before the fsync, want none", len(got))
	}
	if got, _ := s.Len(ctx); got != 0 {
		t.Errorf("Len: got %d before the fsync, want 0", got)
	}
	if got := readAll(t, s.ReadRecords(ctx, 0)); len(got) != 0 {
		t.Errorf("ReadRecords: got %d records before the fsync, want none", len(got))
	}
	select {
	case r := <-live:
		t.Errorf("subscription got %s v%d before the fsync", r.Stream, r.Version)
	default:
	}

	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-records; err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s.ReadStream(ctx, "c", 1)); len(got) != 1 {
		t.Errorf("ReadStream: got %d events after the fsync, want 1", len(got))
	}
	select {
	case <-live:
	case <-time.After(10 * time.Second):
		t.Errorf("subscription did not get the event after the fsync")
	}
}

func TestCancelledAppend(t *testing.T) {
	t.Run("cancelled while queued: ctx.Err() and nothing written", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		waiting, release := embedded.HoldWALSyncs(s)
		defer release()
		first := appendAsync(t.Context(), s, "first", eventlog.NoStream, event("1"))
		waitSignal(t, waiting, "the first fsync") // the committer is busy

		ctx, cancel := context.WithCancel(t.Context())
		queued := appendAsync(ctx, s, "queued", eventlog.NoStream, event("2"))
		time.Sleep(10 * time.Millisecond)
		cancel()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		release()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, "after", eventlog.NoStream, event("3")) // the committer went past it
		if got := readAll(t, s.ReadStream(t.Context(), "queued", 1)); len(got) != 0 {
			t.Errorf("got %d events of the cancelled append, want none", len(got))
		}
	})
	t.Run("cancelled during its fsync: the real outcome", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		waiting, release := embedded.HoldWALSyncs(s)
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		done := appendAsync(ctx, s, "c", eventlog.NoStream, event("1"))
		waitSignal(t, waiting, "the fsync")
		cancel()
		select {
		case err := <-done:
			t.Fatalf("Append returned %v while its batch was being written", err)
		case <-time.After(20 * time.Millisecond):
		}
		release()
		if err := <-done; err != nil {
			t.Fatalf("got %v, want success: the event was written", err)
		}
		if got := readAll(t, s.ReadStream(t.Context(), "c", 1)); len(got) != 1 {
			t.Errorf("got %d events, want 1", len(got))
		}
	})
}

func TestOneGroupChecksItsAppendsInOrder(t *testing.T) {
	s := openStore(t, t.TempDir())
	mustAppend(t, s, "c", eventlog.NoStream, event("v1"))
	waiting, release := embedded.HoldWALSyncs(s)
	defer release()
	first := appendAsync(t.Context(), s, "other", eventlog.NoStream, event("x"))
	waitSignal(t, waiting, "the first fsync") // the next appends queue up behind it

	before := s.Stats().Groups
	var results []<-chan error
	for _, expected := range []int64{1, 2, 1, 3} { // ok, ok (sees the first), stale, ok
		results = append(results, appendAsync(t.Context(), s, "c", expected, event(fmt.Sprint("after ", expected))))
		time.Sleep(10 * time.Millisecond) // queued in this order
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, nil, eventlog.ErrConflict, nil} {
		if err := <-results[i]; !errors.Is(err, want) {
			t.Errorf("append %d: got %v, want %v", i, err, want)
		}
	}
	if got := s.Stats().Groups - before; got != 2 {
		t.Errorf("the appends took %d groups, want 2 (the held one and theirs)", got)
	}
	if got := readAll(t, s.ReadStream(t.Context(), "c", 1)); len(got) != 4 {
		t.Errorf("got %d events, want 4", len(got))
	}
}
