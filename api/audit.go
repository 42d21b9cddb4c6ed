package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/hub"
)

func (s *Server) auditRecords(k *call) (int, any, error) {
	q := k.c.QueryParams()
	rq := hub.RecordQuery{Cursor: q.Get("cursor")}
	f := &rq.Filter
	f.CaseID, f.Agency, f.Sub = q.Get("case_id"), q.Get("agency"), q.Get("sub")
	switch d := q.Get("decision"); d {
	case "", accesslog.Allow, accesslog.Partial, accesslog.Deny:
		f.Decision = d
	default:
		rq.Problems = append(rq.Problems, domain.FieldError{Field: "decision", Message: "must be allow, partial or deny"})
	}
	if bg := q.Get("break_glass"); bg != "" {
		b, err := strconv.ParseBool(bg)
		if err != nil {
			rq.Problems = append(rq.Problems, domain.FieldError{Field: "break_glass", Message: "must be true or false"})
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
				rq.Problems = append(rq.Problems, domain.FieldError{Field: tf.name, Message: "must be an RFC 3339 time"})
			}
			*tf.dst = t
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > hub.MaxRecordLimit {
			rq.Problems = append(rq.Problems, domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 1000"})
		}
		rq.Limit = n
	}
	page, err := s.cfg.Hub.AuditRecords(k.ctx, k.hc, rq)
	return http.StatusOK, page, err
}

func (s *Server) auditCheckpoint(k *call) (int, any, error) {
	cp, err := s.cfg.Hub.Checkpoint(k.ctx, k.hc, k.c.QueryParam("log"))
	return http.StatusOK, cp, err
}

func (s *Server) inclusionProof(k *call) (int, any, error) {
	p, err := s.cfg.Hub.Inclusion(k.ctx, k.hc, twoCounts(k, "index", "size"))
	return http.StatusOK, p, err
}

func (s *Server) consistencyProof(k *call) (int, any, error) {
	p, err := s.cfg.Hub.Consistency(k.ctx, k.hc, twoCounts(k, "from", "to"))
	return http.StatusOK, p, err
}

// twoCounts reads two required counts of the query.
func twoCounts(k *call, a, b string) hub.ProofQuery {
	var q hub.ProofQuery
	parse := func(name string) uint64 {
		n, err := strconv.ParseUint(k.c.QueryParam(name), 10, 63)
		if err != nil {
			q.Problems = append(q.Problems, domain.FieldError{Field: name, Message: "is required, a non-negative integer"})
		}
		return n
	}
	q.A, q.B = parse(a), parse(b)
	return q
}
