package eventlogtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

var subscribeTests = []test{
	{"subscription delivers stored events then live ones, in order", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s := newStream(t)
		stored, live := newEvents(3), newEvents(3)
		mustAppend(t, l, s, eventlog.NoStream, stored...)
		sub := subscribe(t, l, h0, s)
		checkEvents(t, sub.take(t, 3), s, 1, stored...)
		for i, e := range live {
			mustAppend(t, l, s, int64(3+i), e)
		}
		got := sub.take(t, 3)
		checkEvents(t, got, s, 4, live...)
		sub.checkQuiet(t)
	}},
	{"subscription starts after the given position", func(t *testing.T, l eventlog.Log) {
		s := newStream(t)
		es := newEvents(4)
		mustAppend(t, l, s, eventlog.NoStream, es...)
		second := readStream(t, l, s, 2)[0]
		sub := subscribe(t, l, second.Position, s)
		checkEvents(t, sub.take(t, 2), s, 3, es[2:]...)
		sub.checkQuiet(t)
	}},
	{"subscription switches from catch-up to live with no gap or duplicate under concurrent appends", func(t *testing.T, l eventlog.Log) {
		// Each round starts the subscription after a different share of the
		// appends, so the switch happens while writers are busy.
		for _, share := range []float64{0, 0.3, 0.7} {
			subscribeDuringAppends(t, l, share)
		}
	}},
	{"two subscriptions see the same events in the same order", func(t *testing.T, l eventlog.Log) {
		h0 := mustHead(t, l)
		s1, s2 := newStream(t), newStream(t)
		a := subscribe(t, l, h0, s1, s2)
		for i := range 5 {
			mustAppend(t, l, []string{s1, s2}[i%2], eventlog.AnyVersion, newEvents(2)...)
		}
		b := subscribe(t, l, h0, s1, s2)
		for i := range 5 {
			mustAppend(t, l, []string{s1, s2}[i%2], eventlog.AnyVersion, newEvents(1)...)
		}
		ga, gb := a.take(t, 15), b.take(t, 15)
		for i := range ga {
			if ga[i].Position != gb[i].Position || ga[i].ID != gb[i].ID {
				t.Fatalf("event %d: first subscription has %x at %v, second %x at %v", i, ga[i].ID, ga[i].Position, gb[i].ID, gb[i].Position)
			}
		}
		checkGlobalOrder(t, ga)
	}},
	{"a handler error stops the subscription and is returned", func(t *testing.T, l eventlog.Log) {
		errStop := errors.New("handler stops")
		h0 := mustHead(t, l)
		s := newStream(t)
		mustAppend(t, l, s, eventlog.NoStream, newEvents(3)...)
		n := 0
		err := l.Subscribe(t.Context(), h0, func(r eventlog.Recorded) error {
			if r.Stream != s {
				return nil
			}
			if n++; n == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) || n != 2 {
			t.Fatalf("catching up: got %v after %d events, want the handler's error after 2", err, n)
		}

		// The same while live.
		done := make(chan error, 1)
		h := mustHead(t, l)
		go func() {
			done <- l.Subscribe(t.Context(), h, func(r eventlog.Recorded) error {
				if r.Stream == s {
					return errStop
				}
				return nil
			})
		}()
		time.Sleep(20 * time.Millisecond)
		mustAppend(t, l, s, 3, newEvents(1)...)
		if err := waitErr(t, done); !errors.Is(err, errStop) {
			t.Fatalf("live: got %v, want the handler's error", err)
		}
	}},
	{"a cancelled context stops the subscription with its error", func(t *testing.T, l eventlog.Log) {
		noop := func(eventlog.Recorded) error { return nil }
		if err := l.Subscribe(cancelled(t), eventlog.Position{}, noop); !errors.Is(err, context.Canceled) {
			t.Errorf("already cancelled: got %v, want context.Canceled", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		h := mustHead(t, l)
		go func() { done <- l.Subscribe(ctx, h, noop) }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while waiting: got %v, want context.Canceled", err)
		}
	}},
}

// subscribeDuringAppends has writers append to their own streams with exact
// expected versions, starts a subscription from the head taken before them once
// share of the appends are done, and checks that it receives exactly what
// ReadAll holds for those streams, in the same order.
func subscribeDuringAppends(t *testing.T, l eventlog.Log, share float64) {
	t.Helper()
	const writers, appends = 8, 40
	h0 := mustHead(t, l)
	streams := make([]string, writers)
	want := make([][]eventlog.Event, writers)
	for w := range streams {
		streams[w] = newStream(t)
	}
	var done atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	if share == 0 {
		once.Do(func() { close(reached) })
	}
	total := 0
	var wg sync.WaitGroup
	for w := range writers {
		for i := range appends {
			total += 1 + i%3
		}
		wg.Go(func() {
			defer once.Do(func() { close(reached) }) // in case a writer fails
			for i := range appends {
				es := newEvents(1 + i%3)
				if _, err := l.Append(t.Context(), streams[w], int64(len(want[w])), es...); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				want[w] = append(want[w], es...)
				if float64(done.Add(1)) >= share*writers*appends {
					once.Do(func() { close(reached) })
				}
			}
		})
	}
	<-reached
	sub := subscribe(t, l, h0, streams...)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	got := sub.take(t, total)
	sub.checkQuiet(t)
	stored := readAllOf(t, l, h0, streams...)
	if len(stored) != total {
		t.Fatalf("ReadAll holds %d events of the writers, want %d", len(stored), total)
	}
	for i := range got {
		if got[i].Position != stored[i].Position || got[i].ID != stored[i].ID {
			t.Fatalf("share %.1f, event %d: subscription has %x at %v, ReadAll %x at %v",
				share, i, got[i].ID, got[i].Position, stored[i].ID, stored[i].Position)
		}
	}
	for w, s := range streams {
		checkEvents(t, only(got, s), s, 1, want[w]...)
	}
}

// subscription runs Subscribe in the background and passes on the events of
// some streams.
type subscription struct {
	events chan eventlog.Recorded
	done   chan error
}

// subscribe starts a subscription after position after that keeps the events
// of streams; it is cancelled when the test ends.
func subscribe(t *testing.T, l eventlog.Log, after eventlog.Position, streams ...string) *subscription {
	t.Helper()
	keep := make(map[string]bool, len(streams))
	for _, s := range streams {
		keep[s] = true
	}
	ctx, cancel := context.WithCancel(t.Context())
	sub := &subscription{events: make(chan eventlog.Recorded, 1<<14), done: make(chan error, 1)}
	go func() {
		sub.done <- l.Subscribe(ctx, after, func(r eventlog.Recorded) error {
			if keep[r.Stream] {
				sub.events <- r
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-sub.done:
		case <-time.After(waitFor):
			t.Errorf("subscription did not stop after its context was cancelled")
		}
	})
	return sub
}

// take returns the next n events, failing the test if they do not come.
func (s *subscription) take(t *testing.T, n int) []eventlog.Recorded {
	t.Helper()
	got := make([]eventlog.Recorded, 0, n)
	timeout := time.After(waitFor)
	for len(got) < n {
		select {
		case r := <-s.events:
			got = append(got, r)
		case err := <-s.done:
			t.Fatalf("subscription stopped after %d of %d events: %v", len(got), n, err)
		case <-timeout:
			t.Fatalf("subscription delivered %d of %d events in %v", len(got), n, waitFor)
		}
	}
	return got
}

// checkQuiet checks that no further event arrives for a short while.
func (s *subscription) checkQuiet(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.events:
		t.Fatalf("unexpected event %s v%d at %v", r.Stream, r.Version, r.Position)
	case <-time.After(50 * time.Millisecond):
	}
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatalf("still running after %v", waitFor)
		return nil
	}
}
