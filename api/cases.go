package api

import (
	"encoding/base64"
	"encoding/binary"
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

var errNotReady = &domain.Error{Kind: domain.KindInternal, Message: "the hub is starting"}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (k *call) readQuery(v *projections.View) policies.ReadQuery {
	return policies.ReadQuery{Identity: k.id, Purpose: k.purpose, Case: v.Case, CaseKey: v.PolicyKey, Now: k.now}
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
	d, err := s.cfg.Policy.ReadCase(k.ctx, k.readQuery(v))
	if err != nil || !d.Allow {
		return 0, nil, k.deny(d.Decision, err)
	}
	k.allow(d.Decision)
	k.rec.BreakGlass = d.BreakGlass
	return http.StatusOK, caseOut{CaseID: v.Case.ID, Stage: v.Case.Stage, Version: v.Case.Version, Sections: orEmpty(d.Sections)}, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// List paging: the cursor is the opening position of the last case listed,
// base64url-encoded; it is opaque to clients.
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
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(b) != 8 {
			return 0, nil, domain.Invalid("invalid cursor", domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave"})
		}
		after = binary.BigEndian.Uint64(b)
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
		if v.Case.Erased || stage != "" && v.Case.Stage != stage {
			return true
		}
		if len(items) == limit {
			more = true
			return false
		}
		d, err := s.cfg.Policy.ReadCase(k.ctx, k.readQuery(v))
		if err != nil {
			failure = err
			return false
		}
		if !d.Allow {
			if d.Kind == domain.KindForbidden {
				refused++
			}
			return true
		}
		items = append(items, caseOut{CaseID: v.Case.ID, Stage: v.Case.Stage, Version: v.Case.Version, Sections: orEmpty(d.Sections)})
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
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], last)
		c := base64.RawURLEncoding.EncodeToString(b[:])
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
