package projections

import (
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// Erasure statuses, as the register reports them.
const (
	ErasurePending   = "pending"   // waiting for a second officer, not yet lapsed
	ErasureExpired   = "expired"   // lapsed unconfirmed
	ErasureCancelled = "cancelled" // withdrawn by an officer
	ErasureConfirmed = "confirmed" // confirmed: the case was erased
	ErasureRetention = "retention" // erased by the retention job (without a request, or overtaking one)
)

// Erasure is one entry of the register of erasures: a request and what
// became of it, or an erasure by the retention job. It holds ids, codes and
// references, never case content, and outlives the case's content.
type Erasure struct {
	// RequestID is the request's id (the ErasureRequested event's id; the
	// CaseErased event's id for the retention job).
	RequestID string
	CaseID    string
	// LegalBasis and Reference are the officer's, as requested.
	LegalBasis, Reference string
	// RequestedBy is the officer who asked (organisation and subject).
	RequestedBy Officer
	RequestedAt time.Time
	ExpiresAt   time.Time
	// Status is one of the Erasure* statuses, as of the last event; Status
	// at a given time says whether a pending request has lapsed.
	Status string
	// DecidedBy and DecidedAt say who confirmed or cancelled, and when.
	DecidedBy Officer
	DecidedAt time.Time
}

// Officer names who acted on an erasure.
type Officer struct {
	Agency  string `json:"agency"`
	Subject string `json:"sub"`
}

// StatusAt returns the entry's status at now: a pending request past its
// expiry has lapsed.
func (e Erasure) StatusAt(now time.Time) string {
	if e.Status == ErasurePending && !now.Before(e.ExpiresAt) {
		return ErasureExpired
	}
	return e.Status
}

// register is the projection of the erasure events, in log order.
type register struct {
	entries []*Erasure
	byID    map[string]*Erasure
}

// apply folds one of the erasure's events (ErasureRequested,
// ErasureCancelled, CaseErased) into the register; other events are ignored.
func (r *register) apply(e domain.Event) {
	if r.byID == nil {
		r.byID = map[string]*Erasure{}
	}
	by := Officer{Agency: e.Originator, Subject: e.Author}
	switch d := e.Data.(type) {
	case domain.ErasureRequestedData:
		expires, _ := time.Parse(time.RFC3339, d.ExpiresAt)
		r.add(&Erasure{RequestID: e.ID, CaseID: e.CaseID, LegalBasis: d.LegalBasis, Reference: d.Reference,
			RequestedBy: by, RequestedAt: e.RecordedAt, ExpiresAt: expires.UTC(), Status: ErasurePending})
	case domain.ErasureCancelledData:
		r.decide(d.RequestID, ErasureCancelled, by, e.RecordedAt)
	case domain.CaseErasedData:
		if d.RequestID != "" && r.byID[d.RequestID] != nil {
			r.decide(d.RequestID, ErasureConfirmed, by, e.RecordedAt)
			return
		}
		// The retention job's: a request still pending on the case is
		// overtaken by it.
		for _, old := range r.entries {
			if old.CaseID == e.CaseID && old.Status == ErasurePending {
				r.decide(old.RequestID, ErasureRetention, by, e.RecordedAt)
			}
		}
		r.add(&Erasure{RequestID: e.ID, CaseID: e.CaseID, LegalBasis: d.LegalBasis, Reference: d.Reference,
			RequestedBy: by, RequestedAt: e.RecordedAt, Status: ErasureRetention, DecidedBy: by, DecidedAt: e.RecordedAt})
	}
}

func (r *register) add(e *Erasure) {
	r.entries = append(r.entries, e)
	r.byID[e.RequestID] = e
}

// decide records the outcome of a request; entries are replaced, never
// changed in place, so that copies handed out stay as they were.
func (r *register) decide(id, status string, by Officer, at time.Time) {
	old := r.byID[id]
	if old == nil {
		return
	}
	e := *old
	e.Status, e.DecidedBy, e.DecidedAt = status, by, at
	i := slices.Index(r.entries, old)
	r.entries[i] = &e
	r.byID[id] = &e
}

// Erasure returns the register's entry for a request id, and false if there
// is none.
func (p *Projector) Erasure(requestID string) (Erasure, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	e := p.erasures.byID[requestID]
	if e == nil {
		return Erasure{}, false
	}
	return *e, true
}

// Erasures returns the entries of the register for which keep holds, newest
// first.
func (p *Projector) Erasures(keep func(Erasure) bool) []Erasure {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []Erasure
	for i := len(p.erasures.entries) - 1; i >= 0; i-- {
		if e := *p.erasures.entries[i]; keep(e) {
			out = append(out, e)
		}
	}
	return out
}
