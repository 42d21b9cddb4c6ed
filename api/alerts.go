package api

import (
	"net/http"

	"github.com/liaison-hub/liaison/hub"
)

// The privacy monitor's alerts (docs/api.md, "Alerts"; docs/monitoring.md).

func (s *Server) auditAlerts(k *call) (int, any, error) {
	q := k.c.QueryParams()
	aq := hub.AlertQuery{State: q.Get("state"), Rule: q.Get("rule"), Agency: q.Get("agency"), Sub: q.Get("sub"), Cursor: q.Get("cursor")}
	aq.From, aq.To = timeBounds(q, &aq.Problems)
	aq.Limit = pageLimit(q, hub.MaxAlertLimit, &aq.Problems)
	page, err := s.cfg.Hub.Alerts(k.ctx, k.hc, aq)
	return http.StatusOK, page, err
}

func (s *Server) acknowledgeAlert(k *call) (int, any, error) {
	a, err := s.cfg.Hub.ChangeAlert(k.ctx, k.hc, k.c.Param("id"), hub.AlertAcknowledged, k.body)
	return http.StatusOK, a, err
}

func (s *Server) closeAlert(k *call) (int, any, error) {
	a, err := s.cfg.Hub.ChangeAlert(k.ctx, k.hc, k.c.Param("id"), hub.AlertClosed, k.body)
	return http.StatusOK, a, err
}
