// Package eventlogtest is the conformance suite every eventlog backend runs:
// the embedded store always, EventStoreDB when one is reachable.
//
// The suite never assumes it has the log to itself: stream names are random
// UUIDs (valid on EventStoreDB too), and checks on the global order start from
// the Head taken at the beginning of a subtest and keep only the subtest's own
// streams, so it can run against a shared server.
package eventlogtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// Run runs the conformance suite for eventlog.Log. open returns a fresh log for
// each subtest and registers its own cleanup (closing the log); an empty log is
// not required.
func Run(t *testing.T, open func(t *testing.T) eventlog.Log) {
	t.Helper()
	for _, group := range [][]test{appendTests, readTests, payloadTests, raceTests, subscribeTests} {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
		}
	}
}

type test struct {
	name string
	run  func(t *testing.T, l eventlog.Log)
}

// waitFor bounds how long a subtest waits for something that should happen.
const waitFor = 30 * time.Second

// newStream returns a new random stream name (a UUID string).
func newStream(t *testing.T) string {
	t.Helper()
	id := newID()
	return fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
}

// newID returns a random version 4 UUID.
func newID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// newEvent returns an event with a fresh ID, the given type and data, and
// metadata naming it.
func newEvent(typ string, data string) eventlog.Event {
	id := newID()
	return eventlog.Event{ID: id, Type: typ, Metadata: []byte(fmt.Sprintf(`{"id":"%x"}`, id)), Data: []byte(data)}
}

// newEvents returns n events of type "test.event" with distinct data.
func newEvents(n int) []eventlog.Event {
	es := make([]eventlog.Event, n)
	for i := range es {
		es[i] = newEvent("test.event", fmt.Sprintf(`{"n":%d}`, i))
	}
	return es
}

func mustAppend(t *testing.T, l eventlog.Log, stream string, expected int64, events ...eventlog.Event) eventlog.Appended {
	t.Helper()
	a, err := l.Append(t.Context(), stream, expected, events...)
	if err != nil {
		t.Fatalf("Append(%s, expected %d, %d events): %v", stream, expected, len(events), err)
	}
	return a
}

func mustHead(t *testing.T, l eventlog.Log) eventlog.Position {
	t.Helper()
	h, err := l.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return h
}

// collect drains seq and fails the test on an error.
func collect[T any](t *testing.T, seq iter.Seq2[T, error]) []T {
	t.Helper()
	got, err := collectErr(seq)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return got
}

// collectErr drains seq up to its first error.
func collectErr[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var got []T
	for v, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
	return got, nil
}

func readStream(t *testing.T, l eventlog.Log, stream string, from uint64) []eventlog.Recorded {
	t.Helper()
	return collect(t, l.ReadStream(t.Context(), stream, from))
}

// readAllOf reads the global order after position after and keeps the events
// of streams.
func readAllOf(t *testing.T, l eventlog.Log, after eventlog.Position, streams ...string) []eventlog.Recorded {
	t.Helper()
	return only(collect(t, l.ReadAll(t.Context(), after)), streams...)
}

func only(rs []eventlog.Recorded, streams ...string) []eventlog.Recorded {
	keep := make(map[string]bool, len(streams))
	for _, s := range streams {
		keep[s] = true
	}
	var got []eventlog.Recorded
	for _, r := range rs {
		if keep[r.Stream] {
			got = append(got, r)
		}
	}
	return got
}

// checkEvents checks that got holds exactly want, in order, in stream with
// versions from first on.
func checkEvents(t *testing.T, got []eventlog.Recorded, stream string, first uint64, want ...eventlog.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events of %s, want %d", len(got), stream, len(want))
	}
	for i, r := range got {
		w := want[i]
		if r.Stream != stream || r.Version != first+uint64(i) {
			t.Errorf("event %d: got %s v%d, want %s v%d", i, r.Stream, r.Version, stream, first+uint64(i))
		}
		checkSameEvent(t, r.Event, w)
	}
}

func checkSameEvent(t *testing.T, got, want eventlog.Event) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("ID: got %x, want %x", got.ID, want.ID)
	}
	if got.Type != want.Type {
		t.Errorf("Type: got %q, want %q", got.Type, want.Type)
	}
	if string(got.Metadata) != string(want.Metadata) {
		t.Errorf("event %x: Metadata differs: got %d bytes, want %d", want.ID, len(got.Metadata), len(want.Metadata))
	}
	if string(got.Data) != string(want.Data) {
		t.Errorf("event %x: Data differs: got %d bytes, want %d", want.ID, len(got.Data), len(want.Data))
	}
}

// checkGlobalOrder checks that positions strictly increase.
func checkGlobalOrder(t *testing.T, rs []eventlog.Recorded) {
	t.Helper()
	for i := 1; i < len(rs); i++ {
		if !rs[i-1].Position.Less(rs[i].Position) {
			t.Fatalf("event %d at %v does not come after event %d at %v", i, rs[i].Position, i-1, rs[i-1].Position)
		}
	}
}

// everyByte returns the 256 byte values in order.
func everyByte() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// cancelled returns a context that is already cancelled.
func cancelled(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
