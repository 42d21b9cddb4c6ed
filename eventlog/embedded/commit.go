package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog"
)

// Group commit.
//
// Append, AppendRecords and AppendWithRecords queue a request and wait. The
// committer goroutine takes every queued request, checks expected versions
// against s.heads, hands out versions, positions and journal indices, writes
// the whole group as one Pebble batch with Sync, advances the durable head that
// reads are bounded by (Pebble shows a batch before its fsync is done; readers
// must not see it before), wakes subscriptions and answers the callers. While
// it waits for the fsync, the next group queues up.
//
// The request of an AppendWithRecords carries events and journal records: its
// records are staged right after its events, in the same batch, or not at all
// when its expected version does not hold, so that a crash or a failed commit
// leaves both or neither. The journal length is published before the head, so
// a reader that sees the events can read their records.
//
// Concurrent writers would otherwise split into two cohorts that alternate
// between fsyncs (those answered after fsync k come back while fsync k+1 is
// under way, so each fsync carries half of them). After answering a group of at
// least gatherMin requests, the committer therefore gives its writers a moment
// to come back (gather) before it takes the next one. It waits for them parked
// on s.kick, with a deadline, and is woken by the enqueue that completes the
// group: a woken goroutine runs next on the waker's P, where one that yields
// (runtime.Gosched) queues behind every runnable goroutine of the process,
// which on a busy hub delayed every group by a scheduling round
// (docs/targets.md, P4). After a small group it does not wait at all: a
// lone writer's append costs one fsync and nothing more (P1).
//
// The writers of a large group that do not all come back at once are
// independent callers, such as the access records of HTTP requests under
// load: then the committer keeps waiting for as many requests, until
// commitInterval has passed since the previous group started. Each fsync
// costs the hub about 90 µs of CPU (mostly the kernel's); on a hub whose cores
// are busy serving reads, groups of 8 records per fsync made that a tenth of
// its CPU, and larger groups give it back to the reads, for at most
// commitInterval of added latency. Writers that do little between their
// appends are all back well before (BenchmarkJournalAppendBusy64): the group
// is then committed at once, as the cores would otherwise idle. A disk whose
// fsync takes longer than commitInterval sees only the short wait.
//
// A failed commit stops the store (fail): s.heads may now be ahead of the disk,
// so nothing more is served.

// maxGroupBytes bounds the encoded size of one group (a single larger request
// still makes a group of its own).
const (
	maxGroupBytes    = 2 << 20
	maxGroupRequests = 4096
)

// Request states: a request is queued until the committer takes it into a group
// or its caller abandons it (context done), whichever comes first.
const (
	stateQueued int32 = iota
	stateTaken
	stateAbandoned
)

var errInvalidExpected = errors.New("embedded: invalid expected version")

type request struct {
	state atomic.Int32
	done  chan struct{} // closed when the outcome below is set

	// A request appends events to a stream (Append), records to the journal
	// (AppendRecords: stream is ""), or both (AppendWithRecords): then its
	// records are staged only if its events are, into the same group batch.
	stream   string
	expected int64
	events   []eventlog.Event
	records  [][]byte

	appended eventlog.Appended
	first    uint64
	err      error
	// dup says the request's events were in the stream already (a retry):
	// it wrote none of them.
	dup bool
}

// group is one batch of requests.
type group struct {
	batch   *pebble.Batch
	reqs    []*request
	events  int
	records int
}

// Append adds events to stream; see eventlog.Log. It returns when the events are
// fsynced. It returns an error wrapping eventlog.ErrConflict (and writes
// nothing) when the stream's version is not expected; ctx.Err() when ctx is done
// before the committer took the request (nothing written; once taken, Append
// waits for the real outcome); an error wrapping eventlog.ErrClosed after Close
// or after a failed commit; an error wrapping ErrFailed, and not ErrClosed, when
// its own commit failed (the events may or may not be durable); and an error
// when stream is empty or expected is below AnyVersion. Appending no events only
// checks expected and returns the stream's version with a zero Position.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events ...eventlog.Event) (eventlog.Appended, error) {
	if stream == "" {
		return eventlog.Appended{}, errors.New("embedded: empty stream name")
	}
	if expected < eventlog.AnyVersion {
		return eventlog.Appended{}, fmt.Errorf("%w: %d", errInvalidExpected, expected)
	}
	r := &request{stream: stream, expected: expected, events: events}
	if err := s.do(ctx, r); err != nil {
		return eventlog.Appended{}, err
	}
	return r.appended, r.err
}

