package esdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

// recordType is the event type of journal records in the audit stream.
const recordType = "liaison-access-record"

// AppendRecords implements eventlog.Journal. Concurrent calls are batched on the
// client (group commit): a flusher goroutine appends everything queued so far
// in one AppendToStream call to the audit stream (at most maxBatchBytes per
// call), records in order, expected revision esdb.Any{} — so that every
// replica's records land in one ordered stream at a round trip per batch, not
// per record. Callers only queue and wait for their own records: none of them
// flushes for the others, so none is held by a steady stream of later calls.
//
// The index of a record is its stream revision (0-based), so the first index of a
// batch is derived from the append result: NextExpectedVersion is the revision of
// the last record written, and the first is NextExpectedVersion - n + 1 (see
// firstIndex). Each record gets a random event ID, kept across the retries of
// its batch (see Append), so that a retry after a timeout that committed does
// not write it twice. With no records it writes nothing and returns Len.
//
// Errors: ctx.Err() when ctx ends first (the records may or may not have been
// written), eventlog.ErrClosed after Close, the client's error, wrapped,
// otherwise.
func (l *Log) AppendRecords(ctx context.Context, records ...[]byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(records) == 0 {
		return l.Len(ctx)
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return 0, eventlog.ErrClosed
	}
	req := &recordBatch{records: records, done: make(chan struct{})}
	l.batch.mu.Lock()
	l.batch.queue = append(l.batch.queue, req)
	start := !l.batch.flushing
	l.batch.flushing = true
	l.batch.mu.Unlock()
	if start {
		go l.flushRecords()
	}
	select {
	case <-req.done:
		return req.first, req.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// maxBatchBytes keeps one append under EventStoreDB's default 1 MiB limit.
const maxBatchBytes = 768 << 10

// recordBatch is one AppendRecords call waiting for its batch.
type recordBatch struct {
	records [][]byte
	first   uint64
	err     error
	done    chan struct{}
}

// recordQueue holds the calls waiting to be appended.
type recordQueue struct {
	mu       sync.Mutex
	queue    []*recordBatch
	flushing bool // a flusher goroutine runs
}

// flushRecords appends queued calls until the queue is empty, then ends. It
// runs on a goroutine of its own (one at a time), under the Log's lifetime,
// not a caller's context, so one caller giving up does not fail the others.
func (l *Log) flushRecords() {
	for {
		l.batch.mu.Lock()
		if len(l.batch.queue) == 0 {
			l.batch.flushing = false
			l.batch.mu.Unlock()
			return
		}
		var take []*recordBatch
		size := 0
		for len(l.batch.queue) > 0 && (len(take) == 0 || size+batchSize(l.batch.queue[0]) <= maxBatchBytes) {
			size += batchSize(l.batch.queue[0])
			take = append(take, l.batch.queue[0])
			l.batch.queue = l.batch.queue[1:]
		}
		l.batch.mu.Unlock()

		var data []esdb.EventData
		for _, b := range take {
			for _, r := range b.records {
				data = append(data, esdb.EventData{EventID: newEventID(), EventType: recordType, ContentType: esdb.ContentTypeBinary, Data: r})
			}
		}
		res, err := l.appendToStream(l.life, l.audit, esdb.Any{}, data)
		var next uint64
		switch {
		case err != nil && (errors.Is(err, eventlog.ErrClosed) || l.life.Err() != nil):
			err = eventlog.ErrClosed
		case err == nil:
			next = firstIndex(res.NextExpectedVersion, len(data))
		}
		for _, b := range take {
			b.first, b.err = next, err
			next += uint64(len(b.records))
			close(b.done)
		}
	}
}

func batchSize(b *recordBatch) int {
	n := 0
	for _, r := range b.records {
		n += len(r) + 64
	}
	return n
}

// ReadRecords implements eventlog.Journal: the audit stream read forwards from
// revision from, up to its length at the call.
//
// It yields, and stops after, an error wrapping eventlog.ErrCorrupt when a
// record is missing (a revision gap, for instance truncated by stream metadata);
// ctx.Err(); eventlog.ErrClosed; or the client's error, wrapped. Empty records
// come back as nil.
func (l *Log) ReadRecords(ctx context.Context, from uint64) iter.Seq2[eventlog.Entry, error] {
	return func(yield func(eventlog.Entry, error) bool) {
		n, err := l.Len(ctx)
		if err != nil {
			yield(eventlog.Entry{}, err)
			return
		}
		if from >= n {
			return
		}
		next, stopped := from, false
		err = l.readStream(ctx, l.audit, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(from)}, n-from,
			func(ev *esdb.RecordedEvent) (bool, error) {
				if ev.EventNumber != next {
					return false, fmt.Errorf("esdb: read %s: %w: record %d missing (got %d)", l.audit, eventlog.ErrCorrupt, next, ev.EventNumber)
				}
				next++
				if !yield(eventlog.Entry{Index: ev.EventNumber, Data: nilIfEmpty(ev.Data)}, nil) {
					stopped = true
					return false, nil
				}
				return true, nil
			})
		if err == nil && !stopped && next != n {
			err = fmt.Errorf("esdb: read %s: %w: records %d to %d missing", l.audit, eventlog.ErrCorrupt, next, n-1)
		}
		if err != nil {
			yield(eventlog.Entry{}, err)
		}
	}
}

// Len implements eventlog.Journal: the revision of the audit stream's last record
// plus one, 0 when the stream does not exist. Errors: ctx.Err(),
// eventlog.ErrClosed, or the client's error, wrapped.
func (l *Log) Len(ctx context.Context) (uint64, error) {
	return l.version(ctx, l.audit) // last revision + 1
}

// newEventID returns a random (version 4) UUID.
func newEventID() [16]byte {
	var id [16]byte
	_, _ = rand.Read(id[:])   // never fails (crypto/rand)
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}
