// Package eventlog defines the hub's append-only log of case events and the
// ordered journal of access records, independent of where they are stored.
//
// Two backends implement it: eventlog/embedded (a Pebble database in the data
// directory, the default) and eventlog/esdb (EventStoreDB / KurrentDB). Both pass
// the conformance suite in eventlog/eventlogtest.
//
// Payloads pass through as opaque bytes: the log never looks inside Data or
// Metadata, so a codec layer (eventlog/codec) can encrypt them without the log
// knowing.
package eventlog

import (
	"context"
	"errors"
	"iter"
	"time"
)

// Expected-version sentinels for Log.Append. Any other value v >= 1 means "the
// stream holds exactly v events".
const (
	// AnyVersion appends whatever the stream's current version.
	AnyVersion int64 = -1
	// NoStream requires the stream not to exist yet (version 0).
	NoStream int64 = 0
)

// ErrConflict is returned (wrapped) by Append when the stream's version is not the
// expected one. Nothing was appended.
var ErrConflict = errors.New("eventlog: wrong expected version")

// ErrClosed is returned by operations on a closed log.
var ErrClosed = errors.New("eventlog: closed")

// ErrCorrupt is returned (wrapped) when stored bytes cannot be read back as they
// were written (checksum failure, missing record).
var ErrCorrupt = errors.New("eventlog: corrupt")

// Position is a place in the global order of all events. The embedded backend
// numbers events 1, 2, 3… and sets Commit = Prepare; EventStoreDB uses its $all
// transaction-file positions. The zero Position is "before the first event".
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Less reports whether p comes strictly before q in the global order.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// Compare returns -1, 0 or +1 as p comes before, at or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Less(q):
		return -1
	case q.Less(p):
		return 1
	}
	return 0
}

// IsZero reports whether p is the position before the first event.
func (p Position) IsZero() bool { return p.Commit == 0 && p.Prepare == 0 }

// Event is one event to append. ID is a UUID (16 bytes) chosen by the writer; Type
// is the event type name; Metadata and Data are opaque to the log.
type Event struct {
	ID       [16]byte
	Type     string
	Metadata []byte
	Data     []byte
}

// Recorded is an event as the log stored it.
type Recorded struct {
	Event
	// Stream is the stream (case id) the event belongs to.
	Stream string
	// Version is the event's 1-based number in its stream: the first event of a
	// stream has Version 1.
	Version uint64
	// Position is the event's place in the global order.
	Position Position
	// RecordedAt is when the log committed the event (UTC).
	RecordedAt time.Time
}

// Appended reports where an append landed: the stream's new version and the
// global position of the last event written.
type Appended struct {
	Version  uint64
	Position Position
}

// Log is a set of append-only streams, one per case, with a global order.
//
// Append is durable when it returns without error: the events survive a crash of
// the process or the machine. A crash never leaves part of an append visible.
type Log interface {
	// Append adds events, in order, to the end of stream. expected is the version
	// the caller last saw (NoStream for a new stream, AnyVersion to skip the
	// check). It returns an error wrapping ErrConflict, and appends nothing, when
	// the stream's version differs from expected.
	Append(ctx context.Context, stream string, expected int64, events ...Event) (Appended, error)

	// ReadStream yields the events of stream with Version >= from, in order. An
	// unknown stream yields nothing.
	ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[Recorded, error]

	// ReadAll yields every event after position after (exclusive), in global
	// order, up to the head at the time of the call.
	ReadAll(ctx context.Context, after Position) iter.Seq2[Recorded, error]

	// Subscribe calls handle for every event after position after, in global
	// order: first the stored ones (catch-up), then new ones as they are
	// committed (live), with no gap and no duplicate between the two. It returns
	// when ctx is done (ctx.Err()), when handle returns an error (that error), or
	// when the log is closed (ErrClosed).
	Subscribe(ctx context.Context, after Position, handle func(Recorded) error) error

	// Head returns the position of the last committed event (zero if none).
	Head(ctx context.Context) (Position, error)

	// Close releases the log. Appends in flight either complete or fail.
	Close() error
}

// RecordingLog is a Log whose appends can carry journal records committed
// atomically with the events: both are durable, or neither is written.
//
// It lets the access record of a write be durable no later than the write
// itself: a crash, or a failed commit, never leaves the events without their
// record nor the record without its events. A backend that cannot write both
// at once (eventlog/esdb) does not implement it; callers then append the
// record to the Journal on their own, before or after the events.
type RecordingLog interface {
	Log

	// AppendWithRecords is Append of events to stream, with expected as in
	// Append, that also appends records, in order, to the Journal kept with
	// the log (the same backend's), in the same commit. It returns the
	// stream's append result, as Append does, and the journal index of the
	// first record (the journal's length after the commit when there are no
	// records).
	//
	// On a version conflict it returns an error wrapping ErrConflict and
	// writes nothing: neither the events nor the records. Its other errors are
	// Append's, and whatever they leave written (e.g. a commit whose outcome is
	// unknown) holds for the events and the records together. The records
	// are kept as AppendRecords keeps them: the caller must not modify them.
	AppendWithRecords(ctx context.Context, stream string, expected int64, events []Event, records [][]byte) (Appended, uint64, error)
}

// Entry is one record of a Journal as stored.
type Entry struct {
	// Index is the record's 0-based place in the journal.
	Index uint64
	// Data is the record as appended; nil when Pruned.
	Data []byte
	// Pruned is set when retention removed the record's content
	// (embedded.Store.PruneRecords): the journal keeps its place, and the
	// access log's Merkle tree its leaf hash, but not its bytes.
	Pruned bool
}

// Journal is a single ordered, append-only sequence of records (the access log).
// Append is durable when it returns without error.
type Journal interface {
	// AppendRecords appends records in order and returns the index of the
	// first. The journal may keep the records' bytes, and give them to its
	// readers: the caller must not modify them once it has called.
	AppendRecords(ctx context.Context, records ...[]byte) (first uint64, err error)
	// ReadRecords yields records with index >= from, in order, up to the end of
	// the journal at the time of the call. A yielded record's Data may be
	// shared with other readers: it must not be modified.
	ReadRecords(ctx context.Context, from uint64) iter.Seq2[Entry, error]
	// Len returns the number of records in the journal.
	Len(ctx context.Context) (uint64, error)
}

// KV is a small ordered key-value space beside the logs, for data derived from
// them (Merkle tree nodes, checkpoints, audit indexes, projection snapshots).
// Derived data can always be rebuilt from the logs; only what is written with
// sync set is durable on return.
type KV interface {
	// Get returns the value of key, and false if there is none.
	Get(ctx context.Context, key []byte) ([]byte, bool, error)
	// Write applies ops atomically, in order; with sync it is durable on return.
	Write(ctx context.Context, sync bool, ops ...KVOp) error
	// Scan yields the pairs whose key starts with prefix and is >= start (the
	// whole prefix when start is nil), in key order.
	Scan(ctx context.Context, prefix, start []byte) iter.Seq2[KVPair, error]
}

// KVOp is one write to a KV: a set, or a delete when Delete is true.
type KVOp struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// KVPair is one key and its value.
type KVPair struct {
	Key   []byte
	Value []byte
}
