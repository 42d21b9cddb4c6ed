package hub

import (
	"context"
	"slices"
	"strconv"
	"strings"
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

// Erasure is one entry of the register of erasures as the hub shows it.
type Erasure struct {
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
	// Position is the opaque log position of the event this call appended
	// (request, confirmation, cancellation), to send back as
	// Liaison-Min-Position so that another replica answers after it; empty
	// on a listing.
	Position string `json:"position,omitempty"`
}

// erasureOf is e as the API answers it at now; position is that of the event
// the call appended ("" for a listing).
func erasureOf(e projections.Erasure, now time.Time, position string) Erasure {
	out := Erasure{
		RequestID: e.RequestID, CaseID: e.CaseID, Status: e.StatusAt(now), LegalBasis: e.LegalBasis,
		Reference: e.Reference, RequestedBy: e.RequestedBy, RequestedAt: domain.FormatTime(e.RequestedAt),
		Position: position,
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

// RequestErasure records a data-protection officer's request to erase a case
// (body {legal_basis, reference}), which another officer must confirm. It
// returns the pending request; KindInvalid naming the field at fault;
// KindNotFound to a caller that cannot see the case, exactly as for an unknown
// id; KindForbidden to one that sees it but may not erase; KindConflict when a
// request is pending already; KindGone for an erased case.
func (s *Service) RequestErasure(ctx context.Context, c *Call, caseID string, body []byte) (Erasure, error) {
	basis, reference, err := domain.ParseErasureRequest(body)
	if err != nil {
		return Erasure{}, err
	}
	c.Record.LegalBasis, c.Record.Reference = basis, reference
	var expires time.Time
	w, err := s.commit(ctx, c, caseID, draft{
		typ: domain.ErasureRequested, expected: -1, status: statusAccepted,
		finish: func(d policies.WriteDecision, _ *domain.Case, e *domain.Event) error {
			expires = c.Now.Add(d.ErasureFor).Truncate(time.Second)
			var err error
			_, e.RawData, err = domain.DecodeData(domain.ErasureRequested,
				mustJSON(domain.ErasureRequestedData{LegalBasis: basis, Reference: reference, ExpiresAt: domain.FormatTime(expires)}), s.cfg.Policy.Directory(), "")
			return err
		},
	})
	if err != nil {
		return Erasure{}, err
	}
	if w.replay != nil { // requested by an earlier call with this idempotency key
		if e, ok := s.cfg.Projector.Erasure(w.eventID); ok {
			return erasureOf(e, c.Now, w.out.Position), nil
		}
	}
	return Erasure{
		RequestID: w.eventID, CaseID: caseID, Status: projections.ErasurePending, LegalBasis: basis, Reference: reference,
		RequestedBy: projections.Officer{Agency: c.Identity.Agency, Subject: c.Identity.Subject},
		RequestedAt: domain.FormatTime(c.Now), ExpiresAt: domain.FormatTime(expires), Position: w.out.Position,
	}, nil
}

// pendingRequest finds the request a confirmation or cancellation names,
// once the protocol lets the caller decide requests at all (so that nobody
// else learns whether a request id exists).
func (s *Service) pendingRequest(ctx context.Context, c *Call, requestID string) (projections.Erasure, error) {
	if err := s.service(ctx, c, "erasure.decide"); err != nil {
		return projections.Erasure{}, err
	}
	if !s.cfg.Projector.Ready() {
		return projections.Erasure{}, errNotReady
	}
	e, ok := s.cfg.Projector.Erasure(requestID)
	if !ok {
		c.Record.Reasons = []string{"no such erasure request"}
		return e, domain.Errorf(domain.KindNotFound, "no such erasure request")
	}
	c.Record.CaseID, c.Record.LegalBasis, c.Record.Reference = e.CaseID, e.LegalBasis, e.Reference
	if e.Status != projections.ErasurePending {
		// Decided already (confirmed, cancelled) or the retention job's: the
		// request's own state answers, before its case's (erased, maybe).
		c.Record.Reasons = []string{"the erasure request is " + e.Status}
		return e, domain.Errorf(domain.KindConflict, "the erasure request is %s, no longer pending", e.Status)
	}
	return e, nil
}

// ConfirmErasure confirms a pending erasure request: a second officer's
// decision; the case is erased. It returns KindForbidden to a caller who may
// not decide requests (whatever the id) and to the requester, KindNotFound
// for an unknown request, KindConflict for one no longer pending (lapsed,
// cancelled, confirmed), KindGone when the case was erased meanwhile.
func (s *Service) ConfirmErasure(ctx context.Context, c *Call, requestID string) (Erasure, error) {
	req, err := s.pendingRequest(ctx, c, requestID)
	if err != nil {
		return Erasure{}, err
	}
	raw := mustJSON(domain.CaseErasedData{LegalBasis: req.LegalBasis, Reference: req.Reference, RequestID: req.RequestID})
	pos, err := s.eraseCase(ctx, c, req.CaseID, draft{typ: domain.CaseErased, raw: raw, requestID: req.RequestID, expected: -1, status: statusOK})
	if err != nil {
		return Erasure{}, err
	}
	req.Status, req.DecidedBy, req.DecidedAt = projections.ErasureConfirmed, projections.Officer{Agency: c.Identity.Agency, Subject: c.Identity.Subject}, c.Now
	return erasureOf(req, c.Now, pos), nil
}

// CancelErasure cancels a pending erasure request, with the errors of
// ConfirmErasure (the requester may cancel).
func (s *Service) CancelErasure(ctx context.Context, c *Call, requestID string) (Erasure, error) {
	req, err := s.pendingRequest(ctx, c, requestID)
	if err != nil {
		return Erasure{}, err
	}
	raw := mustJSON(domain.ErasureCancelledData{RequestID: req.RequestID})
	w, err := s.commit(ctx, c, req.CaseID, draft{typ: domain.ErasureCancelled, raw: raw, requestID: req.RequestID, expected: -1, status: statusOK})
	if err != nil {
		return Erasure{}, err
	}
	req.Status, req.DecidedBy, req.DecidedAt = projections.ErasureCancelled, projections.Officer{Agency: c.Identity.Agency, Subject: c.Identity.Subject}, c.Now
	return erasureOf(req, c.Now, w.out.Position), nil
}

// ErasureStatuses are the statuses the register can be filtered by ("all":
// every entry).
var ErasureStatuses = []string{"all", projections.ErasurePending, projections.ErasureExpired, projections.ErasureCancelled, projections.ErasureConfirmed, projections.ErasureRetention}

// Erasures answers the register of erasures, newest first: the entries of one
// status ("" or "all": every one) and one case ("": every case). It returns
// KindForbidden to a caller who may not read it, KindInvalid naming "status"
// for an unknown status.
func (s *Service) Erasures(ctx context.Context, c *Call, status, caseID string) ([]Erasure, error) {
	if err := s.service(ctx, c, "erasure.list"); err != nil {
		return nil, err
	}
	if status == "" {
		status = "all"
	}
	if !slices.Contains(ErasureStatuses, status) {
		return nil, domain.Invalid("invalid status", domain.FieldError{Field: "status", Message: "must be one of " + strings.Join(ErasureStatuses, ", ")})
	}
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	items := []Erasure{}
	for _, e := range s.cfg.Projector.Erasures(func(e projections.Erasure) bool { return caseID == "" || e.CaseID == caseID }) {
		if o := erasureOf(e, c.Now, ""); status == "all" || o.Status == status {
			items = append(items, o)
		}
	}
	return items, nil
}

// eraseCase appends CaseErased, recording in it which organisations could see
// the case (they will be told it is gone, everyone else that it does not
// exist), and destroys the case's key, so that none of its content can be read
// again. The projections destroy the key too as they apply the event, so an
// erasure cut short by a crash completes at the next start. It returns the
// opaque position of the CaseErased event.
func (s *Service) eraseCase(ctx context.Context, c *Call, caseID string, dr draft) (string, error) {
	dr.finish = func(_ policies.WriteDecision, cs *domain.Case, e *domain.Event) error {
		audience, err := s.cfg.Policy.Audience(ctx, cs, c.Now)
		if err != nil {
			return domain.Internal(err)
		}
		e.ShareWith = audience
		var derr error
		_, e.RawData, derr = domain.DecodeData(domain.CaseErased, dr.raw, s.cfg.Policy.Directory(), "")
		return derr
	}
	w, err := s.commit(ctx, c, caseID, dr)
	if err != nil {
		return "", err
	}
	if err := s.cfg.Keys.Destroy(ctx, caseID); err != nil {
		return "", domain.Internal(err)
	}
	s.cfg.Codec.Forget(caseID)
	return w.out.Position, nil
}

// ErasableCase is a case as an officer finds it to erase it: its id, when it
// was opened, whether it is closed and the request pending on it, if any —
// nothing of its content (docs/protocol.md, "Erasure (four eyes)": the
// officer reads no case content).
type ErasableCase struct {
	CaseID   string   `json:"case_id"`
	OpenedAt string   `json:"opened_at"`
	Closed   bool     `json:"closed"`
	Pending  *Erasure `json:"pending"`
}

// FindErasable answers the cases not yet erased whose id is caseID, or whose
// subject reference is subjectRef (without regard to case; one of the two is
// given), for an officer about to request an erasure. It returns
// KindForbidden to a caller who may not read the register of erasures and
// KindInvalid naming subject_ref when neither or both are given or the
// reference is not one.
func (s *Service) FindErasable(ctx context.Context, c *Call, caseID, subjectRef string) ([]ErasableCase, error) {
	if err := s.service(ctx, c, "erasure.list"); err != nil {
		return nil, err
	}
	subjectRef = strings.TrimSpace(subjectRef)
	switch msg := domain.CheckRef(subjectRef); {
	case (caseID == "") == (subjectRef == ""):
		return nil, domain.Invalid("invalid query", domain.FieldError{Field: "subject_ref", Message: "give either case_id or subject_ref"})
	case msg != "":
		return nil, domain.Invalid("invalid query", domain.FieldError{Field: "subject_ref", Message: msg})
	}
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	found := []ErasableCase{}
	take := func(v *projections.View) {
		if v == nil || v.Case.Erased {
			return
		}
		ec := ErasableCase{CaseID: v.Case.ID, OpenedAt: domain.FormatTime(v.Case.Profile.OpenedAt), Closed: v.Case.Closed}
		if r, ok := v.Case.PendingErasure(c.Now); ok {
			for _, e := range s.cfg.Projector.Erasures(func(e projections.Erasure) bool { return e.RequestID == r.ID }) {
				o := erasureOf(e, c.Now, "")
				ec.Pending = &o
			}
		}
		found = append(found, ec)
	}
	if caseID != "" {
		v, _ := s.cfg.Projector.Get(caseID)
		take(v)
	} else {
		s.cfg.Projector.Scan(0, func(v *projections.View) bool {
			if strings.EqualFold(v.Case.Profile.SubjectRef, subjectRef) {
				take(v)
			}
			return true
		})
	}
	c.Record.Reasons = append(c.Record.Reasons, "found "+strconv.Itoa(len(found))+" cases")
	if len(found) == 1 {
		c.Record.CaseID = found[0].CaseID
	}
	return found, nil
}
