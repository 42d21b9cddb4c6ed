package accesslog

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// Filter selects access records; zero fields match everything.
type Filter struct {
	CaseID   string
	Agency   string
	Sub      string
	Decision string
	// Action is the record's action, matched exactly (docs/api.md, "Audit",
	// lists them). It has no index: Match checks it on the records another
	// field's index or the time bounds select, and a query by action alone
	// scans the log (or the time bounds' part of it).
	Action     string
	BreakGlass *bool
	From, To   time.Time // From inclusive, To exclusive
}

// Match reports whether r passes the filter.
func (f Filter) Match(r *Record) bool {
	switch {
	case f.CaseID != "" && r.CaseID != f.CaseID,
		f.Agency != "" && r.Agency != f.Agency,
		f.Sub != "" && r.Sub != f.Sub,
		f.Decision != "" && r.Decision != f.Decision,
		f.Action != "" && r.Action != f.Action,
		f.BreakGlass != nil && r.BreakGlass != *f.BreakGlass:
		return false
	}
	return f.inTime(r.Time)
}

// Page is one page of a query: the records and, when more match, where to
// continue: the from of the next Query, the before of the next QueryBefore.
type Page struct {
	Records []Record
	Next    *uint64
}

// add adds r to a page of limit records, or, when the page is full, sets Next
// to r's index; it reports whether the page takes more.
func (p *Page) add(r Record, limit int) bool {
	if len(p.Records) == limit {
		next := r.Index
		p.Next = &next
		return false
	}
	p.Records = append(p.Records, r)
	return true
}

// timeSlack bounds how far the access log's order strays from the order of
// record times: a record is stamped when its call starts and appended when
// it ends.
const timeSlack = 2 * time.Minute

// DefaultLimit is the page size of a query given no limit.
const DefaultLimit = 100

// Query returns up to limit records matching f with index >= from, in index
// order, and the index of the next match when there is one. It sees every
// record appended before it was called.
//
// It scans the most selective index f uses (sub, case, break-glass, agency,
// a decision other than allow) and checks each record against the whole filter; time bounds
// narrow the scan to the records around them, found by binary search on
// record times. Records the indexes have not taken in yet (Service.Wait) are
// scanned. It returns the journal's or the KV's error, or ctx.Err().
func (s *Service) Query(ctx context.Context, f Filter, from uint64, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	var p Page
	lo, hi, err := s.bounds(ctx, f, from, 0)
	if err != nil {
		return p, err
	}
	return p, s.scanRange(ctx, f, lo, hi, func(r Record) bool { return p.add(r, limit) })
}

// maxBackWindow bounds the window of indexes QueryBefore scans at once.
const maxBackWindow = 16384

// QueryBefore returns up to limit records matching f with index < before,
// newest first (before = 0, or at least the log's length, is the end of the
// log), and in Next, when more match, the before of the next page: the index
// of the next match plus one. It sees what Query sees and chooses its index
// and time bounds in the same way.
//
// The indexes and the journal are read forwards only, so it scans windows of
// indexes from the end backwards, each window in index order as Query does:
// the first holds limit+1 indexes, each next one twice as many as the one
// before, up to maxBackWindow; it stops once limit+1 matches are found.
func (s *Service) QueryBefore(ctx context.Context, f Filter, before uint64, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	lo, hi, err := s.bounds(ctx, f, 0, before)
	if err != nil {
		return Page{}, err
	}
	want := limit + 1
	var found []Record // newest first
	for w := uint64(want); hi > lo && len(found) < want; w = min(2*w, maxBackWindow) {
		start := hi - min(w, hi-lo)
		keep := want - len(found)
		var tail []Record // the last keep matches of the window, in index order
		err := s.scanRange(ctx, f, start, hi, func(r Record) bool {
			if tail = append(tail, r); len(tail) > keep {
				tail = tail[1:]
			}
			return true
		})
		if err != nil {
			return Page{}, err
		}
		for i := len(tail) - 1; i >= 0; i-- {
			found = append(found, tail[i])
		}
		hi = start
	}
	p := Page{Records: found}
	if len(found) > limit {
		next := found[limit].Index + 1
		p.Records, p.Next = found[:limit], &next
	}
	return p, nil
}

// bounds returns the indexes [lo, hi) a query scans: from lo (0: the start
// of the log) up to hi (0, or beyond the log: the end of the log now),
// narrowed to the records that may lie within f's time bounds, since the
// access log's order strays from the order of record times by less than
// timeSlack.
func (s *Service) bounds(ctx context.Context, f Filter, lo, hi uint64) (uint64, uint64, error) {
	n, err := s.log.Len(ctx)
	if err != nil {
		return 0, 0, err
	}
	if hi == 0 || hi > n {
		hi = n
	}
	if !f.From.IsZero() {
		i, err := s.firstAt(ctx, f.From.Add(-timeSlack), hi)
		if err != nil {
			return 0, 0, err
		}
		lo = max(lo, i)
	}
	if !f.To.IsZero() {
		i, err := s.firstAt(ctx, f.To.Add(timeSlack), hi)
		if err != nil {
			return 0, 0, err
		}
		hi = min(hi, i)
	}
	return lo, hi, nil
}

// scanRange gives keep the records of [lo, hi) that match f, in index order,
// while keep returns true: through the most selective index f uses for what
// the indexes have taken in, then by scanning the rest.
func (s *Service) scanRange(ctx context.Context, f Filter, lo, hi uint64, keep func(Record) bool) error {
	if lo >= hi {
		return nil
	}
	if prefix := f.plan(); prefix != nil {
		s.tree.WaitSize(ctx, hi, s.Wait)
		indexed := min(s.tree.Size(), hi)
		more, err := s.scanIndex(ctx, prefix, f, lo, indexed, keep)
		if err != nil || !more {
			return err
		}
		lo = max(lo, indexed)
	}
	return s.scan(ctx, f, lo, hi, keep)
}