// AppendWithRecords appends events to stream and records to the journal in one
// commit (one Pebble batch, one fsync): both are durable, or neither is
// written; see eventlog.RecordingLog. It returns what Append returns and the
// journal index of the first record (with no records, the journal's length
// after the commit), and Append's errors: on a conflict, neither the events
// nor the records are written; ctx.Err() means neither was, and once the
// committer took the request it waits for the outcome whatever ctx does; an
// error wrapping ErrFailed leaves both durable or neither.
func (s *Store) AppendWithRecords(ctx context.Context, stream string, expected int64, events []eventlog.Event, records [][]byte) (eventlog.Appended, uint64, error) {
	if stream == "" {
		return eventlog.Appended{}, 0, errors.New("embedded: empty stream name")
	}
	if expected < eventlog.AnyVersion {
		return eventlog.Appended{}, 0, fmt.Errorf("%w: %d", errInvalidExpected, expected)
	}
	if records == nil {
		records = [][]byte{} // non-nil: the committer stages the records of a request that has some
	}
	r := &request{stream: stream, expected: expected, events: events, records: records}
	if err := s.do(ctx, r); err != nil {
		return eventlog.Appended{}, 0, err
	}
	if r.err != nil {
		return eventlog.Appended{}, 0, r.err
	}
	return r.appended, r.first, nil
}

// AppendRecords appends records to the journal and returns the index of the
// first; see eventlog.Journal. It shares the committer, and its fsyncs, with
// Append, and has the same error cases (no conflicts). With no records it
// returns the journal's length.
func (s *Store) AppendRecords(ctx context.Context, records ...[]byte) (uint64, error) {
	if len(records) == 0 {
		return s.Len(ctx)
	}
	r := &request{records: records}
	if err := s.do(ctx, r); err != nil {
		return 0, err
	}
	return r.first, r.err
}

// do queues r and waits for its outcome. It returns ctx.Err() if ctx is done
// before the committer took r; once taken, r always runs to its outcome.
func (s *Store) do(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.space.admit(); err != nil {
		return err // a full disk (space.go): nothing written
	}
	r.done = make(chan struct{})
	s.mu.Lock()
	if s.closed || s.failErr != nil {
		err := s.downErrLocked()
		s.mu.Unlock()
		return err
	}
	s.queue = append(s.queue, r)
	kick := s.wakeLocked()
	s.mu.Unlock()
	if kick {
		s.kickCommitter()
	}

	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		if r.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return ctx.Err()
		}
		<-r.done
		return nil
	}
}

func (s *Store) commitLoop() {
	defer close(s.committerDone)
	var spare []*request
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	answered := 0
	var started time.Time // when the previous group was taken
	for {
		if answered >= gatherMin {
			s.gather(answered, started, timer)
		}
		s.waitQueue(1, timer, 0)
		started = time.Now()
		s.mu.Lock()
		reqs := s.queue
		s.queue = spare[:0]
		s.mu.Unlock()
		if len(reqs) == 0 {
			return // closed or failed, and nothing left to commit
		}
		answered = 0
		for rest := reqs; len(rest) > 0; {
			n, a := s.commitGroup(rest)
			rest, answered = rest[n:], answered+a
		}
		clear(reqs)
		spare = reqs
	}
}

// How long gather may wait for the writers just answered: gatherPerWriter for
// each of them, at most gatherMax. Writers that come back at once take a few
// microseconds each. After a group of fewer than gatherMin requests, the
// committer does not wait. Writers that do not come back at once leave the
// next group to fill until commitInterval after the previous one started.
const (
	gatherMin       = 4
	gatherPerWriter = 5 * time.Microsecond
	gatherMax       = 250 * time.Microsecond
	commitInterval  = time.Millisecond
)

// gather waits until as many new requests are queued as there were writers in
// the group just answered: for a short while, or until commitInterval has
// passed since started (when the group just answered was taken), whichever
// ends later.
func (s *Store) gather(answered int, started time.Time, timer *time.Timer) {
	s.mu.Lock()
	want := len(s.queue) + answered
	s.mu.Unlock()
	short := min(gatherMax, time.Duration(answered)*gatherPerWriter)
	s.waitQueue(want, timer, max(short, commitInterval-time.Since(started)))
}

