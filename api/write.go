package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/policies"
)

type appendOut struct {
	CaseID   string `json:"case_id"`
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`
}

// maxDecideRetries bounds how often an append re-decides after the case moved
// under it (someone else appended between the decision and the write).
const maxDecideRetries = 8

// draft is an event on its way to the log.
type draft struct {
	typ            domain.EventType
	raw            []byte
	classification domain.TLP
	shareWith      []string
	justification  string
	// expected is the version the writer asked for, -1 if none.
	expected int64
	// finish may adjust the event from the decision (break-glass expiry).
	finish func(d policies.WriteDecision, e *domain.Event) error
	// decided, when set, replaces the policy's decision: for the hub's own
	// jobs (retention), which act under configuration, not under the sharing
	// protocol.
	decided *policies.WriteDecision
}

// commit decides and appends one event, and waits until the projections show
// it (read-your-writes). The decision is made on the case as the projections
// see it and the append expects exactly that version, so no event is ever
// written on a decision taken over a stale state: if the case moved, it decides
// again.
func (s *Server) commit(k *call, caseID string, dr draft) (appendOut, policies.WriteDecision, error) {
	for attempt := 0; ; attempt++ {
		var c *domain.Case
		if dr.typ != domain.CaseOpened {
			v, err := s.view(caseID)
			if err != nil {
				return appendOut{}, policies.WriteDecision{}, err
			}
			c = v.Case
		}
		var d policies.WriteDecision
		var err error
		if dr.decided != nil {
			d = *dr.decided
		} else {
			d, err = s.cfg.Policy.Append(k.ctx, policies.WriteQuery{
				Identity: k.id, Case: c, Type: dr.typ, Classification: dr.classification,
				ShareWith: dr.shareWith, Justification: dr.justification, Now: k.now,
			})
		}
		if err != nil || !d.Allow {
			if err == nil && d.Kind == domain.KindInvalid && len(d.Errors) > 0 {
				k.deny(d.Decision, nil)
				return appendOut{}, d, domain.Invalid("the request breaks a rule of the protocol", d.Errors...)
			}
			return appendOut{}, d, k.deny(d.Decision, err)
		}
		k.allow(d.Decision)
		var current domain.Case
		if c != nil {
			current = *c
		}
		if err := current.CheckAppend(dr.typ); err != nil {
			k.rec.Decision = "deny"
			return appendOut{}, d, err
		}
		expected := int64(current.Version)
		if dr.expected >= 0 && dr.expected != expected {
			k.rec.Decision = "deny"
			return appendOut{}, d, domain.Errorf(domain.KindConflict, "the case is at version %d, not %d", current.Version, dr.expected)
		}
		e := domain.Event{
			ID: codec.NewUUID(), CaseID: caseID, Type: dr.typ, Originator: k.id.Agency, Author: k.id.Subject,
			Classification: d.Classification, ShareWith: d.ShareWith, SchemaVersion: domain.SchemaVersion,
			CorrelationID: k.rec.RequestID, RawData: dr.raw,
		}
		if dr.finish != nil {
			if err := dr.finish(d, &e); err != nil {
				return appendOut{}, d, err
			}
		}
		le, err := s.cfg.Codec.Encode(k.ctx, e)
		if err != nil {
			return appendOut{}, d, err
		}
		res, err := s.cfg.Log.Append(k.ctx, caseID, expected, le)
		if errors.Is(err, eventlog.ErrConflict) {
			if dr.expected >= 0 || attempt >= maxDecideRetries {
				k.rec.Decision = "deny"
				return appendOut{}, d, domain.Errorf(domain.KindConflict, "the case changed; read it again")
			}
			// The projection lags the log, or someone appended meanwhile: wait
			// for the projection to reach the log's head and decide again.
			if head, herr := s.cfg.Log.Head(k.ctx); herr == nil {
				_ = s.cfg.Projector.WaitFor(k.ctx, head.Commit)
			}
			continue
		}
		if err != nil {
			return appendOut{}, d, domain.Internal(err)
		}
		s.cfg.Metrics.appended(string(dr.typ))
		if err := s.cfg.Projector.WaitFor(k.ctx, res.Position.Commit); err != nil {
			return appendOut{}, d, domain.Internal(err)
		}
		return appendOut{CaseID: caseID, Version: res.Version, Position: res.Position.Commit}, d, nil
	}
}

func (s *Server) openCase(k *call) (int, any, error) {
	_, raw, err := domain.ParseOpenRequest(k.body, s.cfg.Policy.Directory())
	if err != nil {
		return 0, nil, err
	}
	id := codec.NewUUID()
	k.rec.CaseID = id
	out, _, err := s.commit(k, id, draft{typ: domain.CaseOpened, raw: raw, expected: -1})
	if err != nil {
		if domain.KindOf(err) != domain.KindForbidden && domain.KindOf(err) != domain.KindInvalid {
			k.rec.CaseID = ""
		}
		return 0, nil, err
	}
	return http.StatusCreated, out, nil
}

func (s *Server) appendEvent(k *call) (int, any, error) {
	req, err := domain.ParseAppendRequest(k.body, s.cfg.Policy.Directory())
	if err != nil {
		return 0, nil, err
	}
	out, _, err := s.commit(k, k.c.Param("id"), draft{
		typ: req.Type, raw: req.RawData, classification: req.Classification,
		shareWith: req.ShareWith, expected: req.ExpectedVersion,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, out, nil
}

func (s *Server) breakGlass(k *call) (int, any, error) {
	justification, err := domain.ParseSingleText(k.body, "justification")
	if err != nil {
		return 0, nil, err
	}
	var expires time.Time
	_, _, err = s.commit(k, k.c.Param("id"), draft{
		typ: domain.BreakGlassInvoked, justification: justification, expected: -1,
		finish: func(d policies.WriteDecision, e *domain.Event) error {
			expires = k.now.Add(d.BreakGlassFor).Truncate(time.Second)
			_, raw, err := domain.DecodeData(domain.BreakGlassInvoked,
				mustJSON(domain.BreakGlassData{Justification: justification, ExpiresAt: domain.FormatTime(expires)}), s.cfg.Policy.Directory(), "")
			e.RawData = raw
			return err
		},
	})
	if err != nil {
		return 0, nil, err
	}
	k.rec.BreakGlass = true
	return http.StatusCreated, struct {
		ExpiresAt string `json:"expires_at"`
	}{domain.FormatTime(expires)}, nil
}

func (s *Server) erase(k *call) (int, any, error) {
	basis, err := domain.ParseSingleText(k.body, "legal_basis")
	if err != nil {
		return 0, nil, err
	}
	_, raw, err := domain.DecodeData(domain.CaseErased, mustJSON(domain.CaseErasedData{LegalBasis: basis}), s.cfg.Policy.Directory(), "")
	if err != nil {
		return 0, nil, err
	}
	out, err := s.eraseCase(k, k.c.Param("id"), raw, nil)
	if err != nil {
		return 0, nil, err
	}
	k.rec.Reasons = append(k.rec.Reasons, "legal basis: "+clip(basis))
	return http.StatusOK, struct {
		appendOut
		Erased bool `json:"erased"`
	}{out, true}, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs of strings
	}
	return b
}

// eraseCase appends CaseErased (data raw) and destroys the case's key, so that
// none of its content can be read again. The projections destroy the key too
// as they apply the event, so an erasure cut short by a crash completes at the
// next start.
func (s *Server) eraseCase(k *call, caseID string, raw []byte, decided *policies.WriteDecision) (appendOut, error) {
	out, _, err := s.commit(k, caseID, draft{typ: domain.CaseErased, raw: raw, expected: -1, decided: decided})
	if err != nil {
		return out, err
	}
	if err := s.cfg.Keys.Destroy(k.ctx, out.CaseID); err != nil {
		return out, domain.Internal(err)
	}
	s.cfg.Codec.Forget(out.CaseID)
	return out, nil
}
