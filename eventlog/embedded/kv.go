package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog"
)

// The KV keyspace is every key starting with prefixKV; the caller's key follows
// verbatim, so its order is the caller's byte order.

func kvKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixKV
	copy(k[1:], key)
	return k
}

// Get returns a copy of the value of key, and false if there is none. It
// returns ctx.Err() when ctx is done, an error wrapping eventlog.ErrClosed when
// the store is closed or failed, and Pebble's error when the read fails.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := s.enter(); err != nil {
		return nil, false, err
	}
	defer s.leave()
	v, closer, err := s.db.Get(kvKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("embedded: get: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), true, nil
}

// Write applies ops atomically and in order, as one Pebble batch; with sync it
// returns once the batch is fsynced. It does not go through the committer:
// KV data is derived and never waits for appends. It returns ctx.Err() when ctx
// is done before the write, an error wrapping eventlog.ErrClosed when the store
// is closed or failed, and Pebble's error when the write fails (then nothing of
// ops is applied).
func (s *Store) Write(ctx context.Context, sync bool, ops ...eventlog.KVOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	for _, op := range ops {
		var err error
		if op.Delete {
			err = b.Delete(kvKey(op.Key), nil)
		} else {
			err = b.Set(kvKey(op.Key), op.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("embedded: write: %w", err)
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	if err := s.db.Apply(b, wo); err != nil {
		return fmt.Errorf("embedded: write: %w", err)
	}
	return nil
}

// Scan yields copies of the pairs whose key starts with prefix and is >= start
// (the whole prefix when start is nil), in key order. The sequence yields a
// final error, and stops, on ctx.Err() when ctx is done, an error wrapping
// eventlog.ErrClosed when the store closes, and Pebble's error when the read
// fails.
func (s *Store) Scan(ctx context.Context, prefix, start []byte) iter.Seq2[eventlog.KVPair, error] {
	return sequence(s, func(yield func(eventlog.KVPair, error) bool) error {
		return s.scanKV(ctx, prefix, start, yield)
	})
}

func (s *Store) scanKV(ctx context.Context, prefix, start []byte, yield func(eventlog.KVPair, error) bool) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	lower := kvKey(prefix)
	if bytes.Compare(start, prefix) > 0 {
		if !bytes.HasPrefix(start, prefix) {
			return nil // start is past every key with prefix
		}
		lower = kvKey(start)
	}
	upper := upperBound(kvKey(prefix)) // never nil: prefixKV is not 0xff
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	err = func() error {
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			if n++; n%checkEvery == 0 {
				if err := s.check(ctx); err != nil {
					return err
				}
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if !yield(eventlog.KVPair{Key: bytes.Clone(it.Key()[1:]), Value: bytes.Clone(v)}, nil) {
				return nil
			}
		}
		return it.Error()
	}()
	return errors.Join(err, closeIter(it))
}
