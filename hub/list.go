package hub

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/projections"
)

// Listing cases (docs/api.md, "Listing and finding cases"). Every filter and
// every order is on what the caller's view shows, never on the case as the
// log holds it, so that a list, like every answer, says nothing of events
// the caller may not read (docs/protocol.md, "What a reader can infer"):
//
//   - order "opened" (the default): in the order the cases were opened;
//     order "recent": by the last change in the caller's view, newest first
//     (ties by opening, newest first);
//   - stage: the stage the caller's view reaches;
//   - q: the start of the subject reference, without regard to case, matched
//     only where the caller reads the subject reference (the CaseOpened
//     item and its subject_ref field are in its view);
//   - caseload "mine": the cases where the caller's view holds an item its
//     own organisation wrote, or a MentorAssigned item that names its
//     organisation (mentor_org) or the caller (mentor_ref equal to its sub),
//     with that field in its view.
//
// The cursor is the place of the last case listed in the order asked, sealed
// for the caller (an opaque token that another identity cannot use and
// nobody can read or forge). A page has a next_cursor only when a further
// case the caller may list exists.
const (
	// DefaultListLimit is the size of a page of cases unless asked otherwise.
	DefaultListLimit = 50
	// MaxListLimit is the largest page of cases.
	MaxListLimit = 500
)

// Orders of a list of cases.
const (
	OrderOpened = "opened"
	OrderRecent = "recent"
)

// ListQuery asks for a page of cases.
type ListQuery struct {
	// Limit is the page size, 1 to MaxListLimit (0: DefaultListLimit).
	Limit int
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
	// Stage, when set, lists only cases at that stage in the caller's view.
	Stage domain.Stage
	// Search, when set, lists only cases whose subject reference, as the
	// caller reads it, starts with it (without regard to case); a reference
	// (domain.CheckRef).
	Search string
	// Caseload is "mine" for the caller's caseload only, "all" or "" for
	// every case.
	Caseload string
	// Order is OrderOpened ("" too) or OrderRecent.
	Order string
}

