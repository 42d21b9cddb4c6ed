package api

import (
	"net/http"

	"github.com/liaison-hub/liaison/hub"
)

func (s *Server) openCase(k *call) (int, any, error) {
	out, err := s.cfg.Hub.OpenCase(k.ctx, k.hc, k.body)
	return http.StatusCreated, out, err
}

func (s *Server) appendEvent(k *call) (int, any, error) {
	out, err := s.cfg.Hub.Append(k.ctx, k.hc, k.c.Param("id"), k.body)
	return http.StatusCreated, out, err
}

func (s *Server) breakGlass(k *call) (int, any, error) {
	grant, err := s.cfg.Hub.BreakGlass(k.ctx, k.hc, k.c.Param("id"), k.body)
	return http.StatusCreated, grant, err
}

func (s *Server) requestErasure(k *call) (int, any, error) {
	out, err := s.cfg.Hub.RequestErasure(k.ctx, k.hc, k.c.Param("id"), k.body)
	return http.StatusAccepted, out, err
}

func (s *Server) confirmErasure(k *call) (int, any, error) {
	out, err := s.cfg.Hub.ConfirmErasure(k.ctx, k.hc, k.c.Param("request"))
	return http.StatusOK, out, err
}

func (s *Server) cancelErasure(k *call) (int, any, error) {
	out, err := s.cfg.Hub.CancelErasure(k.ctx, k.hc, k.c.Param("request"))
	return http.StatusOK, out, err
}

func (s *Server) listErasures(k *call) (int, any, error) {
	items, err := s.cfg.Hub.Erasures(k.ctx, k.hc, k.c.QueryParam("status"), k.c.QueryParam("case_id"))
	return http.StatusOK, struct {
		Items []hub.Erasure `json:"items"`
	}{items}, err
}

func (s *Server) findErasable(k *call) (int, any, error) {
	items, err := s.cfg.Hub.FindErasable(k.ctx, k.hc, k.c.QueryParam("case_id"), k.c.QueryParam("subject_ref"))
	return http.StatusOK, struct {
		Items []hub.ErasableCase `json:"items"`
	}{items}, err
}

func (s *Server) writable(k *call) (int, any, error) {
	w, err := s.cfg.Hub.Writable(k.ctx, k.hc, k.c.Param("id"))
	return http.StatusOK, w, err
}

func (s *Server) me(k *call) (int, any, error) {
	me, err := s.cfg.Hub.Me(k.ctx, k.hc)
	return http.StatusOK, me, err
}
