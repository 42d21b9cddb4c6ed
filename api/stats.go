package api

import "net/http"

func (s *Server) statsPractices(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Practices(k.ctx, k.hc)
	return http.StatusOK, out, err
}

func (s *Server) statsBreakdowns(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Breakdowns(k.ctx, k.hc)
	return http.StatusOK, out, err
}
