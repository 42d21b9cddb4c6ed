package accesslog

import (
	"context"
	"time"
)

// Filter selects access records; zero fields match everything.
type Filter struct {
	CaseID     string
	Agency     string
	Sub        string
	Decision   string
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
		f.BreakGlass != nil && r.BreakGlass != *f.BreakGlass,
		!f.From.IsZero() && r.Time.Before(f.From),
		!f.To.IsZero() && !r.Time.Before(f.To):
		return false
	}
	return true
}

// Page is one page of a query: the records and, when there may be more, the
// index to continue from.
type Page struct {
	Records []Record
	Next    *uint64
}

// Query returns up to limit records matching f with index >= from, in order.
func (l *Log) Query(ctx context.Context, f Filter, from uint64, limit int) (Page, error) {
	var p Page
	for r, err := range l.Records(ctx, from) {
		if err != nil {
			return p, err
		}
		if !f.Match(&r) {
			continue
		}
		if len(p.Records) == limit {
			next := r.Index
			p.Next = &next
			break
		}
		p.Records = append(p.Records, r)
	}
	return p, nil
}
