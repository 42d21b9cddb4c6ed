package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog"
)

// Retention of the journal (docs/operations.md, "Retention of the access
// log"). PruneRecords removes the content of the journal's oldest records:
// one Pebble batch, written with sync, deletes their 'J' keys with a range
// deletion and records under the metadata key "pruned" how many records are
// pruned (8 bytes, big-endian); then a compaction of their key range reclaims
// the bytes. The journal keeps their places: its length does not change, and
// ReadRecords yields them with Pruned set and no Data. What proves them is
// kept elsewhere: the access log's Merkle tree holds their leaf hashes.

// PruneRecords removes the content of the journal records with index below
// before and returns how many records are pruned now (never fewer than
// before the call: pruning does not go back). It never prunes the last
// record, so that the journal's end can always be checked against the tree
// that covers it, and it compacts the pruned range before it returns. It
// returns an error wrapping eventlog.ErrClosed when the store is closed or
// failed, ctx.Err(), and Pebble's error; the records are pruned or not,
// durably, when it returns.
func (s *Store) PruneRecords(ctx context.Context, before uint64) (uint64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	s.pmu.Lock()
	defer s.pmu.Unlock()
	done := s.pruned.Load()
	if n := s.jlen.Load(); before >= n {
		before = max(n, 1) - 1
	}
	if before <= done {
		return done, nil
	}
	if err := ctx.Err(); err != nil {
		return done, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], before)
	err := errors.Join(
		b.DeleteRange(numKey(prefixJournal, 0), numKey(prefixJournal, before), nil),
		b.Set(prunedKey, n[:], nil),
		b.Set(formatKey, []byte{prunedFormat}, nil),
	)
	if err != nil {
		return done, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return done, fmt.Errorf("embedded: prune journal records: %w", err)
	}
	s.pruned.Store(before)
	s.recent.drop(before)
	if err := s.db.Compact(ctx, numKey(prefixJournal, 0), numKey(prefixJournal, before), false); err != nil {
		return before, fmt.Errorf("embedded: compact pruned journal records: %w", err)
	}
	return before, nil
}

// Pruned returns how many of the journal's first records PruneRecords
// removed the content of.
func (s *Store) Pruned() uint64 { return s.pruned.Load() }

// readPruned reads the stored number of pruned records (0 when none is).
func (s *Store) readPruned() (uint64, error) {
	v, closer, err := s.db.Get(prunedKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("embedded: read pruned records: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, corruptf("the number of pruned journal records %x is malformed", v)
	}
	return binary.BigEndian.Uint64(v), nil
}

// ReadRecordsAt calls fn with the journal records at indexes, which must be
// ascending and below the journal's length, in order, until fn returns
// false: through one iterator, where a ReadRecords per index would open one
// each (the auditor's queries read the records their index lists so). A
// pruned record comes with Pruned set and no Data. The records own their
// bytes. It returns an error wrapping eventlog.ErrCorrupt when a record is
// missing or does not read back, and the errors of ReadRecords.
func (s *Store) ReadRecordsAt(ctx context.Context, indexes []uint64, fn func(eventlog.Entry) bool) error {
	if len(indexes) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.check(ctx); err != nil {
		return err
	}
	end := s.jlen.Load()
	if last := indexes[len(indexes)-1]; last >= end {
		return corruptf("journal record %d is beyond the journal's %d", last, end)
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: numKey(prefixJournal, indexes[0]),
		UpperBound: numKey(prefixJournal, end),
	})
	if err != nil {
		return err
	}
	err = func() error {
		key := make([]byte, 9)
		for _, i := range indexes {
			if i < s.pruned.Load() {
				if !fn(eventlog.Entry{Index: i, Pruned: true}) {
					return nil
				}
				continue
			}
			putNumKey(key, prefixJournal, i)
			if !it.SeekGE(key) || !bytes.Equal(it.Key(), key) {
				if err := it.Error(); err != nil {
					return err
				}
				if i < s.pruned.Load() { // pruned since
					if !fn(eventlog.Entry{Index: i, Pruned: true}) {
						return nil
					}
					continue
				}
				return corruptf("journal record %d is missing", i)
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			data, err := decodeJournal(i, v)
			if err != nil {
				return err
			}
			if !fn(eventlog.Entry{Index: i, Data: data}) {
				return nil
			}
		}
		return nil
	}()
	return errors.Join(err, closeIter(it))
}
