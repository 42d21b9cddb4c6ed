package api

import (
	"net/http"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Four-eyes erasure (docs/protocol.md, "Erasure"): one data-protection officer
// requests the erasure of a case (ErasureRequested), another confirms it
// (CaseErased, and the case key destroyed) before the request lapses, or
// either cancels it (ErasureCancelled). The protocol decides each step; the
// register of requests is a projection of those events.

// erasureOut is one entry of the register of erasures as the API shows it.
type erasureOut struct {
	RequestID   string              `json:"request_id"`
	CaseID      string              `json:"case_id"`
	Status      string              `json:"status"`
	LegalBasis  string              `json:"legal_basis"`
	Reference   string              `json:"reference"`
	RequestedBy projections.Officer `json:"requested_by"`
	RequestedAt string              `json:"requested_at"`
	// ExpiresAt is empty for an erasure by the retention job.
	ExpiresAt string               `json:"expires_at,omitempty"`
	DecidedBy *projections.Officer `json:"decided_by,omitempty"`
	DecidedAt string               `json:"decided_at,omitempty"`
}

func erasureOutOf(e projections.Erasure, now time.Time) erasureOut {
	out := erasureOut{
		RequestID: e.RequestID, CaseID: e.CaseID, Status: e.StatusAt(now), LegalBasis: e.LegalBasis,
		Reference: e.Reference, RequestedBy: e.RequestedBy, RequestedAt: domain.FormatTime(e.RequestedAt),
	}
	if !e.ExpiresAt.IsZero() {
		out.ExpiresAt = domain.FormatTime(e.ExpiresAt)
	}
	if !e.DecidedAt.IsZero() {
		by := e.DecidedBy
		out.DecidedBy, out.DecidedAt = &by, domain.FormatTime(e.DecidedAt)
	}
	return out
}

// requestErasure answers POST /v1/cases/{id}/erase: an erasure request, 202.
func (s *Server) requestErasure(k *call) (int, any, error) {
	basis, reference, err := domain.ParseErasureRequest(k.body)
	if err != nil {
		return 0, nil, err
	}
	k.rec.LegalBasis, k.rec.Reference = basis, reference
	caseID := k.c.Param("id")
	var expires time.Time
	w, err := s.commit(k, caseID, draft{
		typ: domain.ErasureRequested, expected: -1, status: http.StatusAccepted,
		finish: func(d policies.WriteDecision, _ *domain.Case, e *domain.Event) error {
			expires = k.now.Add(d.ErasureFor).Truncate(time.Second)
			var err error
			_, e.RawData, err = domain.DecodeData(domain.ErasureRequested,
				mustJSON(domain.ErasureRequestedData{LegalBasis: basis, Reference: reference, ExpiresAt: domain.FormatTime(expires)}), s.cfg.Policy.Directory(), "")
			return err
		},
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, erasureOut{
		RequestID: w.eventID, CaseID: caseID, Status: projections.ErasurePending, LegalBasis: basis, Reference: reference,
		RequestedBy: projections.Officer{Agency: k.id.Agency, Subject: k.id.Subject},
		RequestedAt: domain.FormatTime(k.now), ExpiresAt: domain.FormatTime(expires),
	}, nil
}

// pendingRequest finds the request a confirmation or cancellation names,
// once the protocol lets the caller decide requests at all (so that nobody
// else learns whether a request id exists).
func (s *Server) pendingRequest(k *call) (projections.Erasure, error) {
	if err := s.service(k, "erasure.decide"); err != nil {
		return projections.Erasure{}, err
	}
	if !s.cfg.Projector.Ready() {
		return projections.Erasure{}, errNotReady
	}
	e, ok := s.cfg.Projector.Erasure(k.c.Param("request"))
	if !ok {
		k.rec.Reasons = []string{"no such erasure request"}
		return e, domain.Errorf(domain.KindNotFound, "no such erasure request")
	}
	k.rec.CaseID, k.rec.LegalBasis, k.rec.Reference = e.CaseID, e.LegalBasis, e.Reference
	if e.Status != projections.ErasurePending {
		// Decided already (confirmed, cancelled) or the retention job's: the
		// request's own state answers, before its case's (erased, maybe).
		k.rec.Reasons = []string{"the erasure request is " + e.Status}
		return e, domain.Errorf(domain.KindConflict, "the erasure request is %s, no longer pending", e.Status)
	}
	return e, nil
}

// confirmErasure answers POST /v1/erasures/{request_id}/confirm: a second
// officer confirms; the case is erased.
func (s *Server) confirmErasure(k *call) (int, any, error) {
	req, err := s.pendingRequest(k)
	if err != nil {
		return 0, nil, err
	}
	raw := mustJSON(domain.CaseErasedData{LegalBasis: req.LegalBasis, Reference: req.Reference, RequestID: req.RequestID})
	if err := s.eraseCase(k, req.CaseID, draft{typ: domain.CaseErased, raw: raw, requestID: req.RequestID, expected: -1, status: http.StatusOK}); err != nil {
		return 0, nil, err
	}
	req.Status, req.DecidedBy, req.DecidedAt = projections.ErasureConfirmed, projections.Officer{Agency: k.id.Agency, Subject: k.id.Subject}, k.now
	return http.StatusOK, erasureOutOf(req, k.now), nil
}

// cancelErasure answers POST /v1/erasures/{request_id}/cancel.
func (s *Server) cancelErasure(k *call) (int, any, error) {
	req, err := s.pendingRequest(k)
	if err != nil {
		return 0, nil, err
	}
	raw := mustJSON(domain.ErasureCancelledData{RequestID: req.RequestID})
	if _, err := s.commit(k, req.CaseID, draft{typ: domain.ErasureCancelled, raw: raw, requestID: req.RequestID, expected: -1, status: http.StatusOK}); err != nil {
		return 0, nil, err
	}
	req.Status, req.DecidedBy, req.DecidedAt = projections.ErasureCancelled, projections.Officer{Agency: k.id.Agency, Subject: k.id.Subject}, k.now
	return http.StatusOK, erasureOutOf(req, k.now), nil
}

// listErasures answers GET /v1/erasures: the register, newest first,
// filtered by status and case_id.
func (s *Server) listErasures(k *call) (int, any, error) {
	if err := s.service(k, "erasure.list"); err != nil {
		return 0, nil, err
	}
	status, caseID := k.c.QueryParam("status"), k.c.QueryParam("case_id")
	switch status {
	case "", "all", projections.ErasurePending, projections.ErasureExpired, projections.ErasureCancelled, projections.ErasureConfirmed, projections.ErasureRetention:
	default:
		return 0, nil, domain.Invalid("invalid status", domain.FieldError{Field: "status", Message: "must be one of all, pending, expired, cancelled, confirmed, retention"})
	}
	if !s.cfg.Projector.Ready() {
		return 0, nil, errNotReady
	}
	items := []erasureOut{}
	for _, e := range s.cfg.Projector.Erasures(func(e projections.Erasure) bool { return caseID == "" || e.CaseID == caseID }) {
		if o := erasureOutOf(e, k.now); status == "" || status == "all" || o.Status == status {
			items = append(items, o)
		}
	}
	return http.StatusOK, struct {
		Items []erasureOut `json:"items"`
	}{items}, nil
}

// eraseCase appends CaseErased, recording in it which organisations could see
// the case (they will be told it is gone, everyone else that it does not
// exist), and destroys the case's key, so that none of its content can be read
// again. The projections destroy the key too as they apply the event, so an
// erasure cut short by a crash completes at the next start.
func (s *Server) eraseCase(k *call, caseID string, dr draft) error {
	dr.finish = func(_ policies.WriteDecision, c *domain.Case, e *domain.Event) error {
		audience, err := s.cfg.Policy.Audience(k.ctx, c, k.now)
		if err != nil {
			return domain.Internal(err)
		}
		e.ShareWith = audience
		var derr error
		_, e.RawData, derr = domain.DecodeData(domain.CaseErased, dr.raw, s.cfg.Policy.Directory(), "")
		return derr
	}
	if _, err := s.commit(k, caseID, dr); err != nil {
		return err
	}
	if err := s.cfg.Keys.Destroy(k.ctx, caseID); err != nil {
		return domain.Internal(err)
	}
	s.cfg.Codec.Forget(caseID)
	return nil
}