// CasePage is a page of cases.
type CasePage struct {
	Items      []CaseSummary `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// listed is a case a list takes, with its place in the order asked.
type listed struct {
	summary CaseSummary
	opened  uint64
	changed int64 // the last change in the caller's view, Unix nanoseconds
}

// ListCases answers a page of the cases the caller may read for its purpose,
// each as its view shows it; erased cases are never listed. It returns
// KindForbidden for a caller or purpose that lists no cases, KindInvalid
// naming the parameter at fault (a cursor this hub did not give this caller
// for this order, a search that is not a reference, an unknown order), and
// KindUnavailable while the hub starts.
func (s *Service) ListCases(ctx context.Context, c *Call, q ListQuery) (*CasePage, error) {
	if err := s.service(ctx, c, "case.list"); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Order == "" {
		q.Order = OrderOpened
	}
	var problems []domain.FieldError
	if q.Order != OrderOpened && q.Order != OrderRecent {
		problems = append(problems, domain.FieldError{Field: "order", Message: "must be opened or recent"})
	}
	if q.Caseload != "" && q.Caseload != "all" && q.Caseload != "mine" {
		problems = append(problems, domain.FieldError{Field: "caseload", Message: "must be mine or all"})
	}
	q.Search = strings.TrimSpace(q.Search)
	if msg := domain.CheckRef(q.Search); msg != "" {
		problems = append(problems, domain.FieldError{Field: "q", Message: msg})
	}
	var at listed
	if q.Cursor != "" {
		var ok bool
		if at, ok = s.openListCursor(c, q.Order, q.Cursor); !ok {
			problems = append(problems, domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave this caller for this order"})
		}
	}
	if len(problems) > 0 {
		return nil, domain.Invalid("invalid query", problems...)
	}
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	var (
		taken    []listed
		more     bool
		failure  error
		refused  int
		after    uint64 // where the scan starts: in opening order, the cursor's case
		complete = q.Order == OrderRecent
	)
	if !complete {
		after = at.opened
	}
	s.cfg.Projector.Scan(after, func(v *projections.View) bool {
		if v.Case.Erased {
			return true
		}
		l, ok, err := s.listable(ctx, c, q, v, &refused)
		if err != nil {
			failure = err
			return false
		}
		if !ok {
			return true
		}
		if complete {
			// Every case is needed to sort: those past the cursor only.
			if q.Cursor == "" || recentBefore(at, l) {
				taken = append(taken, l)
			}
			return true
		}
		if len(taken) == q.Limit {
			more = true // a further case the caller may list
			return false
		}
		taken = append(taken, l)
		return true
	})
	if failure != nil {
		return nil, domain.Internal(failure)
	}
	if complete {
		slices.SortFunc(taken, func(a, b listed) int {
			if recentBefore(a, b) {
				return -1
			}
			return 1
		})
		if more = len(taken) > q.Limit; more {
			taken = taken[:q.Limit]
		}
	}
	page := &CasePage{Items: make([]CaseSummary, 0, len(taken))}
	for _, l := range taken {
		page.Items = append(page.Items, l.summary)
	}
	if more {
		cur := s.sealListCursor(c, q.Order, taken[len(taken)-1])
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

// recentBefore reports whether a comes before b in the order "recent".
func recentBefore(a, b listed) bool {
	if a.changed != b.changed {
		return a.changed > b.changed
	}
	return a.opened > b.opened
}

// listable returns case v as the list shows it to the caller, and whether the
// query takes it; it counts in refused the cases refused for the purpose.
func (s *Service) listable(ctx context.Context, c *Call, q ListQuery, v *projections.View, refused *int) (listed, bool, error) {
	rv, err := s.viewOf(ctx, readQuery(c), v)
	if err != nil {
		return listed{}, false, err
	}
	if !rv.dec.Allow {
		if rv.dec.Kind == domain.KindForbidden {
			*refused++
		}
		return listed{}, false, nil
	}
	// The stage filter is on the stage the caller gets.
	if q.Stage != "" && rv.stage() != q.Stage {
		return listed{}, false, nil
	}
	sum := summaryOf(v, rv)
	if q.Search != "" && (sum.SubjectRef == "" || !hasFoldPrefix(sum.SubjectRef, q.Search)) {
		return listed{}, false, nil
	}
	if q.Caseload == "mine" {
		mine, err := s.inCaseload(ctx, c, v, rv)
		if err != nil || !mine {
			return listed{}, false, err
		}
	}
	l := listed{summary: sum, opened: v.Opened}
	if n := len(rv.items); n > 0 {
		l.changed = rv.items[n-1].it.RecordedAt().UnixNano()
	}
	return l, true, nil
}

// hasFoldPrefix reports whether s starts with prefix, without regard to case.
func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// inCaseload reports whether case v is in the caller's caseload, on its view
// rv (see the list's rules above).
func (s *Service) inCaseload(ctx context.Context, c *Call, v *projections.View, rv *readerView) (bool, error) {
	var mentors []uint64
	var fields [][]string
	for _, vi := range rv.items {
		if vi.it.Originator() == c.Identity.Agency {
			return true, nil
		}
		if vi.it.Type() == domain.MentorAssigned {
			mentors = append(mentors, vi.it.Version)
			fields = append(fields, vi.dec.Fields)
		}
	}
	if len(mentors) == 0 {
		return false, nil
	}
	data, err := s.cfg.Projector.Data(ctx, v.Case.ID, mentors)
	if err != nil {
		return false, err
	}
	for i, version := range mentors {
		d, err := domain.RehydrateData(domain.MentorAssigned, data[version])
		if err != nil {
			return false, err
		}
		m, _ := d.(domain.MentorAssignedData)
		if slices.Contains(fields[i], "mentor_org") && m.MentorOrg == c.Identity.Agency ||
			slices.Contains(fields[i], "mentor_ref") && m.MentorRef != "" && m.MentorRef == c.Identity.Subject {
			return true, nil
		}
	}
	return false, nil
}

// List cursors: in opening order, the opening of the last case listed (8
// bytes, as before there were other orders); in order "recent", 'r', its last
// change and its opening (17 bytes).
func (s *Service) sealListCursor(c *Call, order string, l listed) string {
	binding := string(appendIdentity(nil, c.Identity))
	if order == OrderOpened {
		return s.tokens.sealUint(tokenList, binding, l.opened)
	}
	b := append([]byte{'r'}, binary.BigEndian.AppendUint64(nil, uint64(l.changed))...)
	return s.tokens.seal(tokenList, binding, binary.BigEndian.AppendUint64(b, l.opened))
}

// openListCursor opens a list cursor of the given order.
func (s *Service) openListCursor(c *Call, order, cursor string) (listed, bool) {
	b, err := s.tokens.open(tokenList, string(appendIdentity(nil, c.Identity)), cursor)
	switch {
	case err != nil:
		return listed{}, false
	case order == OrderOpened && len(b) == 8:
		return listed{opened: binary.BigEndian.Uint64(b)}, true
	case order == OrderRecent && len(b) == 17 && b[0] == 'r':
		return listed{changed: int64(binary.BigEndian.Uint64(b[1:])), opened: binary.BigEndian.Uint64(b[9:])}, true
	}
	return listed{}, false
}
