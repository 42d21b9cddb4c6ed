package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

var errNoCase = domain.Errorf(domain.KindNotFound, "no such case")

// view returns the current view of a case. A malformed id is simply an
// unknown case.
func (s *Server) view(id string) (*projections.View, error) {
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	if _, err := codec.ParseUUID(id); err != nil || id != lowerASCII(id) {
		return nil, errNoCase
	}
	v, ok := s.cfg.Projector.Get(id)
	if !ok {
		return nil, errNoCase
	}
	return v, nil
}

var errNotReady = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub is starting: its views are catching up with the log; try again"}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (k *call) readQuery() policies.ReadQuery {
	return policies.ReadQuery{Identity: k.id, Purpose: k.purpose, Now: k.now}
}

// readerView returns the caller's view of case version v, or the error its
// refusal answers (noted in the access record).
func (s *Server) readerView(k *call, v *projections.View) (*readerView, error) {
	rv, err := s.viewOf(k.ctx, k.readQuery(), v)
	if err != nil || !rv.dec.Allow {
		return nil, k.deny(rv.dec.Decision, err)
	}
	return rv, nil
}

// deny turns a refusal into the error the caller sees, and notes it in the
// access record. evalErr is the policy's evaluation error, if any: the
// decision is then a deny whatever it says, and the caller learns nothing of
// the error.
func (k *call) deny(d policies.Decision, evalErr error) error {
	k.rec.Decision, k.rec.Reasons, k.rec.PolicyRevision = accesslog.Deny, d.Reasons, d.Revision
	if evalErr != nil {
		k.rec.Reasons = []string{"policy evaluation failed: deny"}
		return domain.Errorf(domain.KindForbidden, "the sharing protocol does not allow this")
	}
	switch d.Kind {
	case domain.KindNotFound:
		return errNoCase
	case domain.KindGone:
		return domain.Errorf(domain.KindGone, "the case was erased")
	case domain.KindInvalid:
		return domain.Invalid("the request breaks a rule of the protocol")
	case domain.KindConflict:
		return domain.Errorf(domain.KindConflict, "the case does not accept this event in its state")
	}
	// A refusal on a case the caller can see: say which rules refused.
	msg := "the sharing protocol does not allow this"
	if len(d.Reasons) > 0 {
		msg += ": " + strings.Join(d.Reasons, "; ")
	}
	return domain.Errorf(domain.KindForbidden, "%s", msg)
}

func (k *call) allow(d policies.Decision) {
	k.rec.Reasons, k.rec.PolicyRevision = d.Reasons, d.Revision
}

type caseOut struct {
	CaseID   string           `json:"case_id"`
	Stage    domain.Stage     `json:"stage"`
	Version  uint64           `json:"version"`
	Sections []domain.Section `json:"sections"`
}

func (s *Server) readCase(k *call) (int, any, error) {
	v, err := s.view(k.c.Param("id"))
	if err != nil {
		return 0, nil, err
	}
	rv, err := s.readerView(k, v)
	if err != nil {
		return 0, nil, err
	}
	k.allow(rv.dec.Decision)
	k.rec.BreakGlass = rv.dec.BreakGlass
	return http.StatusOK, caseOutOf(v, rv), nil
}

// caseOutOf is a case as a reader gets it: stage, version and sections of its
// view.
func caseOutOf(v *projections.View, rv *readerView) caseOut {
	return caseOut{CaseID: v.Case.ID, Stage: rv.stage(), Version: rv.version(), Sections: orEmpty(rv.dec.Sections)}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// List paging: cases come in the order they were opened; the cursor is the
// opening of the last case listed, sealed for the caller (an opaque token
// that another identity cannot use and nobody can read or forge). A page has
// a next_cursor only when a further case the caller may list exists.
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

func (s *Server) listCases(k *call) (int, any, error) {
	if err := s.service(k, "case.list"); err != nil {
		return 0, nil, err
	}
	q := k.c.QueryParams()
	limit := defaultListLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			return 0, nil, domain.Invalid("invalid limit", domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 500"})
		}
		limit = n
	}
	var after uint64
	if cur := q.Get("cursor"); cur != "" {
		var err error
		if after, err = s.tokens.openUint(tokenList, string(appendIdentity(nil, k.id)), cur); err != nil {
			return 0, nil, domain.Invalid("invalid cursor", domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave this caller"})
		}
	}
	var stage domain.Stage
	if st := q.Get("stage"); st != "" {
		var ok bool
		if stage, ok = domain.ParseStage(st); !ok {
			return 0, nil, domain.Invalid("invalid stage", domain.FieldError{Field: "stage", Message: "must be one of intake, assessment, intervention, transition, released, closed"})
		}
	}
	if !s.cfg.Projector.Ready() {
		return 0, nil, errNotReady
	}
	items := make([]caseOut, 0, min(limit, 64))
	var last uint64
	more := false
	var failure error
	refused := 0
	s.cfg.Projector.Scan(after, func(v *projections.View) bool {
		if v.Case.Erased {
			return true
		}
		rv, err := s.viewOf(k.ctx, k.readQuery(), v)
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
		if stage != "" && rv.stage() != stage {
			return true
		}
		if len(items) == limit {
			more = true // a further case the caller may list
			return false
		}
		items = append(items, caseOutOf(v, rv))
		last = v.Opened
		return true
	})
	if failure != nil {
		return 0, nil, domain.Internal(failure)
	}
	out := struct {
		Items      []caseOut `json:"items"`
		NextCursor *string   `json:"next_cursor"`
	}{Items: items}
	if more {
		c := s.tokens.sealUint(tokenList, string(appendIdentity(nil, k.id)), last)
		out.NextCursor = &c
	}
	k.rec.Reasons = []string{"listed " + strconv.Itoa(len(items)) + " cases"}
	if refused > 0 {
		// Cases the reader may know of but not for this purpose.
		k.rec.Decision = accesslog.Partial
		k.rec.Withheld = refused
		k.rec.Reasons = append(k.rec.Reasons, "purpose refused on "+strconv.Itoa(refused)+" cases")
	}
	return http.StatusOK, out, nil
}
