package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Appended answers an append: the case, its version in the writer's view
// after the append, and the position the append reached as an opaque token
// (for WaitFor: a client reads its write through any hub replica).
type Appended struct {
	CaseID   string `json:"case_id"`
	Version  uint64 `json:"version"`
	Position string `json:"position"`
}

// Success statuses an access record notes for writes: those of the API.
const (
	statusOK       = 200
	statusCreated  = 201
	statusAccepted = 202
)

// maxDecideRetries bounds how often an append re-decides after the case moved
// under it (someone else appended between the decision and the write).
const maxDecideRetries = 8

// draft is an event on its way to the log.
type draft struct {
	typ            domain.EventType
	raw            []byte
	data           domain.Data // typed, of an append through the events endpoint, for the order rules (checkOrder); nil for the hub's own events
	classification domain.TLP
	shareWith      []string
	justification  string
	requestID      string
	// expected is the version the writer asked for (in its view), -1 if none.
	expected int64
	// status is the status the access record, committed with the event,
	// notes when the append succeeds (statusCreated unless said otherwise).
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
	out     Appended
	eventID string
	// replay is the event found in the case, when the call's idempotency
	// key had appended it already (replayed): nothing was appended.
	replay *domain.Event
}

// commit decides and appends one event, with the call's access record, and
// waits until the projections show it (read-your-writes). The decision is made
// on the case as the projections see it and the append expects exactly that
// version, so no event is ever written on a decision taken over a stale state:
// if the case moved, it decides again. A writer's expected_version is checked
// against its own view of the case (docs/protocol.md, "What a reader can
// infer").
//
// The access record, allow and the draft's status, is made durable with the
// event: in the same commit where the log can (eventlog.RecordingLog), else
// right after it (Record) under the caller's context, which the caller keeps
// from its client's cancellation.
func (s *Service) commit(ctx context.Context, c *Call, caseID string, dr draft) (written, error) {
	if dr.status == 0 {
		dr.status = statusCreated
	}
	// One event id for every attempt: a retry of an append whose outcome
	// was lost is then deduplicated by the log (hub/idempotency.go).
	eventID := s.eventIDFor(c)
	for attempt := 0; ; attempt++ {
		var v *projections.View
		var cs *domain.Case
		if dr.typ != domain.CaseOpened {
			var err error
			if v, err = s.view(caseID); err != nil {
				return written{}, err
			}
			cs = v.Case
		}
		if w, ok, err := s.replayed(ctx, c, caseID, v, eventID, dr); ok || err != nil {
			return w, err
		}
		var d policies.WriteDecision
		var err error
		if dr.decided != nil {
			d = *dr.decided
		} else {
			d, err = s.cfg.Policy.Append(ctx, policies.WriteQuery{
				Identity: c.Identity, Case: cs, Type: dr.typ, Classification: dr.classification,
				ShareWith: dr.shareWith, Justification: dr.justification, RequestID: dr.requestID, Now: c.Now,
			})
		}
		if err != nil || !d.Allow {
			if err == nil && d.Kind == domain.KindInvalid && len(d.Errors) > 0 {
				deny(c, d.Decision, nil)
				return written{}, domain.Invalid("the request breaks a rule of the protocol", d.Errors...)
			}
			return written{}, deny(c, d.Decision, err)
		}
		allow(c, d.Decision)
		var current domain.Case
		if cs != nil {
			current = *cs
		}
		if err := current.CheckAppend(dr.typ); err != nil {
			c.Record.Decision = accesslog.Deny
			return written{}, err
		}
		if dr.expected >= 0 {
			seen, err := s.writerVersion(ctx, c, v)
			if err != nil {
				return written{}, domain.Internal(err)
			}
			if int64(seen) != dr.expected {
				c.Record.Decision = accesslog.Deny
				return written{}, domain.Errorf(domain.KindConflict, "the case is at version %d in your view, not %d: read it again", seen, dr.expected)
			}
		}
		// The order rules, over the writer's view (hub/order.go): after
		// expected_version, so that a stale writer is told to read again.
		if dr.data != nil {
			if err := s.checkOrder(ctx, c, v, dr.typ, dr.data); err != nil {
				c.Record.Decision = accesslog.Deny
				if rule := domain.OrderRuleOf(err); rule != "" {
					c.Record.Reasons = []string{"order rule " + rule}
				}
				return written{}, err
			}
		}
		e := domain.Event{
			ID: eventID, CaseID: caseID, Type: dr.typ, Originator: c.Identity.Agency, Author: c.Identity.Subject,
			Classification: d.Classification, ShareWith: d.ShareWith, SchemaVersion: domain.SchemaVersion,
			CorrelationID: c.Record.RequestID, RawData: dr.raw,
		}
		if dr.finish != nil {
			if err := dr.finish(d, cs, &e); err != nil {
				return written{}, err
			}
		}
		le, err := s.cfg.Codec.Encode(ctx, e)
		if err != nil {
			return written{}, err
		}
		c.Record.Decision, c.Record.Status = accesslog.Allow, dr.status
		res, err := s.appendRecorded(ctx, c, caseID, int64(current.Version), le)
		if errors.Is(err, eventlog.ErrConflict) {
			if dr.expected >= 0 || attempt >= maxDecideRetries {
				c.Record.Decision = accesslog.Deny
				return written{}, domain.Errorf(domain.KindConflict, "the case changed; read it again")
			}
			// The projection lags the log, or someone appended meanwhile: wait
			// for the projection to reach the log's head and decide again.
			if head, herr := s.cfg.Log.Head(ctx); herr == nil {
				_ = s.cfg.Projector.WaitFor(ctx, head.Commit)
			}
			continue
		}
		if err != nil {
			return written{}, storeError(err)
		}
		if s.cfg.OnAppend != nil {
			s.cfg.OnAppend(dr.typ)
		}
		if err := s.cfg.Projector.WaitFor(ctx, res.Position.Commit); err != nil {
			return written{}, domain.Internal(err)
		}
		out := Appended{CaseID: caseID, Position: s.tokens.sealUint(tokenPosition, "", res.Position.Commit)}
		if after, ok := s.cfg.Projector.Get(caseID); ok {
			if out.Version, err = s.writerVersion(ctx, c, after); err != nil {
				return written{}, domain.Internal(err)
			}
		}
		return written{out: out, eventID: e.ID}, nil
	}
}

