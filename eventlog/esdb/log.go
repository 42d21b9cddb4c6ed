package esdb

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

const (
	// unbounded is the count of a read that should return everything. The
	// protocol's count is a uint64, but the server keeps counts in signed 64-bit
	// integers in places, so stay within them.
	unbounded = math.MaxInt64

	// headPageMax bounds the page size of Head's backward scan of $all.
	headPageMax = 1024

	// Resubscription backoff after a dropped $all subscription: it starts at
	// minBackoff, doubles after each failed attempt up to maxBackoff, and starts
	// over once an attempt delivered something.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// caseStream returns the EventStoreDB stream of a case, or an error for an empty
// case id.
func (l *Log) caseStream(caseID string) (string, error) {
	if caseID == "" {
		return "", errors.New("esdb: empty stream (case id)")
	}
	return streamName(l.prefix, caseID), nil
}

// Append implements eventlog.Log.
//
// The events are written in one AppendToStream call, so they are atomic and get
// consecutive revisions. It returns:
//   - an error wrapping eventlog.ErrConflict (and the client's *esdb.Error) when
//     the stream's version is not expected; nothing was written;
//   - an error, before any write, for an empty stream, an expected version below
//     eventlog.AnyVersion, or an event type starting with "$" (reserved by
//     EventStoreDB for system events);
//   - ctx.Err() when ctx ends first (the append may or may not have happened);
//   - eventlog.ErrClosed after Close (likewise);
//   - the client's error, wrapped, when the cluster did not take the append
//     within Options.RetryFor (likewise: the append may have happened).
//
// A failed attempt that may pass (no leader, a node away, a server timeout:
// see retry) is tried again, each attempt bounded by Options.AttemptTimeout,
// with the same event ids and the same expected revision: EventStoreDB
// deduplicates by event id, so an attempt that committed although its answer
// was lost makes the next one succeed without writing the events twice, and
// report their revision. EventStoreDB refuses the nil UUID, so an event with
// a zero ID is stored under a marked random id, drawn once per Append, and
// read back with a zero ID (see zeroIDTail). With no events, Append writes
// nothing: it only checks expected against the stream's version and returns
// that version with a zero Position (nothing was written), as the embedded
// backend does.
//
// Appended.Position is the position of the last event written. For one event
// it is the append's result; when the server reports none (a deduplicated
// append) or the append wrote several events (the server reports one position
// for the whole write, which need not be its last event's), it is read back
// from the stream. If that read fails the append still succeeds and reports
// the append's result (a warning is logged).
func (l *Log) Append(ctx context.Context, stream string, expected int64, events ...eventlog.Event) (eventlog.Appended, error) {
	if err := ctx.Err(); err != nil {
		return eventlog.Appended{}, err
	}
	name, err := l.caseStream(stream)
	if err != nil {
		return eventlog.Appended{}, err
	}
	want, err := expectedRevision(expected)
	if err != nil {
		return eventlog.Appended{}, err
	}
	if len(events) == 0 {
		return l.appendNothing(ctx, name, expected)
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		if isSystemEvent(e.Type) {
			return eventlog.Appended{}, fmt.Errorf("esdb: append to %s: event type %q is reserved for system events", name, e.Type)
		}
		data[i] = toEventData(e)
	}
	res, err := l.appendToStream(ctx, name, want, data)
	if err != nil {
		return eventlog.Appended{}, err
	}
	out := eventlog.Appended{
		Version:  versionOf(res.NextExpectedVersion),
		Position: eventlog.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}
	if len(events) > 1 || out.Position.IsZero() {
		pos, err := l.positionOf(ctx, name, res.NextExpectedVersion)
		switch {
		case err != nil:
			l.log.WarnContext(ctx, "esdb: append succeeded, reading back its position failed", "stream", name, "err", err)
		case !pos.IsZero():
			out.Position = pos
		}
	}
	return out, nil
}

// appendToStream appends data to the EventStoreDB stream name, expecting
// want, retrying as Append says.
func (l *Log) appendToStream(ctx context.Context, name string, want esdb.ExpectedRevision, data []esdb.EventData) (*esdb.WriteResult, error) {
	var res *esdb.WriteResult
	err := l.retry(ctx, "append to "+name, func(ctx context.Context) (bool, error) {
		return l.use(ctx, func(c *conn, op context.Context) (bool, error) {
			var err error
			res, err = call(l, c, op, func(ctx context.Context, c *esdb.Client) (*esdb.WriteResult, error) {
				return c.AppendToStream(ctx, name, esdb.AppendToStreamOptions{ExpectedRevision: want, Deadline: &l.attempt}, data...)
			}, nil)
			return false, err
		})
	})
	return res, err
}

// appendNothing is Append without events: the expected-version check only.
func (l *Log) appendNothing(ctx context.Context, name string, expected int64) (eventlog.Appended, error) {
	version, err := l.version(ctx, name)
	if err != nil {
		return eventlog.Appended{}, err
	}
	if expected != eventlog.AnyVersion && uint64(expected) != version {
		return eventlog.Appended{}, fmt.Errorf("esdb: append to %s: %w: expected version %d, stream is at %d", name, eventlog.ErrConflict, expected, version)
	}
	return eventlog.Appended{Version: version}, nil
}

// version returns the version of the EventStoreDB stream name, that is its last
// revision + 1, or 0 if it does not exist.
func (l *Log) version(ctx context.Context, name string) (uint64, error) {
	var version uint64
	err := l.readStream(ctx, name, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1,
		func(ev *esdb.RecordedEvent) (bool, error) {
			version = versionOf(ev.EventNumber)
			return false, nil
		})
	return version, err
}

// positionOf returns the $all position of the event at revision in stream name
// (zero if the server does not report it).
func (l *Log) positionOf(ctx context.Context, name string, revision uint64) (eventlog.Position, error) {
	var pos eventlog.Position
	err := l.readStream(ctx, name, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(revision)}, 1,
		func(ev *esdb.RecordedEvent) (bool, error) {
			pos = toPosition(ev.Position)
			return false, nil
		})
	return pos, err
}

