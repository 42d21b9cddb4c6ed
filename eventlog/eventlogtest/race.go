package eventlogtest

import (
	"errors"
	"sync"
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
)

var raceTests = []test{
	{"racing appends with the same expected version: exactly one wins, the others conflict", func(t *testing.T, l eventlog.Log) {
		for range 5 {
			s := newStream(t)
			first := newEvents(1)
			mustAppend(t, l, s, eventlog.NoStream, first...)
			winner := race(t, l, s, 1, 16)
			checkEvents(t, readStream(t, l, s, 1), s, 1, first[0], winner)
		}
	}},
	{"racing creations of a stream: exactly one wins, the others conflict", func(t *testing.T, l eventlog.Log) {
		for range 5 {
			s := newStream(t)
			winner := race(t, l, s, eventlog.NoStream, 16)
			checkEvents(t, readStream(t, l, s, 1), s, 1, winner)
		}
	}},
	{"concurrent appends to different streams all land with contiguous versions", func(t *testing.T, l eventlog.Log) {
		const writers, appends = 8, 25
		streams := make([]string, writers)
		want := make([][]eventlog.Event, writers)
		var wg sync.WaitGroup
		for w := range writers {
			streams[w] = newStream(t)
			wg.Go(func() {
				for i := range appends {
					es := newEvents(1 + i%3)
					if _, err := l.Append(t.Context(), streams[w], int64(len(want[w])), es...); err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					want[w] = append(want[w], es...)
				}
			})
		}
		wg.Wait()
		for w, s := range streams {
			checkEvents(t, readStream(t, l, s, 1), s, 1, want[w]...)
		}
	}},
}

// race has n goroutines append one event each to stream with expected at the
// same moment, checks that exactly one succeeds and the others get
// ErrConflict, and returns the winner's event.
func race(t *testing.T, l eventlog.Log, stream string, expected int64, n int) eventlog.Event {
	t.Helper()
	events := newEvents(n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = l.Append(t.Context(), stream, expected, events[i])
		})
	}
	close(start)
	wg.Wait()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case !errors.Is(err, eventlog.ErrConflict):
			t.Fatalf("append %d: got %v, want success or ErrConflict", i, err)
		}
	}
	if got, want := wins, 1; got != want {
		t.Fatalf("got %d successful appends, want %d", got, want)
	}
	return events[winner]
}
