package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"iter"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog"
)

// Reads are bounded by the durable head (s.head, s.jlen): Pebble shows a batch
// before its fsync, and a reader must never see an event that a crash could
// still take back.

// checkEvery is how many records an iteration reads between two looks at its
// context and at the store's state.
const checkEvery = 128

// Head returns the position of the last durable event, the zero Position when
// there is none. It returns ctx.Err() when ctx is done and an error wrapping
// eventlog.ErrClosed when the store is closed or failed.
func (s *Store) Head(ctx context.Context) (eventlog.Position, error) {
	if err := s.check(ctx); err != nil {
		return eventlog.Position{}, err
	}
	h := s.head.Load()
	return eventlog.Position{Commit: h, Prepare: h}, nil
}

// Len returns the number of durable journal records. It returns ctx.Err() when
// ctx is done and an error wrapping eventlog.ErrClosed when the store is closed
// or failed.
func (s *Store) Len(ctx context.Context) (uint64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.jlen.Load(), nil
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.down.Load() {
		return s.downErr()
	}
	return nil
}

// ReadAll yields the events after position after, up to the head at the time of
// the call, in global order; see eventlog.Log. The yielded events own their
// bytes. The sequence yields a final error, and stops, on ctx.Err() when ctx is
// done, an error wrapping eventlog.ErrClosed when the store closes, and an error
// wrapping eventlog.ErrCorrupt when a stored event cannot be read back or is
// missing.
func (s *Store) ReadAll(ctx context.Context, after eventlog.Position) iter.Seq2[eventlog.Recorded, error] {
	head := s.head.Load()
	return sequence(s, func(yield func(eventlog.Recorded, error) bool) error {
		return s.scanEvents(ctx, afterIndex(after), head, func(r *eventlog.Recorded) bool { return yield(*r, nil) })
	})
}

// afterIndex is the index of the last event at or before after. The event
// at index i has the position {i, i}, so a position {i, p} with p < i lies
// just before it, and the event at i is after it.
func afterIndex(after eventlog.Position) uint64 {
	if after.Prepare < after.Commit {
		return after.Commit - 1
	}
	return after.Commit
}

// ReadAllBorrowed is ReadAll for a reader that copies what it keeps (the
// projections' catch-up): it calls fn with each event after position after, up
// to the head at the time of the call, in global order, and lends it the
// record: r, and the bytes of r.Metadata and r.Data, are valid only until fn
// returns, which saves a copy of every event. It stops at fn's first error
// and returns it, and returns the errors of ReadAll otherwise.
func (s *Store) ReadAllBorrowed(ctx context.Context, after eventlog.Position, fn func(r *eventlog.Recorded) error) error {
	head := s.head.Load()
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	in := interner{}
	var r eventlog.Recorded
	var fnErr error
	err := s.scanNumbered(ctx, prefixEvent, after.Commit+1, head+1, "event at position", func(pos uint64, v []byte) (bool, error) {
		if err := lendEvent(pos, v, in, &r); err != nil {
			return false, err
		}
		fnErr = fn(&r)
		return fnErr == nil, nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// sequence is the iterator of a read: it registers the read with the store
// (enter), runs body and yields body's error last, unless the consumer stopped
// the iteration first.
func sequence[T any](s *Store, body func(yield func(T, error) bool) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if err := s.enter(); err != nil {
			yield(zero, err)
			return
		}
		defer s.leave()
		stopped := false
		err := body(func(v T, err error) bool {
			stopped = !yield(v, err)
			return !stopped
		})
		if err != nil && !stopped {
			yield(zero, err)
		}
	}
}

// scanEvents calls fn for the events at positions after+1 … upto, in order, until
// fn returns false. It returns ctx.Err(), an error wrapping eventlog.ErrClosed
// or one wrapping eventlog.ErrCorrupt.
func (s *Store) scanEvents(ctx context.Context, after, upto uint64, fn func(*eventlog.Recorded) bool) error {
	in := interner{}
	var r eventlog.Recorded
	return s.scanNumbered(ctx, prefixEvent, after+1, upto+1, "event at position", func(pos uint64, v []byte) (bool, error) {
		if err := decodeEvent(pos, v, in, &r); err != nil {
			return false, err
		}
		return fn(&r), nil
	})
}

// scanNumbered calls fn with the number and value of each key of a numbered
// keyspace ('E', 'J') from first to end (exclusive), in order, until fn returns
// false or an error; the value is valid during the call only. A number with no
// key is an error wrapping eventlog.ErrCorrupt, naming it after what. It also
// returns ctx.Err() or an error wrapping eventlog.ErrClosed.
func (s *Store) scanNumbered(ctx context.Context, prefix byte, first, end uint64, what string, fn func(n uint64, v []byte) (bool, error)) error {
	if err := s.check(ctx); err != nil || first >= end {
		return err
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: numKey(prefix, first),
		UpperBound: numKey(prefix, end),
	})
	if err != nil {
		return err
	}
	err = func() error {
		next := first
		for ok := it.First(); ok; ok = it.Next() {
			if next%checkEvery == 0 {
				if err := s.check(ctx); err != nil {
					return err
				}
			}
			if k := it.Key(); len(k) != 9 || binary.BigEndian.Uint64(k[1:]) != next {
				return corruptf("%s %d is missing", what, next)
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if more, err := fn(next, v); err != nil || !more {
				return err
			}
			next++
		}
		if err := it.Error(); err != nil {
			return err
		}
		if next < end {
			return corruptf("%s %d is missing", what, next)
		}
		return nil
	}()
	return errors.Join(err, closeIter(it))
}

// ReadStream yields the durable events of stream with Version >= from, in order;
// see eventlog.Log. An unknown stream yields nothing. The sequence ends with an
// error in the same cases as ReadAll.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventlog.Recorded, error] {
	return sequence(s, func(yield func(eventlog.Recorded, error) bool) error {
		return s.readStream(ctx, stream, from, yield)
	})
}

// readStream returns nil when yield stops the iteration.
func (s *Store) readStream(ctx context.Context, stream string, from uint64, yield func(eventlog.Recorded, error) bool) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	head := s.head.Load()
	from = max(from, 1)
	prefix := streamPrefix(stream)
	index, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: appendVersion(prefix, from),
		UpperBound: upperBound(prefix),
	})
	if err != nil {
		return err
	}
	events, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: []byte{prefixEvent}, UpperBound: []byte{prefixEvent + 1},
	})
	if err != nil {
		index.Close()
		return err
	}
	in := interner{stream: stream}
	err = func() error {
		var r eventlog.Recorded
		var key [9]byte
		version := from
		for ok := index.First(); ok; ok = index.Next() {
			if version%checkEvery == 0 {
				if err := s.check(ctx); err != nil {
					return err
				}
			}
			k := index.Key()
			v, err := index.ValueAndErr()
			if err != nil {
				return err
			}
			if len(k) != len(prefix)+8 || binary.BigEndian.Uint64(k[len(prefix):]) != version || len(v) != 8 {
				return corruptf("stream %q: version %d is missing", stream, version)
			}
			pos := binary.BigEndian.Uint64(v)
			if pos > head {
				return nil // not durable yet
			}
			putNumKey(key[:], prefixEvent, pos)
			if !events.SeekGE(key[:]) || !bytes.Equal(events.Key(), key[:]) {
				if err := events.Error(); err != nil {
					return err
				}
				return corruptf("stream %q: event at position %d is missing", stream, pos)
			}
			val, err := events.ValueAndErr()
			if err != nil {
				return err
			}
			if err := decodeEvent(pos, val, in, &r); err != nil {
				return err
			}
			if r.Stream != stream || r.Version != version {
				return corruptf("stream %q: position %d holds %q version %d", stream, pos, r.Stream, r.Version)
			}
			if !yield(r, nil) {
				return nil
			}
			version++
		}
		return index.Error()
	}()
	return errors.Join(err, closeIter(index), closeIter(events))
}

