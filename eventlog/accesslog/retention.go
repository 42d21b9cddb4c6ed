package accesslog

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Retention of the access log (docs/operations.md, "Retention of the access
// log"). The law keeps access records for a period (often one to three
// years) and no longer: Prune removes the content of the records older than
// a time, while the access log's Merkle tree keeps their leaf hashes and its
// signed checkpoints their roots, so that `liaison audit verify` still
// checks the whole history (the pruned records by their stored leaf hashes,
// which the checkpoints signed before pruning commit to) and the auditor's
// queries answer for a pruned record with its index and leaf hash, marked
// pruned (Record.Pruned), never with a gap.

// Pruner is a journal that can remove the content of its oldest records
// (embedded.Store); a journal that is not one keeps every record.
type Pruner interface {
	// PruneRecords removes the content of the records with index below
	// before (never the last record) and returns how many are pruned now.
	PruneRecords(ctx context.Context, before uint64) (uint64, error)
}

// ErrNoRetention is returned by Prune when the access log's journal cannot
// prune records (the esdb backend).
var ErrNoRetention = errors.New("accesslog: this store cannot prune access records")

// Prune removes the content of the access records stamped before t and
// returns how many of the log's first records are pruned now. It prunes only
// records that the tree holds and that its latest signed checkpoint covers
// (it signs one when there is none), so that a pruned record's leaf hash is
// both stored and committed to, and never the last of those; and since the
// log's order strays from the order of record times by up to timeSlack, only
// records that lie more than that before the first record stamped at t or
// later. It returns
// ErrNoRetention when the journal is not a Pruner, and the journal's or the
// tree's error.
func (s *Service) Prune(ctx context.Context, t time.Time) (uint64, error) {
	p, ok := s.log.journal.(Pruner)
	if !ok {
		return 0, ErrNoRetention
	}
	n, err := s.log.Len(ctx)
	if err != nil {
		return 0, err
	}
	before, err := s.firstAt(ctx, t.Add(-timeSlack), n)
	if err != nil {
		return 0, err
	}
	cp, err := s.tree.Latest(ctx)
	if err != nil {
		return 0, err
	}
	// The last record the checkpoint covers stays: after a restart the
	// trees check the last leaf they hold against its record (and the tree
	// a checkpoint covers was stored before the checkpoint was, durably).
	if covered := min(s.tree.Size(), cp.Size); covered > 0 {
		before = min(before, covered-1)
	} else {
		before = 0
	}
	return p.PruneRecords(ctx, before)
}

// RetentionEvery is how often Retain prunes.
const RetentionEvery = time.Hour

// Retain prunes the records older than period (Prune) now and every
// RetentionEvery until ctx ends, with now giving the time; it logs what it
// pruned and its errors, and returns ErrNoRetention at once when the journal
// cannot prune, else ctx.Err() when ctx ends.
func (s *Service) Retain(ctx context.Context, period time.Duration, now func() time.Time, log *slog.Logger) error {
	if _, ok := s.log.journal.(Pruner); !ok {
		return ErrNoRetention
	}
	t := time.NewTicker(RetentionEvery)
	defer t.Stop()
	last := uint64(0)
	for {
		n, err := s.Prune(ctx, now().Add(-period))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("access log retention", "err", err)
		case n > last:
			log.Info("access log retention: records pruned", "pruned", n, "older_than", period.String())
			last = n
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
