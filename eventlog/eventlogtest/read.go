package eventlogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

var readTests = []test{
	{"ReadStream from a version yields that version onward", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		es := newEvents(5)
		mustAppend(t, l, s, eventlog.NoStream, es...)
		checkEvents(t, readStream(t, l, s, 3), s, 3, es[2:]...)
	}},
	{"ReadStream past the end yields nothing", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, newEvents(2)...)
		if got := readStream(t, l, s, 3); len(got) != 0 {
			t.Errorf("got %d events, want none", len(got))
		}
	}},
	{"an unknown stream reads nothing", func(t *testing.T, l eventlog.Log) {
		if got := readStream(t, l, newStream(t), 0); len(got) != 0 {
			t.Errorf("got %d events, want none", len(got))
		}
	}},
	{"ReadAll yields events in global order after the position, exclusive", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s1, s2 := newStream(t), newStream(t)
		var want []eventlog.Event
		var streams []string
		v := map[string]int64{s1: eventlog.NoStream, s2: eventlog.NoStream}
		for i := range 6 {
			s := []string{s1, s2}[i%3%2] // s1 s2 s1 s1 s2 s1
			e := newEvent("test.event", fmt.Sprint(i))
			mustAppend(t, l, s, v[s], e)
			v[s]++
			want, streams = append(want, e), append(streams, s)
		}
		got := readAllOf(t, l, h0, s1, s2)
		if len(got) != len(want) {
			t.Fatalf("got %d events, want %d", len(got), len(want))
		}
		for i, r := range got {
			if r.Stream != streams[i] {
				t.Errorf("event %d: got stream %s, want %s", i, r.Stream, streams[i])
			}
			checkSameEvent(t, r.Event, want[i])
		}
		checkGlobalOrder(t, got)

		after := readAllOf(t, l, got[1].Position, s1, s2)
		if len(after) != len(want)-2 || after[0].ID != want[2].ID {
			t.Fatalf("ReadAll after the second event: got %d events, want %d starting with the third", len(after), len(want)-2)
		}
		if last := readAllOf(t, l, got[len(got)-1].Position, s1, s2); len(last) != 0 {
			t.Errorf("ReadAll after the last event: got %d events, want none", len(last))
		}
	}},
	{"Head is at the last append", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		a := mustAppend(t, l, newStream(t), eventlog.NoStream, newEvents(3)...)
		h := mustHead(t, l)
		if !h0.Less(a.Position) {
			t.Errorf("head before the append %v is not before the append's position %v", h0, a.Position)
		}
		if h.Less(a.Position) {
			t.Errorf("head after the append %v is before the append's position %v", h, a.Position)
		}
	}},
	{"events appended during a ReadAll are not yielded by it", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, newEvents(3)...)
		n := 0
		for r, err := range l.ReadAll(t.Context(), h0) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if r.Stream != s {
				continue
			}
			if n++; n == 1 {
				mustAppend(t, l, s, eventlog.AnyVersion, newEvents(1)...)
			}
		}
		if got, want := n, 3; got != want {
			t.Errorf("got %d events of the stream, want %d", got, want)
		}
	}},
	{"yielded events stay valid after the iteration step", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s := newStream(t)
		want := newEvents(200)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		// collect keeps every yielded event; checkEvents compares them after the
		// iteration has moved on.
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
		checkEvents(t, readAllOf(t, l, h0, s), s, 1, want...)
	}},
	{"a read stopped early stops cleanly", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s := newStream(t)
		es := newEvents(3)
		mustAppend(t, l, s, eventlog.NoStream, es...)
		for name, seq := range map[string]func(func(eventlog.Recorded, error) bool){
			"ReadStream": l.ReadStream(t.Context(), s, 1),
			"ReadAll":    l.ReadAll(t.Context(), h0),
		} {
			n := 0
			for _, err := range seq {
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if n++; n == 1 {
					break
				}
			}
			if n != 1 {
				t.Errorf("%s: the loop body ran %d times, want 1", name, n)
			}
		}
		checkEvents(t, readStream(t, l, s, 1), s, 1, es...) // and the log still reads
	}},
	{"a cancelled context stops the reads with its error", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, newEvents(3)...)
		if _, err := collectErr(l.ReadStream(cancelled(t), s, 0)); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadStream: got %v, want context.Canceled", err)
		}
		if _, err := collectErr(l.ReadAll(cancelled(t), eventlog.Position{})); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadAll: got %v, want context.Canceled", err)
		}
	}},
}

var payloadTests = []test{
	{"payload bytes round-trip exactly", func(t *testing.T, l eventlog.Log) {
		all, big := everyByte(), randomBytes(256<<10)
		id := newID()
		want := []eventlog.Event{
			{ID: newID(), Type: "test.empty"},
			{ID: newID(), Type: "test.empty-slices", Metadata: []byte{}, Data: []byte{}},
			{ID: newID(), Type: "test.binary", Metadata: all[128:], Data: all},
			{ID: newID(), Type: "test.zeros", Metadata: []byte{0}, Data: make([]byte, 1000)},
			{ID: id, Type: "test.big", Metadata: id[:], Data: big},
		}
		s := newStream(t)
		h0 := mustHead(t, l)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
		checkEvents(t, readAllOf(t, l, h0, s), s, 1, want...)
	}},
	{"event IDs and types round-trip", func(t *testing.T, l eventlog.Log) {
		want := []eventlog.Event{
			newEvent("case.opened", "{}"),
			newEvent("Case-Section.Shared_v2", "{}"),
			newEvent("dossier.créé", "{}"),
			newEvent(strings.Repeat("t", 200), "{}"),
			{ID: [16]byte{}, Type: "test.zero-id"},
			{ID: [16]byte{0: 0xff, 15: 0xff}, Type: "test.ff-id"},
		}
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, want...)
		checkEvents(t, readStream(t, l, s, 1), s, 1, want...)
	}},
	{"RecordedAt is set, in UTC and non-decreasing in the global order", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		streams := []string{newStream(t), newStream(t), newStream(t)}
		for i := range 12 {
			mustAppend(t, l, streams[i%3], eventlog.AnyVersion, newEvents(1+i%2)...)
			if i%4 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		got := readAllOf(t, l, h0, streams...)
		if len(got) != 18 {
			t.Fatalf("got %d events, want 18", len(got))
		}
		for i, r := range got {
			if r.RecordedAt.IsZero() {
				t.Fatalf("event %d: RecordedAt is zero", i)
			}
			if r.RecordedAt.Location() != time.UTC {
				t.Errorf("event %d: RecordedAt is in %v, want UTC", i, r.RecordedAt.Location())
			}
			if i > 0 && r.RecordedAt.Before(got[i-1].RecordedAt) {
				t.Errorf("event %d: RecordedAt %v is before the previous event's %v", i, r.RecordedAt, got[i-1].RecordedAt)
			}
		}
	}},
}