// Subscribe calls handle for every event after position after, stored ones
// first and then each as it becomes durable; see eventlog.Log. Both phases read
// the store by position, so the switch from catch-up to live has no gap and no
// duplicate. It returns ctx.Err() when ctx is done, handle's error when handle
// fails, an error wrapping eventlog.ErrClosed when the store closes or fails,
// and an error wrapping eventlog.ErrCorrupt when a stored event cannot be read.
func (s *Store) Subscribe(ctx context.Context, after eventlog.Position, handle func(eventlog.Recorded) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	cur := after.Commit
	var handleErr error
	fn := func(r *eventlog.Recorded) bool {
		if handleErr = handle(*r); handleErr != nil {
			return false
		}
		cur = r.Position.Commit
		return true
	}
	for {
		s.hmu.Lock()
		head, advanced := s.head.Load(), s.advance
		s.hmu.Unlock()
		if cur < head {
			if err := s.scanEvents(ctx, cur, head, fn); err != nil {
				return err
			}
			if handleErr != nil {
				return handleErr
			}
			continue
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopped:
			return s.downErr()
		}
	}
}

// ReadRecords yields the journal records with index >= from, up to the journal's
// length at the time of the call; see eventlog.Journal. The latest records
// come from memory (recent.go), shared with other readers and with their
// appender: a reader must not modify them. The sequence ends with an error
// in the same cases as ReadAll.
func (s *Store) ReadRecords(ctx context.Context, from uint64) iter.Seq2[eventlog.Entry, error] {
	end := s.jlen.Load()
	return sequence(s, func(yield func(eventlog.Entry, error) bool) error {
		return s.readRecords(ctx, from, end, yield)
	})
}

func (s *Store) readRecords(ctx context.Context, from, end uint64, yield func(eventlog.Entry, error) bool) error {
	var held [][]byte
	for from < end {
		// The pruned records first (prune.go): their places, without content.
		for pruned := min(s.pruned.Load(), end); from < pruned; from++ {
			if from%checkEvery == 0 {
				if err := s.check(ctx); err != nil {
					return err
				}
			}
			if !yield(eventlog.Entry{Index: from, Pruned: true}, nil) {
				return nil
			}
		}
		if from == end {
			return nil
		}
		// Then those still in memory,
		if held == nil {
			held = make([][]byte, 0, min(end-from, checkEvery))
		}
		var start uint64
		if held, start = s.recent.read(from, end, held[:0]); len(held) > 0 {
			if err := s.check(ctx); err != nil {
				return err
			}
			for _, data := range held {
				if !yield(eventlog.Entry{Index: from, Data: data}, nil) {
					return nil
				}
				from++
			}
			continue
		}
		// and the others from the store, up to where memory takes over.
		stop, stopped := end, false
		if start > from {
			stop = min(end, start)
		}
		err := s.scanNumbered(ctx, prefixJournal, from, stop, "journal record", func(i uint64, v []byte) (bool, error) {
			data, err := decodeJournal(i, v)
			if err != nil {
				return false, err
			}
			from = i + 1
			stopped = !yield(eventlog.Entry{Index: i, Data: data}, nil)
			return !stopped, nil
		})
		switch {
		case err != nil && errors.Is(err, eventlog.ErrCorrupt) && from < s.pruned.Load():
			continue // pruned since the pruned records were yielded
		case err != nil || stopped:
			return err
		}
	}
	return nil
}
