package hub

import (
	"context"
	"strconv"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// RetentionSubject and RetentionAgency name the hub's retention job in the
// access log and as the author of the CaseErased events it appends.
const (
	RetentionSubject = "liaison:retention"
	RetentionAgency  = "liaison-hub"
)

// ApplyRetention erases every case closed more than after ago: it appends
// CaseErased with the legal basis "retention-expired" and destroys the case
// key, each with its access record (action case.erase, sub liaison:retention).
// Retention is the deployment's configuration, not a sharing rule, so the
// protocol's write table is not asked, nor a second officer. It returns how
// many cases it erased, and the first error that stopped it.
func (s *Service) ApplyRetention(ctx context.Context, after time.Duration) (int, error) {
	if !s.cfg.Projector.Ready() {
		return 0, errNotReady
	}
	cutoff := s.cfg.Clock().Add(-after)
	var due []string
	s.cfg.Projector.Scan(0, func(v *projections.View) bool {
		if v.Case.Closed && !v.Case.Erased && !v.Case.Profile.ClosedAt.IsZero() && v.Case.Profile.ClosedAt.Before(cutoff) {
			due = append(due, v.Case.ID)
		}
		return true
	})
	raw := mustJSON(domain.CaseErasedData{LegalBasis: domain.LegalBasisRetention})
	erased := 0
	for _, id := range due {
		if err := ctx.Err(); err != nil {
			return erased, err
		}
		start := s.cfg.Clock()
		reasons := []string{"retention: closed more than " + strconv.Itoa(int(after.Hours()/24)) + " days ago"}
		c := NewCall(domain.Identity{Subject: RetentionSubject, Agency: RetentionAgency, Roles: []string{"retention"}}, "", start,
			"retention-"+strconv.FormatInt(start.UnixNano(), 36), "case.erase")
		c.Record.CaseID, c.Record.LegalBasis = id, domain.LegalBasisRetention
		decided := &policies.WriteDecision{Decision: policies.Decision{Allow: true, Reasons: reasons}, Classification: domain.TLPGreen}
		_, err := s.eraseCase(ctx, c, id, draft{typ: domain.CaseErased, raw: raw, expected: -1, status: statusOK, decided: decided})
		status := statusOK
		if err != nil {
			status = s.statusOf(err)
			c.Record.Reasons = append(reasons, Reason(err))
		}
		if rerr := s.Close(ctx, c, status, err); rerr != nil {
			return erased, rerr
		}
		if err != nil && domain.KindOf(err) != domain.KindGone {
			return erased, err
		}
		if err == nil {
			erased++
		}
	}
	return erased, nil
}
