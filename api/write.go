package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// appendOut answers an append: the case, its version in the writer's view
// after the append, and the position the append reached as an opaque token
// (for Liaison-Min-Position).
type appendOut struct {
	CaseID   string `json:"case_id"`
	Version  uint64 `json:"version"`
	Position string `json:"position"`
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
	requestID      string
	// expected is the version the writer asked for (in its view), -1 if none.
	expected int64
	// status is the answer's status when the append succeeds (201 unless
	// said otherwise): the access record, committed with the event, says it.
	status int
	// finish may adjust the event from the decision and the case it was taken
	// on (break-glass expiry, erasure request expiry, erasure audience).
	finish func(d policies.WriteDecision, c *domain.Case, e *domain.Event) error
	// decided, when set, replaces the policy's decision: for the hub's own
	// jobs (retention), which act under configuration, not under the sharing
	// protocol.
	decided *policies.WriteDecision
}

// written is what commit reports of an append.
type written struct {
	out      appendOut
	eventID  string
	decision policies.WriteDecision
}

// commit decides and appends one event, with the call's access record, and
// waits until the projections show it (read-your-writes). The decision is made
// on the case as the projections see it and the append expects exactly that
// version, so no event is ever written on a decision taken over a stale state:
// if the case moved, it decides again. A writer's expected_version is checked
// against its own view of the case (docs/protocol.md, non-interference).
//
// The access record, allow and the draft's status, is made durable with the
// event: in the same commit where the log can (eventlog.RecordingLog), else
// right after it under the call's context, which the client cannot cancel.
func (s *Server) commit(k *call, caseID string, dr draft) (written, error) {
	if dr.status == 0 {
		dr.status = http.StatusCreated
	}
	for attempt := 0; ; attempt++ {
		var v *projections.View
		var c *domain.Case
		if dr.typ != domain.CaseOpened {
			var err error
			if v, err = s.view(caseID); err != nil {
				return written{}, err
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
				ShareWith: dr.shareWith, Justification: dr.justification, RequestID: dr.requestID, Now: k.now,
			})
		}
		if err != nil || !d.Allow {
			if err == nil && d.Kind == domain.KindInvalid && len(d.Errors) > 0 {
				k.deny(d.Decision, nil)
				return written{decision: d}, domain.Invalid("the request breaks a rule of the protocol", d.Errors...)
			}
			return written{decision: d}, k.deny(d.Decision, err)
		}
		k.allow(d.Decision)
		var current domain.Case
		if c != nil {
			current = *c
		}
		if err := current.CheckAppend(dr.typ); err != nil {
			k.rec.Decision = accesslog.Deny
			return written{decision: d}, err
		}
		if dr.expected >= 0 {
			seen, err := s.writerVersion(k.ctx, k, v)
			if err != nil {
				return written{decision: d}, domain.Internal(err)
			}
			if int64(seen) != dr.expected {
				k.rec.Decision = accesslog.Deny
				return written{decision: d}, domain.Errorf(domain.KindConflict, "the case is at version %d in your view, not %d: read it again", seen, dr.expected)
			}
		}
		e := domain.Event{
			ID: codec.NewUUID(), CaseID: caseID, Type: dr.typ, Originator: k.id.Agency, Author: k.id.Subject,
			Classification: d.Classification, ShareWith: d.ShareWith, SchemaVersion: domain.SchemaVersion,
			CorrelationID: k.rec.RequestID, RawData: dr.raw,
		}
		if dr.finish != nil {
			if err := dr.finish(d, c, &e); err != nil {
				return written{decision: d}, err
			}
		}
		le, err := s.cfg.Codec.Encode(k.ctx, e)
		if err != nil {
			return written{decision: d}, err
		}
		k.rec.Decision, k.rec.Status = accesslog.Allow, dr.status
		res, err := s.appendRecorded(k, caseID, int64(current.Version), le)
		if errors.Is(err, eventlog.ErrConflict) {
			if dr.expected >= 0 || attempt >= maxDecideRetries {
				k.rec.Decision = accesslog.Deny
				return written{decision: d}, domain.Errorf(domain.KindConflict, "the case changed; read it again")
			}
			// The projection lags the log, or someone appended meanwhile: wait
			// for the projection to reach the log's head and decide again.
			if head, herr := s.cfg.Log.Head(k.ctx); herr == nil {
				_ = s.cfg.Projector.WaitFor(k.ctx, head.Commit)
			}
			continue
		}
		if err != nil {
			return written{decision: d}, domain.Internal(err)
		}
		s.cfg.Metrics.appended(string(dr.typ))
		if err := s.cfg.Projector.WaitFor(k.ctx, res.Position.Commit); err != nil {
			return written{decision: d}, domain.Internal(err)
		}
		out := appendOut{CaseID: caseID, Position: s.tokens.sealUint(tokenPosition, "", res.Position.Commit)}
		if after, ok := s.cfg.Projector.Get(caseID); ok {
			if out.Version, err = s.writerVersion(k.ctx, k, after); err != nil {
				return written{decision: d}, domain.Internal(err)
			}
		}
		return written{out: out, eventID: e.ID, decision: d}, nil
	}
}