// ReadStream implements eventlog.Log.
//
// An unknown stream yields nothing. It yields, and stops after, an error
// wrapping eventlog.ErrCorrupt when the stream has a gap (an event missing,
// for instance truncated by stream metadata); ctx.Err() when ctx ends;
// eventlog.ErrClosed when the log is closed; the client's error, wrapped,
// otherwise.
func (l *Log) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventlog.Recorded, error] {
	return func(yield func(eventlog.Recorded, error) bool) {
		name, err := l.caseStream(stream)
		if err != nil {
			yield(eventlog.Recorded{}, err)
			return
		}
		next := max(from, 1) - 1 // the revision expected next
		err = l.readStream(ctx, name, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: readFrom(from)}, unbounded,
			func(ev *esdb.RecordedEvent) (bool, error) {
				if ev.EventNumber != next {
					return false, fmt.Errorf("esdb: read %s: %w: expected revision %d, got %d", name, eventlog.ErrCorrupt, next, ev.EventNumber)
				}
				next++
				rec, ok := fromRecorded(l.prefix, ev)
				if !ok {
					return false, fmt.Errorf("esdb: read %s: %w: event of stream %q", name, eventlog.ErrCorrupt, ev.StreamID)
				}
				return yield(rec, nil), nil
			})
		if err != nil {
			yield(eventlog.Recorded{}, err)
		}
	}
}

