package eventlogtest

import (
	"context"
	"errors"
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
)

var appendTests = []test{
	{"first append creates the stream at version 1", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		e := newEvent("case.opened", `{"title":"a"}`)
		a := mustAppend(t, l, s, eventlog.NoStream, e)
		if got, want := a.Version, uint64(1); got != want {
			t.Errorf("Appended.Version: got %d, want %d", got, want)
		}
		if a.Position.IsZero() {
			t.Errorf("Appended.Position is zero")
		}
		got := readStream(t, l, s, 0)
		checkEvents(t, got, s, 1, e)
		if got[0].Position != a.Position {
			t.Errorf("Position: got %v, want %v", got[0].Position, a.Position)
		}
	}},
	{"versions continue from one append to the next", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		first, second := newEvents(2), newEvents(3)
		if got, want := mustAppend(t, l, s, eventlog.NoStream, first...).Version, uint64(2); got != want {
			t.Errorf("first append: got version %d, want %d", got, want)
		}
		if got, want := mustAppend(t, l, s, 2, second...).Version, uint64(5); got != want {
			t.Errorf("second append: got version %d, want %d", got, want)
		}
		checkEvents(t, readStream(t, l, s, 1), s, 1, append(first, second...)...)
	}},
	{"exact expected version appends", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, newEvents(3)...)
		e := newEvent("test.event", "x")
		if got, want := mustAppend(t, l, s, 3, e).Version, uint64(4); got != want {
			t.Errorf("got version %d, want %d", got, want)
		}
		checkEvents(t, readStream(t, l, s, 4), s, 4, e)
	}},
	{"NoStream on an existing stream is a conflict and appends nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		want := newEvents(1)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		checkConflict(t, l, s, eventlog.NoStream)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
	}},
	{"stale expected version is a conflict and appends nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		want := newEvents(3)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		checkConflict(t, l, s, 2)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
	}},
	{"expected version ahead of the stream is a conflict and appends nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		want := newEvents(2)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		checkConflict(t, l, s, 5)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
	}},
	{"expected version on an unknown stream is a conflict and creates nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		checkConflict(t, l, s, 1)
		if got := readStream(t, l, s, 0); len(got) != 0 {
			t.Errorf("got %d events, want none", len(got))
		}
	}},
	{"AnyVersion appends to a new and to an existing stream", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		first, second := newEvents(1), newEvents(2)
		if got, want := mustAppend(t, l, s, eventlog.AnyVersion, first...).Version, uint64(1); got != want {
			t.Errorf("new stream: got version %d, want %d", got, want)
		}
		if got, want := mustAppend(t, l, s, eventlog.AnyVersion, second...).Version, uint64(3); got != want {
			t.Errorf("existing stream: got version %d, want %d", got, want)
		}
		checkEvents(t, readStream(t, l, s, 1), s, 1, append(first, second...)...)
	}},
	{"multi-event append is contiguous in its stream and in the global order", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s := newStream(t)
		want := newEvents(5)
		a := mustAppend(t, l, s, eventlog.NoStream, want...)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)

		all := collect(t, l.ReadAll(t.Context(), h0))
		start := -1
		for i, r := range all {
			if r.Stream == s {
				start = i
				break
			}
		}
		if start < 0 || start+len(want) > len(all) {
			t.Fatalf("ReadAll does not hold the %d events of %s", len(want), s)
		}
		got := all[start : start+len(want)]
		checkEvents(t, got, s, 1, want...)
		checkGlobalOrder(t, got)
		if got[len(got)-1].Position != a.Position {
			t.Errorf("Appended.Position: got %v, want the last event's %v", a.Position, got[len(got)-1].Position)
		}
	}},
	{"an append repeated with the same event IDs at the same expected version writes them once", func(t *testing.T, l eventlog.Log) {
		// A writer that lost the answer to its append (a timeout after the
		// commit) tries it again, with the same events and expected version:
		// the log answers as it did and writes nothing twice (EventStoreDB
		// deduplicates by event id; the embedded store does the same).
		s := newStream(t)
		opened := newEvents(1)
		a0 := mustAppend(t, l, s, eventlog.NoStream, opened...)
		if again := mustAppend(t, l, s, eventlog.NoStream, opened...); again != a0 {
			t.Errorf("the repeated first append answered %+v, the first %+v", again, a0)
		}
		evs := newEvents(2)
		a := mustAppend(t, l, s, 1, evs...)
		if again := mustAppend(t, l, s, 1, evs...); again != a {
			t.Errorf("the repeated append answered %+v, the first %+v", again, a)
		}
		later := newEvents(1)
		mustAppend(t, l, s, 3, later...)
		if again := mustAppend(t, l, s, 1, evs...); again != a {
			t.Errorf("the append repeated after another answered %+v, the first %+v", again, a)
		}
		// Other events at that version are a conflict, as ever, and so are
		// the same events with one of them changed.
		checkConflict(t, l, s, 1)
		changed := []eventlog.Event{evs[0], newEvent("test.event", "other")}
		if _, err := l.Append(t.Context(), s, 1, changed...); !errors.Is(err, eventlog.ErrConflict) {
			t.Errorf("the repeated append with one event changed: got %v, want ErrConflict", err)
		}
		checkEvents(t, readStream(t, l, s, 0), s, 1, append(append(opened, evs...), later...)...)
	}},
	{"append with a cancelled context returns its error and appends nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		_, err := l.Append(cancelled(t), s, eventlog.NoStream, newEvents(1)...)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if got := readStream(t, l, s, 0); len(got) != 0 {
			t.Errorf("got %d events, want none", len(got))
		}
	}},
}

// checkConflict appends two events to stream with expected and checks that the
// append is refused with ErrConflict.
func checkConflict(t *testing.T, l eventlog.Log, stream string, expected int64) {
	t.Helper()
	_, err := l.Append(t.Context(), stream, expected, newEvents(2)...)
	if !errors.Is(err, eventlog.ErrConflict) {
		t.Fatalf("Append with expected version %d: got %v, want ErrConflict", expected, err)
	}
}
