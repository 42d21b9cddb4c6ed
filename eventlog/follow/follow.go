// Package follow keeps what is derived from the access journal up to date in
// the KV: a Follower reads the journal's new records in order and gives each
// batch of them to its consumers, then stores all their KV writes, with its
// own state, in one batch.
//
// The hub's access journal has two consumers: the access log's Merkle tree
// (eventlog/transparency, whose Trees runs the follower) and the auditor's
// query index (accesslog.QueryIndex). Because one batch holds the writes of
// both, the index always covers exactly the records the tree holds, and a
// step of the follower writes its keys once: Pebble's compactions cost about
// the number of keys written (BENCHMARKS.md, P3).
package follow

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// Consumer keeps something derived from the journal's records in the KV.
// The follower calls its methods from one goroutine at a time.
type Consumer interface {
	// Append appends to ops the KV writes that take in batch: the records
	// that follow those of the last batch Committed (or, after Restart, the
	// journal's first). It must not keep the entries' Data. The writes are
	// stored, or not, with those of every other consumer; when they are not,
	// the next Append is given the same records again.
	Append(ops []eventlog.KVOp, batch []eventlog.Entry) ([]eventlog.KVOp, error)
	// Committed tells the consumer that the writes of its last Append are
	// stored.
	Committed(ctx context.Context)
	// Restart forgets every record taken in, before the follower gives the
	// consumer the journal again from its first record. Keys a new batching
	// would not overwrite must be deleted from kv.
	Restart(ctx context.Context, kv eventlog.KV) error
}

// maxBatch bounds the records of one KV batch.
const maxBatch = 1024

// gather is the least time between two catch-ups of a follower woken by
// Notify. Larger batches write fewer index keys (one per indexed field and
// value of a batch, accesslog.QueryIndex), hence less for Pebble to compact:
// 5 ms against 1 ms took BenchmarkAppendFollowed from 31.3 to 28.1 µs of CPU
// per record (medians of 5, side by side), and 20 ms against 5 ms, once the
// records came from memory (embedded/recent.go), from 11.5 to 10.6 µs (3
// runs each, alternated). 50 ms against 20 ms, in the hub under wrk's
// many-identity section reads on a data directory of 350,000 access records
// (BENCHMARKS.md, "Tables apart for the tree's levels"): 1.12 times the
// reads a second (median of 4 alternated 12 s runs), as the query index gets
// about one key per case read in a batch, not one per read. A query or a
// proof waits that much longer at most for a record just appended, and only
// under load: an idle follower takes a record in as soon as it is notified.
const gather = 50 * time.Millisecond

// Follower gives a journal's records, in order and in batches, to its
// consumers and stores their KV writes together. Its state, stored under its
// own key in every batch, is the number of records the consumers hold
// (8 bytes, big-endian). Load, Restart, CatchUp and Run are called from one
// goroutine at a time; Notify from any.
type Follower struct {
	kv        eventlog.KV
	journal   eventlog.Journal
	state     []byte
	consumers []Consumer
	wake      chan struct{}

	// Owned by the goroutine calling Load, Restart, CatchUp or Run.
	next  uint64
	batch []eventlog.Entry
	data  []byte // the bytes of batch's entries
	ops   []eventlog.KVOp
}

// New returns a follower of journal that gives its records to consumers and
// stores its state under the key state in kv. It holds no record until Load
// or Restart.
func New(kv eventlog.KV, journal eventlog.Journal, state []byte, consumers ...Consumer) *Follower {
	return &Follower{kv: kv, journal: journal, state: state, consumers: consumers, wake: make(chan struct{}, 1)}
}

// Load reads the stored state: how many records the consumers hold, which
// is where the follower goes on. ok is false when there is no state (or it
// does not read): the caller then calls Restart. The caller checks what the
// consumers hold against the journal, and calls Restart when they differ. It
// returns the KV's error.
func (f *Follower) Load(ctx context.Context) (next uint64, ok bool, err error) {
	state, ok, err := f.kv.Get(ctx, f.state)
	if err != nil || !ok || len(state) < 8 {
		return 0, false, err
	}
	f.next = binary.BigEndian.Uint64(state)
	return f.next, true, nil
}

// Restart has every consumer forget what it holds, so that the follower
// takes the journal in again from its first record. It returns the first
// consumer's error.
func (f *Follower) Restart(ctx context.Context) error {
	f.next = 0
	for _, c := range f.consumers {
		if err := c.Restart(ctx, f.kv); err != nil {
			return err
		}
	}
	return nil
}

// Notify tells the follower that records were appended. It never blocks.
func (f *Follower) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run takes in the journal's new records until ctx is done (then it returns
// nil): at once, when Notify is called, and every poll for records appended
// by another process. After each catch-up it calls then, when not nil. It
// returns the first error of the journal, the KV, a consumer or then.
func (f *Follower) Run(ctx context.Context, poll time.Duration, then func(context.Context) error) error {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		last := time.Now()
		if err := f.CatchUp(ctx); err != nil {
			return err
		}
		if then != nil {
			if err := then(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
			// Under load every call wakes the follower: let a few records
			// gather, so that one read and one write take them all in.
			if d := gather - time.Since(last); d > 0 {
				time.Sleep(d)
			}
		case <-tick.C:
		}
	}
}

// CatchUp takes in the records beyond those the consumers hold, up to the
// journal's length, in batches of at most maxBatch records. It returns the
// journal's, a consumer's or the KV's error; the batches stored before it
// stay taken in.
func (f *Follower) CatchUp(ctx context.Context) error {
	f.batch, f.data = f.batch[:0], f.data[:0]
	for e, err := range f.journal.ReadRecords(ctx, f.next) {
		if err != nil {
			return fmt.Errorf("follow: read the journal: %w", err)
		}
		if e.Pruned {
			// Retention removed its content (accesslog.Service.Prune), which
			// the consumers cannot take in again: what they derived from it
			// (the tree's leaf hash) must be kept, never rebuilt.
			return fmt.Errorf("follow: journal record %d is pruned: what was derived from it cannot be rebuilt", e.Index)
		}
		// The journal may reuse e.Data once the loop goes on.
		start := len(f.data)
		f.data = append(f.data, e.Data...)
		f.batch = append(f.batch, eventlog.Entry{Index: e.Index, Data: f.data[start:len(f.data):len(f.data)]})
		if len(f.batch) == maxBatch {
			if err := f.commit(ctx); err != nil {
				return err
			}
		}
	}
	return f.commit(ctx)
}

// commit has every consumer take in the batch and stores their writes and
// the new state in one unsynced KV batch (the consumers' data is derived:
// rebuilt from the journal when lost).
func (f *Follower) commit(ctx context.Context) error {
	if len(f.batch) == 0 {
		return nil
	}
	ops := f.ops[:0]
	for _, c := range f.consumers {
		var err error
		if ops, err = c.Append(ops, f.batch); err != nil {
			return err
		}
	}
	next := f.next + uint64(len(f.batch))
	ops = append(ops, eventlog.KVOp{Key: f.state, Value: binary.BigEndian.AppendUint64(nil, next)})
	f.ops = ops[:0]
	if err := f.kv.Write(ctx, false, ops...); err != nil {
		return fmt.Errorf("follow: write a batch of %d records: %w", len(f.batch), err)
	}
	f.next = next
	f.batch, f.data = f.batch[:0], f.data[:0]
	for _, c := range f.consumers {
		c.Committed(ctx)
	}
	return nil
}