// Head implements eventlog.Log: the position of the last event of a case stream
// in $all, zero if there is none.
//
// The client cannot filter a $all read on the server, so Head reads $all
// backwards from the end, one event first and then in pages growing to
// headPageMax, until it meets an event of a case stream. Errors: ctx.Err(),
// eventlog.ErrClosed, or the client's error, wrapped.
func (l *Log) Head(ctx context.Context) (eventlog.Position, error) {
	var (
		from     esdb.AllPosition  = esdb.End{}
		prevFrom eventlog.Position // zero while from is End
	)
	for page := uint64(1); ; page = min(4*page, headPageMax) {
		var (
			head, oldest eventlog.Position
			found        bool
			n            uint64
			oldestRaw    esdb.Position
		)
		err := l.readAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, page,
			func(ev *esdb.RecordedEvent) (bool, error) {
				n++
				oldestRaw, oldest = ev.Position, toPosition(ev.Position)
				if _, ok := caseIDOf(l.prefix, ev.StreamID); ok && !isSystemEvent(ev.EventType) {
					head, found = toPosition(ev.Position), true
					return false, nil
				}
				return true, nil
			})
		switch {
		case err != nil:
			return eventlog.Position{}, err
		case found:
			return head, nil
		case n < page: // reached the start of $all
			return eventlog.Position{}, nil
		case !prevFrom.IsZero() && !oldest.Less(prevFrom):
			return eventlog.Position{}, fmt.Errorf("esdb: head: backward read of $all did not move past %+v", prevFrom)
		}
		// Reading backwards from a position excludes the event at it.
		from, prevFrom = oldestRaw, oldest
	}
}

// ReadAll implements eventlog.Log.
//
// It is a catch-up subscription to $all filtered on the server to the case
// streams (the client cannot filter plain $all reads), from after, ending once
// it has delivered the head taken at the call (see Head), or once the server
// reports it has passed it (a checkpoint beyond it, or caught up). A dropped
// subscription is resumed after the last event yielded, as in Subscribe, until
// attempts have failed in a row for Options.RetryFor. It yields, and stops
// after, ctx.Err(), eventlog.ErrClosed, or the client's error, wrapped.
func (l *Log) ReadAll(ctx context.Context, after eventlog.Position) iter.Seq2[eventlog.Recorded, error] {
	return func(yield func(eventlog.Recorded, error) bool) {
		head, err := l.Head(ctx)
		if err != nil {
			yield(eventlog.Recorded{}, err)
			return
		}
		if head.IsZero() || !after.Less(head) {
			return
		}
		errStop := errors.New("stop")
		err = l.follow(ctx, l.prefix, after, &head, true, l.caseEvents(func(r eventlog.Recorded) error {
			if !yield(r, nil) {
				return errStop
			}
			return nil
		}))
		if err != nil && err != errStop {
			yield(eventlog.Recorded{}, err)
		}
	}
}

// Subscribe implements eventlog.Log with SubscribeToAll, filtered on the server
// to the case streams (stream-name prefix), from after (the start of $all when
// after is zero).
//
// When the subscription drops (server restart, leader change, network), it
// subscribes again after the last event delivered, waiting between attempts
// from 100ms doubling up to 5s, so handle sees every event once, in order.
// Checkpoints the server sends while filtering are not events: handle never
// sees them, and resumption never uses them.
//
// While the cluster is away it keeps trying, at most every 5s (a client that
// gave up on the cluster is replaced, see conn.go), so that it goes on where
// it stopped when the cluster is back: being away is no end of the log.
// LostSince tells for how long the cluster has been away, and the hub decides
// when that is too long (docs/operations.md, "When the cluster is away").
//
// It returns ctx.Err() when ctx ends, handle's error (as is) when handle fails,
// eventlog.ErrClosed when the log is closed, and the client's error, wrapped,
// when the server refuses the subscription (credentials, access).
func (l *Log) Subscribe(ctx context.Context, after eventlog.Position, handle func(eventlog.Recorded) error) error {
	return l.follow(ctx, l.prefix, after, nil, false, l.caseEvents(handle))
}

// caseEvents adapts handle to follow: the events of case streams, system
// events left out.
func (l *Log) caseEvents(handle func(eventlog.Recorded) error) func(*esdb.RecordedEvent) error {
	return func(rec *esdb.RecordedEvent) error {
		if r, ok := fromRecorded(l.prefix, rec); ok && !isSystemEvent(r.Type) {
			return handle(r)
		}
		return nil
	}
}

// final wraps an error that ends follow without resubscribing.
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }
func (f final) Unwrap() error { return f.err }

