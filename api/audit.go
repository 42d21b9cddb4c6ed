package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/projections"
)

// AuditService answers the oversight body's questions about the access log.
type AuditService interface {
	// Query returns a page of access records matching f, from index from on.
	Query(ctx context.Context, f accesslog.Filter, from uint64, limit int) (accesslog.Page, error)
	// Checkpoint returns the latest signed checkpoint of the access log.
	Checkpoint(ctx context.Context) (any, error)
	// CaseCheckpoint returns the latest signed checkpoint of the case log.
	CaseCheckpoint(ctx context.Context) (any, error)
	// Inclusion returns the proof that record index is in the tree of size size.
	Inclusion(ctx context.Context, index, size uint64) (any, error)
	// Consistency returns the proof that the tree of size from is a prefix of
	// the tree of size to.
	Consistency(ctx context.Context, from, to uint64) (any, error)
}

// service asks the policy whether the caller may use an oversight service.
func (s *Server) service(k *call, action string) error {
	d, err := s.cfg.Policy.Service(k.ctx, k.id, k.purpose, action)
	if err != nil || !d.Allow {
		return k.deny(d, err)
	}
	k.allow(d)
	return nil
}

func (s *Server) auditRecords(k *call) (int, any, error) {
	if err := s.service(k, "audit.records"); err != nil {
		return 0, nil, err
	}
	q := k.c.QueryParams()
	var f accesslog.Filter
	var errs []domain.FieldError
	f.CaseID, f.Agency, f.Sub = q.Get("case_id"), q.Get("agency"), q.Get("sub")
	switch d := q.Get("decision"); d {
	case "", accesslog.Allow, accesslog.Partial, accesslog.Deny:
		f.Decision = d
	default:
		errs = append(errs, domain.FieldError{Field: "decision", Message: "must be allow, partial or deny"})
	}
	if bg := q.Get("break_glass"); bg != "" {
		b, err := strconv.ParseBool(bg)
		if err != nil {
			errs = append(errs, domain.FieldError{Field: "break_glass", Message: "must be true or false"})
		}
		f.BreakGlass = &b
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs = append(errs, domain.FieldError{Field: tf.name, Message: "must be an RFC 3339 time"})
			}
			*tf.dst = t
		}
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		limit = n
	}
	var from uint64
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) != 8 {
			errs = append(errs, domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave"})
		} else {
			from = binary.BigEndian.Uint64(b)
		}
	}
	if len(errs) > 0 {
		return 0, nil, domain.Invalid("invalid query", errs...)
	}
	page, err := s.cfg.Audit.Query(k.ctx, f, from, limit)
	if err != nil {
		return 0, nil, domain.Internal(err)
	}
	out := struct {
		Items      []accesslog.Record `json:"items"`
		NextCursor *string            `json:"next_cursor"`
	}{Items: orEmpty(page.Records)}
	if page.Next != nil {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], *page.Next)
		c := base64.RawURLEncoding.EncodeToString(b[:])
		out.NextCursor = &c
	}
	return http.StatusOK, out, nil
}

func (s *Server) auditCheckpoint(k *call) (int, any, error) {
	if err := s.service(k, "audit.checkpoint"); err != nil {
		return 0, nil, err
	}
	var cp any
	var err error
	switch k.c.QueryParam("log") {
	case "", "access":
		cp, err = s.cfg.Audit.Checkpoint(k.ctx)
	case "case":
		cp, err = s.cfg.Audit.CaseCheckpoint(k.ctx)
	default:
		return 0, nil, domain.Invalid("invalid query", domain.FieldError{Field: "log", Message: "must be access or case"})
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, cp, nil
}

func (s *Server) inclusionProof(k *call) (int, any, error) {
	if err := s.service(k, "audit.proofs"); err != nil {
		return 0, nil, err
	}
	index, size, err := twoCounts(k, "index", "size")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.cfg.Audit.Inclusion(k.ctx, index, size)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

func (s *Server) consistencyProof(k *call) (int, any, error) {
	if err := s.service(k, "audit.proofs"); err != nil {
		return 0, nil, err
	}
	from, to, err := twoCounts(k, "from", "to")
	if err != nil {
		return 0, nil, err
	}
	p, err := s.cfg.Audit.Consistency(k.ctx, from, to)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

func twoCounts(k *call, a, b string) (uint64, uint64, error) {
	var errs []domain.FieldError
	parse := func(name string) uint64 {
		n, err := strconv.ParseUint(k.c.QueryParam(name), 10, 63)
		if err != nil {
			errs = append(errs, domain.FieldError{Field: name, Message: "is required, a non-negative integer"})
		}
		return n
	}
	x, y := parse(a), parse(b)
	if len(errs) > 0 {
		return 0, 0, domain.Invalid("invalid query", errs...)
	}
	return x, y, nil
}

func (s *Server) statsPractices(k *call) (int, any, error) {
	if err := s.service(k, "stats"); err != nil {
		return 0, nil, err
	}
	if !s.cfg.Projector.Ready() {
		return 0, nil, errNotReady
	}
	return http.StatusOK, struct {
		MinCell int                `json:"min_cell"`
		Items   []projections.Cell `json:"items"`
	}{MinCell: projections.MinCell, Items: s.cfg.Projector.Stats().Practices()}, nil
}

func (s *Server) statsBreakdowns(k *call) (int, any, error) {
	if err := s.service(k, "stats"); err != nil {
		return 0, nil, err
	}
	if !s.cfg.Projector.Ready() {
		return 0, nil, errNotReady
	}
	return http.StatusOK, struct {
		MinCell int                 `json:"min_cell"`
		Tables  []projections.Table `json:"tables"`
	}{MinCell: projections.MinCell, Tables: s.cfg.Projector.Stats().Breakdowns()}, nil
}
