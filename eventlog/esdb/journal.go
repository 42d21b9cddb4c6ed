package esdb

import (
	"context"
	"crypto/rand"
	"fmt"
	"iter"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

// recordType is the event type of journal records in the audit stream.
const recordType = "liaison-access-record"

// AppendRecords implements eventlog.Journal: one AppendToStream call to the audit
// stream, records in order, expected revision esdb.Any{} (the journal has no
// concurrency check; concurrent batches never interleave, each gets consecutive
// revisions).
//
// The index of a record is its stream revision (0-based), so the first index is
// derived from the append result: NextExpectedVersion is the revision of the
// last record written, and the first is NextExpectedVersion - len(records) + 1
// (see firstIndex). Each record gets a fresh random event ID. With no records it
// writes nothing and returns Len.
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
	data := make([]esdb.EventData, len(records))
	for i, r := range records {
		data[i] = esdb.EventData{EventID: newEventID(), EventType: recordType, ContentType: esdb.ContentTypeBinary, Data: r}
	}
	var res *esdb.WriteResult
	err := l.guard(func() (err error) {
		res, err = l.client.AppendToStream(ctx, l.audit, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, data...)
		return err
	})
	if err != nil {
		return 0, l.translate(ctx, "append to "+l.audit, err)
	}
	return firstIndex(res.NextExpectedVersion, len(records)), nil
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