// appendRecorded appends one event expecting the case at version expected,
// with the call's access record: in the same commit when the log can, in
// which case the call is recorded. On a conflict nothing is written.
func (s *Service) appendRecorded(ctx context.Context, c *Call, caseID string, expected int64, le eventlog.Event) (eventlog.Appended, error) {
	rl, ok := s.cfg.Log.(eventlog.RecordingLog)
	if !ok {
		res, err := s.cfg.Log.Append(ctx, caseID, expected, le)
		if err == nil {
			// The record follows at once, under the same context.
			if rerr := s.Record(ctx, c); rerr != nil {
				s.log.Error("an event was appended but its access record is not durable", "request_id", c.Record.RequestID, "err", rerr)
			}
		}
		return res, err
	}
	var res eventlog.Appended
	_, err := s.cfg.Access.AppendWith(c.Record, func(record []byte) (uint64, error) {
		var first uint64
		var err error
		res, first, err = rl.AppendWithRecords(ctx, caseID, expected, []eventlog.Event{le}, [][]byte{record})
		return first, err
	})
	if err == nil {
		c.recorded = true
	}
	return res, err
}

// OpenCase opens a case with the CaseOpened data body (validated here). It
// returns the new case's Appended, a KindInvalid error naming the fields at
// fault, or KindForbidden when the protocol refuses the caller.
func (s *Service) OpenCase(ctx context.Context, c *Call, body []byte) (Appended, error) {
	_, raw, err := domain.ParseOpenRequest(body, s.cfg.Policy.Directory())
	if err != nil {
		return Appended{}, err
	}
	id := s.caseIDFor(c)
	c.Record.CaseID = id
	w, err := s.commit(ctx, c, id, draft{typ: domain.CaseOpened, raw: raw, expected: -1})
	if err != nil {
		if k := domain.KindOf(err); k != domain.KindForbidden && k != domain.KindInvalid {
			c.Record.CaseID = ""
		}
		return Appended{}, err
	}
	return w.out, nil
}

// Append appends the event an append body describes (validated here) to a
// case. It returns KindInvalid naming the fields at fault, KindNotFound for a
// case the caller cannot see, KindGone for an erased one, KindForbidden when
// the protocol refuses, KindConflict for a stale expected_version or a case
// that takes no more events.
func (s *Service) Append(ctx context.Context, c *Call, caseID string, body []byte) (Appended, error) {
	req, err := domain.ParseAppendRequest(body, s.cfg.Policy.Directory())
	if err != nil {
		return Appended{}, err
	}
	w, err := s.commit(ctx, c, caseID, draft{
		typ: req.Type, raw: req.RawData, data: req.Data, classification: req.Classification,
		shareWith: req.ShareWith, expected: req.ExpectedVersion,
	})
	return w.out, err
}

// BreakGlass grants the caller emergency read access to a case for the time
// the protocol gives, on a stated justification (body {justification}), and
// returns when it ends. Its errors are those of Append.
func (s *Service) BreakGlass(ctx context.Context, c *Call, caseID string, body []byte) (BreakGlassGrant, error) {
	justification, err := domain.ParseSingleText(body, "justification")
	if err != nil {
		return BreakGlassGrant{}, err
	}
	// The justification is part of the record (LED art. 25), whatever the
	// decision.
	c.Record.Justification = clipText(justification)
	c.Record.BreakGlass = true
	var expires time.Time
	w, err := s.commit(ctx, c, caseID, draft{
		typ: domain.BreakGlassInvoked, justification: justification, expected: -1,
		finish: func(d policies.WriteDecision, _ *domain.Case, e *domain.Event) error {
			expires = c.Now.Add(d.BreakGlassFor).Truncate(time.Second)
			var err error
			_, e.RawData, err = domain.DecodeData(domain.BreakGlassInvoked,
				mustJSON(domain.BreakGlassData{Justification: justification, ExpiresAt: domain.FormatTime(expires)}), s.cfg.Policy.Directory(), "")
			return err
		},
	})
	if err == nil && w.replay != nil { // the grant an earlier call with this idempotency key made
		if d, ok := w.replay.Data.(domain.BreakGlassData); ok {
			expires, _ = time.Parse(time.RFC3339, d.ExpiresAt)
		} else if d, ok := w.replay.Data.(*domain.BreakGlassData); ok {
			expires, _ = time.Parse(time.RFC3339, d.ExpiresAt)
		}
	}
	return BreakGlassGrant{ExpiresAt: domain.FormatTime(expires), Position: w.out.Position}, err
}

// BreakGlassGrant is the answer to a break-glass call: when the grant ends,
// and, when the call appended it, its position in the case log, as an
// append's (Appended.Position): another replica given it in
// Liaison-Min-Position answers once it knows the grant.
type BreakGlassGrant struct {
	ExpiresAt string `json:"expires_at"`
	Position  string `json:"position,omitempty"`
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