// scanIndex gives keep the records of [lo, hi) under the index prefix that
// match f; it reports whether keep takes more. The lists of one prefix are
// disjoint and in key order, and the one holding lo starts less than
// maxPostingSpan before it. The records listed are read readAhead at a time
// (takeAll).
func (s *Service) scanIndex(ctx context.Context, prefix []byte, f Filter, lo, hi uint64, keep func(Record) bool) (bool, error) {
	if lo >= hi {
		return true, nil
	}
	var pending []uint64
	start := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), lo-min(lo, maxPostingSpan-1))
	for kv, err := range s.kv.Scan(ctx, prefix, start) {
		if err != nil {
			return false, err
		}
		if len(kv.Key) != len(prefix)+8 {
			continue // a longer value sharing this prefix
		}
		first := binary.BigEndian.Uint64(kv.Key[len(prefix):])
		if first >= hi {
			break
		}
		done := false
		err := posting(first, kv.Value, func(i uint64) bool {
			switch {
			case i < lo:
				return true
			case i >= hi:
				done = true
				return false
			}
			pending = append(pending, i)
			return true
		})
		if err != nil {
			return false, fmt.Errorf("%w under key %x", err, kv.Key)
		}
		if done {
			break
		}
		if len(pending) >= readAhead {
			if more, err := s.takeAll(ctx, pending, f, keep); err != nil || !more {
				return false, err
			}
			pending = pending[:0]
		}
	}
	return s.takeAll(ctx, pending, f, keep)
}

// readAhead is how many of the records an index lists scanIndex reads at
// once (through one iterator of the store, when the journal is a
// recordsReader).
const readAhead = 256

// recordsReader is a journal that reads the records at given indexes in
// one go (embedded.Store).
type recordsReader interface {
	ReadRecordsAt(ctx context.Context, indexes []uint64, fn func(eventlog.Entry) bool) error
}

// takeAll reads the records at indexes (ascending) and gives keep those
// that match f, like take, while it takes more; it reports whether it does.
func (s *Service) takeAll(ctx context.Context, indexes []uint64, f Filter, keep func(Record) bool) (bool, error) {
	rr, ok := s.log.journal.(recordsReader)
	if !ok {
		for _, i := range indexes {
			if more, err := s.takeAt(ctx, i, f, keep); err != nil || !more {
				return false, err
			}
		}
		return true, nil
	}
	more := true
	var failed error
	err := rr.ReadRecordsAt(ctx, indexes, func(e eventlog.Entry) bool {
		more, failed = s.take(ctx, f, e, keep)
		return more && failed == nil
	})
	switch {
	case failed != nil:
		return false, failed
	case err != nil:
		return false, err
	}
	return more, nil
}

// takeAt reads record i and gives it to keep if it matches f, like take.
func (s *Service) takeAt(ctx context.Context, i uint64, f Filter, keep func(Record) bool) (bool, error) {
	for e, err := range s.log.journal.ReadRecords(ctx, i) {
		if err != nil {
			return false, err
		}
		return s.take(ctx, f, e, keep)
	}
	return false, fmt.Errorf("accesslog: index names record %d, which the log does not hold", i)
}

// scan gives keep the records of [lo, hi) that match f.
func (s *Service) scan(ctx context.Context, f Filter, lo, hi uint64, keep func(Record) bool) error {
	for e, err := range s.log.journal.ReadRecords(ctx, lo) {
		if err != nil {
			return err
		}
		if e.Index >= hi {
			return nil
		}
		if more, err := s.take(ctx, f, e, keep); err != nil || !more {
			return err
		}
	}
	return nil
}

// take gives the record e to keep if it matches f, and reports whether keep
// takes more. A record outside f's time bounds is skipped on its time alone,
// without decoding it: the slack around the bounds can hold many.
//
// A pruned record (Prune) is given to keep as such, with its leaf hash: what
// it held cannot be matched against f any more, and the auditor is told
// that a record the query may have asked for is pruned rather than left
// with a silent gap. Reached through an index, it did match the index's
// field and value.
func (s *Service) take(ctx context.Context, f Filter, e eventlog.Entry, keep func(Record) bool) (bool, error) {
	if e.Pruned {
		h, err := s.tree.LeafHash(ctx, e.Index)
		if err != nil {
			return false, err
		}
		return keep(Record{Index: e.Index, Pruned: true, LeafHash: h}), nil
	}
	if t, ok := recordTime(e.Data); ok && !f.inTime(t) {
		return true, nil
	}
	r, err := Decode(e.Index, e.Data)
	if err != nil {
		return false, err
	}
	return !f.Match(&r) || keep(r), nil
}

// inTime reports whether t is within f's time bounds.
func (f Filter) inTime(t time.Time) bool {
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || t.Before(f.To))
}

// firstAt returns the first index below n whose record's time is not before
// t, n when there is none, assuming the records are in time order.
func (s *Service) firstAt(ctx context.Context, t time.Time, n uint64) (uint64, error) {
	var failed error
	i := sort.Search(int(n), func(i int) bool {
		if failed != nil {
			return true
		}
		for e, err := range s.log.journal.ReadRecords(ctx, uint64(i)) {
			if err != nil {
				failed = err
				return true
			}
			if e.Pruned {
				return false // the oldest records, before any time asked
			}
			at, ok := recordTime(e.Data)
			if !ok {
				r, err := Decode(e.Index, e.Data)
				at, failed = r.Time, err
			}
			return !at.Before(t)
		}
		return true
	})
	return uint64(i), failed
}
