package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/hub"
)

func (s *Server) auditRecords(k *call) (int, any, error) {
	q := k.c.QueryParams()
	rq := hub.RecordQuery{Cursor: q.Get("cursor")}
	f := &rq.Filter
	f.CaseID, f.Agency, f.Sub, f.Action = q.Get("case_id"), q.Get("agency"), q.Get("sub"), q.Get("action")
	switch o := q.Get("order"); o {
	case "", "asc", "desc":
		rq.Desc = o == "desc"
	default:
		rq.Problems = append(rq.Problems, domain.FieldError{Field: "order", Message: "must be asc or desc"})
	}
	switch d := q.Get("decision"); d {
	case "", accesslog.Allow, accesslog.Partial, accesslog.Deny:
		f.Decision = d
	default:
		rq.Problems = append(rq.Problems, domain.FieldError{Field: "decision", Message: "must be allow, partial or deny"})
	}
	f.BreakGlass = optionalBool(q, "break_glass", &rq.Problems)
	f.From, f.To = timeBounds(q, &rq.Problems)
	rq.Limit = pageLimit(q, hub.MaxRecordLimit, &rq.Problems)
	page, err := s.cfg.Hub.AuditRecords(k.ctx, k.hc, rq)
	return http.StatusOK, page, err
}

// timeBounds reads the query's from and to, RFC 3339 times (zero when
// absent), noting a bad one in problems.
func timeBounds(q url.Values, problems *[]domain.FieldError) (from, to time.Time) {
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				*problems = append(*problems, domain.FieldError{Field: tf.name, Message: "must be an RFC 3339 time"})
			}
			*tf.dst = t
		}
	}
	return from, to
}

// optionalBool reads the query's boolean name (nil when absent), noting a bad
// one in problems.
func optionalBool(q url.Values, name string, problems *[]domain.FieldError) *bool {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*problems = append(*problems, domain.FieldError{Field: name, Message: "must be true or false"})
	}
	return &b
}

// pageLimit reads the query's limit, 1 to most (0 when absent), noting a bad
// one in problems.
func pageLimit(q url.Values, most int, problems *[]domain.FieldError) int {
	l := q.Get("limit")
	if l == "" {
		return 0
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > most {
		*problems = append(*problems, domain.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(most)})
	}
	return n
}

func (s *Server) breakGlassUses(k *call) (int, any, error) {
	q := k.c.QueryParams()
	bq := hub.BreakGlassQuery{Agency: q.Get("agency"), CaseID: q.Get("case_id"), Cursor: q.Get("cursor")}
	bq.Reviewed = optionalBool(q, "reviewed", &bq.Problems)
	bq.From, bq.To = timeBounds(q, &bq.Problems)
	bq.Limit = pageLimit(q, hub.MaxBreakGlassLimit, &bq.Problems)
	page, err := s.cfg.Hub.BreakGlassUses(k.ctx, k.hc, bq)
	return http.StatusOK, page, err
}

func (s *Server) reviewBreakGlass(k *call) (int, any, error) {
	out, err := s.cfg.Hub.ReviewBreakGlass(k.ctx, k.hc, k.c.Param("index"), k.body)
	return http.StatusCreated, out, err
}

func (s *Server) auditSummary(k *call) (int, any, error) {
	q := k.c.QueryParams()
	sq := hub.SummaryQuery{Bucket: q.Get("bucket")}
	sq.From, sq.To = timeBounds(q, &sq.Problems)
	sum, err := s.cfg.Hub.AuditSummary(k.ctx, k.hc, sq)
	return http.StatusOK, sum, err
}

func (s *Server) auditCheckpoint(k *call) (int, any, error) {
	cp, err := s.cfg.Hub.Checkpoint(k.ctx, k.hc, k.c.QueryParam("log"))
	if err == nil && wantsNote(k.c.Request().Header.Get("Accept")) {
		// The checkpoint as C2SP tlog-tiles serves it: the signed note,
		// cosignatures included.
		return http.StatusOK, rawBody{"text/plain; charset=utf-8", []byte(cp.Note)}, nil
	}
	return http.StatusOK, cp, err
}

// wantsNote reports whether an Accept header asks for text/plain rather than
// JSON: the checkpoint's signed note itself.
func wantsNote(accept string) bool {
	return strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json")
}

// rawBody is an answer sent as is, with its content type.
type rawBody struct {
	contentType string
	data        []byte
}

// auditTile answers a tile or entry bundle of the access log's tree, C2SP
// tlog-tiles below /v1/audit (docs/audit.md).
func (s *Server) auditTile(k *call) (int, any, error) {
	b, err := s.cfg.Hub.Tile(k.ctx, k.hc, "tile/"+k.c.Param("*"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawBody{"application/octet-stream", b}, nil
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