// waitQueue returns once at least n requests are queued or the store is
// closed or failed, or, when d > 0, once d has passed. The committer parks on
// s.kick meanwhile: the enqueue that meets the condition sends it a token
// (wakeLocked), so it wakes once, not at every request.
func (s *Store) waitQueue(n int, timer *time.Timer, d time.Duration) {
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) < n && !s.closed && s.failErr == nil {
		s.waitFor = n
		s.mu.Unlock()
		expired := false
		if d <= 0 {
			<-s.kick
		} else if left := time.Until(deadline); left <= 0 {
			expired = true
		} else {
			timer.Reset(left)
			select {
			case <-s.kick:
				timer.Stop()
			case <-timer.C:
				expired = true
			}
		}
		s.mu.Lock()
		s.waitFor = 0 // a token sent meanwhile stays in s.kick: a later wait loops once more
		if expired {
			return
		}
	}
}

// wakeLocked reports whether the committer waits in waitQueue and its
// condition now holds (or the store stops); then the caller must call
// kickCommitter after releasing s.mu. s.mu must be held.
func (s *Store) wakeLocked() bool {
	if s.waitFor > 0 && (len(s.queue) >= s.waitFor || s.closed || s.failErr != nil) {
		s.waitFor = 0
		return true
	}
	return false
}

// kickCommitter wakes the committer from waitQueue.
func (s *Store) kickCommitter() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// commitGroup commits a group made of the first requests of reqs and answers
// them. It returns how many requests it consumed and how many it answered.
func (s *Store) commitGroup(reqs []*request) (consumed, answered int) {
	g := &group{batch: s.db.NewBatch()}
	now := s.clock().UnixNano()
	if now < s.lastTime {
		now = s.lastTime
	}
	s.lastTime = now
	n, size := 0, 0
	for ; n < len(reqs) && (n == 0 || (n < maxGroupRequests && size < maxGroupBytes)); n++ {
		r := reqs[n]
		if !r.state.CompareAndSwap(stateQueued, stateTaken) {
			continue // abandoned by its caller
		}
		g.reqs = append(g.reqs, r)
		if r.stream != "" {
			size += s.stageAppend(g, r, now)
		}
		if r.records != nil && r.err == nil { // not after a conflict
			size += s.stageRecords(g, r)
		}
	}
	var err error
	switch {
	case s.failure() != nil:
		// The store failed while this group was queued: nothing of it is written.
		err = s.downErr()
	case g.batch.Empty():
	default:
		if cerr := s.apply(g.batch); cerr != nil {
			s.fail(cerr)
			err = fmt.Errorf("%w (the write may or may not be durable)", s.failure())
		}
	}
	if err == nil {
		for _, r := range g.reqs {
			if r.records != nil && r.err == nil {
				s.recent.add(r.first, r.records)
			}
		}
		s.publish(s.lastPos, s.nextIdx)
		s.groups.Add(1)
		s.requests.Add(uint64(len(g.reqs)))
		s.events.Add(uint64(g.events))
		s.records.Add(uint64(g.records))
		g.batch.Close() // not after a failed commit: Pebble may still hold it
	}
	for _, r := range g.reqs {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
	return n, len(g.reqs)
}

// apply writes b with Sync and waits for the fsync. It uses ApplyNoSyncWait and
// SyncWait rather than Apply because Apply treats a failed fsync as fatal
// (Logger.Fatalf, see pebbleLogger) where SyncWait returns it; a fatal commit
// error reported on this goroutine is returned too.
func (s *Store) apply(b *pebble.Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(pebbleFatal)
			if !ok {
				panic(p)
			}
			err = f
		}
	}()
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		return err
	}
	return b.SyncWait()
}

// stageAppend checks r's expected version and adds its events to the group's
// batch. It returns the bytes added. An append whose events are in the stream
// already, right after the version it expects, is a retry of one whose answer
// was lost: it succeeds with that append's outcome and writes no event twice
// (as EventStoreDB deduplicates by event id), its records included (they are
// the retry's own).
func (s *Store) stageAppend(g *group, r *request, now int64) int {
	cur := s.heads[r.stream]
	if r.expected != eventlog.AnyVersion && uint64(r.expected) != cur {
		if a, ok := s.duplicate(g, r, cur); ok {
			r.appended, r.dup = a, true
			return 0
		}
		r.err = fmt.Errorf("%w: stream %q is at version %d, expected %d",
			eventlog.ErrConflict, r.stream, cur, r.expected)
		return 0
	}
	if len(r.events) == 0 {
		r.appended = eventlog.Appended{Version: cur}
		return 0
	}
	size := 0
	b := g.batch
	sk := streamPrefix(r.stream)
	base := len(sk)
	var posVal [8]byte
	for i := range r.events {
		e := &r.events[i]
		s.lastPos++
		cur++
		n := eventRecordLen(r.stream, e)
		op := b.SetDeferred(9, n)
		putNumKey(op.Key, prefixEvent, s.lastPos)
		putEventRecord(op.Value, r.stream, cur, now, e)
		op.Finish()
		binary.BigEndian.PutUint64(posVal[:], s.lastPos)
		sk = appendVersion(sk[:base], cur)
		b.Set(sk, posVal[:], nil)
		size += n + len(sk) + 17
	}
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], cur)
	b.Set(headKey(r.stream), head[:], nil)
	s.heads[r.stream] = cur
	g.events += len(r.events)
	r.appended = eventlog.Appended{
		Version:  cur,
		Position: eventlog.Position{Commit: s.lastPos, Prepare: s.lastPos},
	}
	return size
}

