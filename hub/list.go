package hub

import (
	"context"
	"strconv"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/projections"
)

// Listing cases: they come in the order they were opened; the cursor is the
// opening of the last case listed, sealed for the caller (an opaque token
// that another identity cannot use and nobody can read or forge). A page has
// a next_cursor only when a further case the caller may list exists.
const (
	// DefaultListLimit is the size of a page of cases unless asked otherwise.
	DefaultListLimit = 50
	// MaxListLimit is the largest page of cases.
	MaxListLimit = 500
)

// ListQuery asks for a page of cases.
type ListQuery struct {
	// Limit is the page size, 1 to MaxListLimit (0: DefaultListLimit).
	Limit int
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
	// Stage, when set, lists only cases at that stage in the caller's view.
	Stage domain.Stage
}

// CasePage is a page of cases.
type CasePage struct {
	Items      []CaseSummary `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// ListCases answers a page of the cases the caller may read for its purpose,
// each as its view shows it; erased cases are never listed. It returns
// KindForbidden for a caller or purpose that lists no cases, KindInvalid
// naming "cursor" for a cursor this hub did not give this caller, and
// KindUnavailable while the hub starts.
func (s *Service) ListCases(ctx context.Context, c *Call, q ListQuery) (*CasePage, error) {
	if err := s.service(ctx, c, "case.list"); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	var after uint64
	if q.Cursor != "" {
		var err error
		if after, err = s.tokens.openUint(tokenList, string(appendIdentity(nil, c.Identity)), q.Cursor); err != nil {
			return nil, domain.Invalid("invalid cursor", domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave this caller"})
		}
	}
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	page := &CasePage{Items: make([]CaseSummary, 0, min(q.Limit, 64))}
	var last uint64
	more := false
	var failure error
	refused := 0
	s.cfg.Projector.Scan(after, func(v *projections.View) bool {
		if v.Case.Erased {
			return true
		}
		rv, err := s.viewOf(ctx, readQuery(c), v)
		if err != nil {
			failure = err
			return false
		}
		if !rv.dec.Allow {
			if rv.dec.Kind == domain.KindForbidden {
				refused++
			}
			return true
		}
		// The stage filter is on the stage the caller gets.
		if q.Stage != "" && rv.stage() != q.Stage {
			return true
		}
		if len(page.Items) == q.Limit {
			more = true // a further case the caller may list
			return false
		}
		page.Items = append(page.Items, summaryOf(v, rv))
		last = v.Opened
		return true
	})
	if failure != nil {
		return nil, domain.Internal(failure)
	}
	if more {
		cur := s.tokens.sealUint(tokenList, string(appendIdentity(nil, c.Identity)), last)
		page.NextCursor = &cur
	}
	c.Record.Reasons = []string{"listed " + strconv.Itoa(len(page.Items)) + " cases"}
	if refused > 0 {
		// Cases the reader may know of but not for this purpose.
		c.Record.Decision = accesslog.Partial
		c.Record.Withheld = refused
		c.Record.Reasons = append(c.Record.Reasons, "purpose refused on "+strconv.Itoa(refused)+" cases")
	}
	return page, nil
}
