package api

import (
	"net/http"

	"github.com/liaison-hub/liaison/hub"
)

func (s *Server) statsPractices(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Practices(k.ctx, k.hc)
	return http.StatusOK, out, err
}

func (s *Server) statsBreakdowns(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Breakdowns(k.ctx, k.hc)
	return http.StatusOK, out, err
}

// statsCohorts answers GET /v1/stats/cohorts?dimension=&horizon=&outcome=
// (docs/api.md, "Statistics").
func (s *Server) statsCohorts(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Cohorts(k.ctx, k.hc, hub.CohortFilter{
		Dimension: k.c.QueryParam("dimension"), Horizon: k.c.QueryParam("horizon"), Outcome: k.c.QueryParam("outcome"),
	})
	return http.StatusOK, out, err
}