// duplicate reports whether r's events are those of the stream at the
// versions right after the one r expects, and returns what their append
// returned. Events with a zero ID never match.
func (s *Store) duplicate(g *group, r *request, cur uint64) (eventlog.Appended, bool) {
	n := uint64(len(r.events))
	if n == 0 || r.expected < 0 || uint64(r.expected)+n > cur {
		return eventlog.Appended{}, false
	}
	var pos uint64
	for i := range r.events {
		if r.events[i].ID == ([16]byte{}) {
			return eventlog.Appended{}, false
		}
		id, p, ok := s.eventAt(g, r, uint64(r.expected)+1+uint64(i))
		if !ok || id != r.events[i].ID {
			return eventlog.Appended{}, false
		}
		pos = p
	}
	return eventlog.Appended{Version: uint64(r.expected) + n, Position: eventlog.Position{Commit: pos, Prepare: pos}}, true
}

// eventAt returns the ID and position of the event at version v of r's
// stream: staged by an earlier request of the group g, or stored.
func (s *Store) eventAt(g *group, r *request, v uint64) ([16]byte, uint64, bool) {
	for _, q := range g.reqs {
		if q == r || q.stream != r.stream || q.err != nil || q.dup || len(q.events) == 0 {
			continue
		}
		last := q.appended.Version
		first := last + 1 - uint64(len(q.events))
		if v >= first && v <= last {
			return q.events[v-first].ID, q.appended.Position.Commit - (last - v), true
		}
	}
	pv, closer, err := s.db.Get(appendVersion(streamPrefix(r.stream), v))
	if err != nil {
		return [16]byte{}, 0, false
	}
	if len(pv) != 8 {
		closer.Close()
		return [16]byte{}, 0, false
	}
	pos := binary.BigEndian.Uint64(pv)
	closer.Close()
	ev, closer, err := s.db.Get(numKey(prefixEvent, pos))
	if err != nil {
		return [16]byte{}, 0, false
	}
	defer closer.Close()
	if len(ev) < eventHeaderLen {
		return [16]byte{}, 0, false
	}
	return [16]byte(ev[21:37]), pos, true
}

// stageRecords adds r's journal records to the group's batch and returns the
// bytes added.
func (s *Store) stageRecords(g *group, r *request) int {
	r.first = s.nextIdx
	size := 0
	for _, data := range r.records {
		op := g.batch.SetDeferred(9, journalHeaderLen+len(data))
		putNumKey(op.Key, prefixJournal, s.nextIdx)
		putJournalRecord(op.Value, data)
		op.Finish()
		s.nextIdx++
		size += 9 + journalHeaderLen + len(data)
	}
	g.records += len(r.records)
	return size
}

// publish makes a durable group visible to readers and wakes subscriptions.
func (s *Store) publish(head, jlen uint64) {
	s.jlen.Store(jlen)
	if head == s.head.Load() {
		return
	}
	s.hmu.Lock()
	s.head.Store(head)
	close(s.advance)
	s.advance = make(chan struct{})
	s.hmu.Unlock()
}

// fail stops the store after a failed commit: the requests still queued get an
// error wrapping eventlog.ErrClosed and ErrFailed, and so does every later call.
func (s *Store) fail(cause error) {
	s.mu.Lock()
	if s.failErr == nil {
		s.failErr = fmt.Errorf("%w: %w", ErrFailed, cause)
		s.log.Error("event store stopped after a failed commit", "dir", s.dir, "err", cause)
	}
	queued := s.queue
	s.queue = nil
	err := s.downErrLocked()
	kick := s.wakeLocked()
	s.mu.Unlock()
	if kick {
		s.kickCommitter()
	}
	s.stop()
	for _, r := range queued {
		if r.state.CompareAndSwap(stateQueued, stateTaken) {
			r.err = err
			close(r.done)
		}
	}
}

// failure returns the error that stopped the store, or nil.
func (s *Store) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}
