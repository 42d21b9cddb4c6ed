package api

import (
	"net/http"
	"strconv"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

func (s *Server) readCase(k *call) (int, any, error) {
	ans, err := s.cfg.Hub.Case(k.ctx, k.hc, k.c.Param("id"))
	return http.StatusOK, ans, err
}

func (s *Server) readSection(k *call) (int, any, error) {
	ans, err := s.cfg.Hub.Section(k.ctx, k.hc, k.c.Param("id"), k.c.Param("section"))
	return http.StatusOK, ans, err
}

func (s *Server) readEvents(k *call) (int, any, error) {
	var after uint64
	if a := k.c.QueryParam("after_version"); a != "" {
		n, err := strconv.ParseUint(a, 10, 63)
		if err != nil {
			return 0, nil, domain.Invalid("invalid after_version", domain.FieldError{Field: "after_version", Message: "must be a non-negative integer"})
		}
		after = n
	}
	ans, err := s.cfg.Hub.Events(k.ctx, k.hc, k.c.Param("id"), after)
	return http.StatusOK, ans, err
}

func (s *Server) listCases(k *call) (int, any, error) {
	q := k.c.QueryParams()
	lq := hub.ListQuery{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > hub.MaxListLimit {
			return 0, nil, domain.Invalid("invalid limit", domain.FieldError{Field: "limit", Message: "must be an integer from 1 to 500"})
		}
		lq.Limit = n
	}
	if st := q.Get("stage"); st != "" {
		var ok bool
		if lq.Stage, ok = domain.ParseStage(st); !ok {
			return 0, nil, domain.Invalid("invalid stage", domain.FieldError{Field: "stage", Message: "must be one of intake, assessment, intervention, transition, released, closed"})
		}
	}
	lq.Search, lq.Order, lq.Caseload = q.Get("q"), q.Get("order"), q.Get("caseload")
	page, err := s.cfg.Hub.ListCases(k.ctx, k.hc, lq)
	return http.StatusOK, page, err
}