// follow delivers to handle the events of the streams under prefix after
// `after`, in $all order,
// resubscribing after drops (see Subscribe). With until set it returns nil once
// the event at until has been delivered or the server has passed it; with
// bounded set it gives up once attempts have failed in a row for
// Options.RetryFor.
func (l *Log) follow(ctx context.Context, prefix string, after eventlog.Position, until *eventlog.Position, bounded bool, handle func(*esdb.RecordedEvent) error) error {
	last := after
	delay, failures := minBackoff, 0
	failingSince := time.Now()
	for {
		progressed, err := l.subscribeOnce(ctx, prefix, &last, until, handle)
		if err == nil {
			return nil
		}
		if f, ok := err.(final); ok {
			return f.err
		}
		if progressed {
			delay, failures, failingSince = minBackoff, 0, time.Now()
		}
		failures++
		if bounded && time.Since(failingSince) >= l.retryFor {
			return err
		}
		l.log.WarnContext(ctx, "esdb: $all subscription dropped, resubscribing",
			"after", last, "retry_in", delay, "failures", failures, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-l.life.Done():
			t.Stop()
			return eventlog.ErrClosed
		case <-t.C:
		}
		delay = min(2*delay, maxBackoff)
	}
}

// subscribeOnce runs one filtered $all subscription from *last, advancing *last
// past every event it receives. It returns nil when until is reached, a final
// error when follow must stop, and any other error when the subscription
// dropped; progressed tells whether any event came through.
func (l *Log) subscribeOnce(ctx context.Context, prefix string, last *eventlog.Position, until *eventlog.Position, handle func(*esdb.RecordedEvent) error) (progressed bool, err error) {
	c, err := l.acquire()
	if err != nil {
		return false, final{err}
	}
	defer c.leave()
	op, release := l.opContext(ctx)
	defer release()
	sub, err := call(l, c, op, func(ctx context.Context, c *esdb.Client) (*esdb.Subscription, error) {
		return c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
			From: fromPosition(*last),
			// Server-side filter: only streams under the prefix. The prefix
			// never starts with "$", so system streams are excluded too.
			// MaxSearchWindow and CheckpointInterval keep the client's defaults
			// (a checkpoint every 32 events scanned).
			Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{prefix}},
		})
	}, func(s *esdb.Subscription) { _ = s.Close() })
	if err != nil {
		return false, l.subscriptionError(ctx, err)
	}
	defer sub.Close()
	for {
		// Recv never blocks on the client's internal channel (it does not
		// report errors to the client): no goroutine needed.
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			rec := ev.EventAppeared.OriginalEvent()
			if rec == nil {
				continue
			}
			pos := toPosition(rec.Position)
			// The server starts after *last; this only guards against a
			// redelivery, so that handle never sees an event twice.
			if !last.IsZero() && !last.Less(pos) {
				continue
			}
			if err := handle(rec); err != nil {
				return progressed, final{err}
			}
			*last, progressed = pos, true
			if until != nil && !pos.Less(*until) {
				return progressed, nil
			}
		case ev.CheckPointReached != nil:
			// Not an event: the server reports how far its filter has scanned
			// $all. Never delivered, and never a resume point (a checkpoint can
			// lag behind the events already delivered); it only ends a bounded
			// read that is past its end.
			if until != nil && until.Less(toPosition(*ev.CheckPointReached)) {
				return progressed, nil
			}
		case ev.CaughtUp != nil:
			// Everything committed when the subscription caught up has been
			// delivered, which includes a bound taken before it started.
			if until != nil {
				return progressed, nil
			}
		case ev.SubscriptionDropped != nil:
			if ctx.Err() == nil && l.life.Err() == nil {
				l.observe(time.Now(), ev.SubscriptionDropped.Error)
			}
			return progressed, l.subscriptionError(ctx, ev.SubscriptionDropped.Error)
		}
		// FellBehind: nothing to do, the server catches up on its own.
	}
}

// subscriptionError translates a subscription failure, and marks it final when
// resubscribing cannot help: ctx ended, the log or the client is closed, or the
// server refused the subscription.
func (l *Log) subscriptionError(ctx context.Context, err error) error {
	terr := l.translate(ctx, "subscribe to $all", err)
	if ctx.Err() != nil || errors.Is(terr, eventlog.ErrClosed) {
		return final{terr}
	}
	var e *esdb.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case esdb.ErrorCodeUnauthenticated, esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnsupportedFeature:
			return final{terr}
		}
	}
	return terr
}