// appendRecorded appends one event expecting the case at version expected,
// with the call's access record: in the same commit when the log can, in
// which case it marks the call recorded. On a conflict nothing is written.
func (s *Server) appendRecorded(k *call, caseID string, expected int64, le eventlog.Event) (eventlog.Appended, error) {
	rl, ok := s.cfg.Log.(eventlog.RecordingLog)
	if !ok {
		// The record follows (route) under the call's context, which the
		// client cannot cancel.
		return s.cfg.Log.Append(k.ctx, caseID, expected, le)
	}
	var res eventlog.Appended
	_, err := s.cfg.Access.AppendWith(&k.rec, func(record []byte) (uint64, error) {
		var first uint64
		var err error
		res, first, err = rl.AppendWithRecords(k.ctx, caseID, expected, []eventlog.Event{le}, [][]byte{record})
		return first, err
	})
	if err == nil {
		k.recorded = true
	}
	return res, err
}

func (s *Server) openCase(k *call) (int, any, error) {
	_, raw, err := domain.ParseOpenRequest(k.body, s.cfg.Policy.Directory())
	if err != nil {
		return 0, nil, err
	}
	id := codec.NewUUID()
	k.rec.CaseID = id
	w, err := s.commit(k, id, draft{typ: domain.CaseOpened, raw: raw, expected: -1})
	if err != nil {
		if domain.KindOf(err) != domain.KindForbidden && domain.KindOf(err) != domain.KindInvalid {
			k.rec.CaseID = ""
		}
		return 0, nil, err
	}
	return http.StatusCreated, w.out, nil
}

func (s *Server) appendEvent(k *call) (int, any, error) {
	req, err := domain.ParseAppendRequest(k.body, s.cfg.Policy.Directory())
	if err != nil {
		return 0, nil, err
	}
	w, err := s.commit(k, k.c.Param("id"), draft{
		typ: req.Type, raw: req.RawData, classification: req.Classification,
		shareWith: req.ShareWith, expected: req.ExpectedVersion,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, w.out, nil
}

func (s *Server) breakGlass(k *call) (int, any, error) {
	justification, err := domain.ParseSingleText(k.body, "justification")
	if err != nil {
		return 0, nil, err
	}
	// The justification is part of the record (LED art. 25), whatever the
	// decision.
	k.rec.Justification = clipText(justification)
	k.rec.BreakGlass = true
	var expires time.Time
	_, err = s.commit(k, k.c.Param("id"), draft{
		typ: domain.BreakGlassInvoked, justification: justification, expected: -1,
		finish: func(d policies.WriteDecision, _ *domain.Case, e *domain.Event) error {
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
	return http.StatusCreated, struct {
		ExpiresAt string `json:"expires_at"`
	}{domain.FormatTime(expires)}, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs of strings
	}
	return b
}

// maxRecordText bounds a text an official stated that goes into an access
// record (a break-glass justification).
const maxRecordText = 2000

func clipText(s string) string {
	if len(s) > maxRecordText {
		return s[:maxRecordText]
	}
	return s
}
