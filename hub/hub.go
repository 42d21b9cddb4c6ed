// Package hub is the hub's application layer: its use cases — open a case,
// append to it, break the glass, read a case, a section, its events or the
// list of cases, request, confirm or cancel an erasure, apply retention,
// answer statistics — each taking a Call (who asks, why, when) and returning
// domain values and domain errors.
//
// It decides nothing itself: the sharing protocol is asked of the policy
// (policies), the views come from the projections, events go to the log
// through the codec. What it owns is the order of those steps and the
// guarantees between them: a write is decided on the state it is appended to,
// every answer is computed over the caller's own view of the case
// (docs/protocol.md, "What a reader can infer"), and the access record of a
// write is durable no later than the write.
//
// Its callers are the HTTP API (api), which translates requests and answers,
// and the hub's own jobs (retention, the demo loader): none of them reaches
// the log, the policy or the projections but through it.
package hub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Config wires a Service. Log, Projector, Codec, Keys, Policy and Access are
// required.
type Config struct {
	Log       eventlog.Log
	Projector *projections.Projector
	Codec     *codec.Codec
	Keys      keystore.Store
	Policy    *policies.Authorizer
	Access    *accesslog.Log
	// Audit answers the oversight body's questions about the access log.
	Audit AuditLog
	// KV keeps the webhook subscriptions and their delivery logs (nil: no
	// webhooks).
	KV     eventlog.KV
	Logger *slog.Logger
	// Clock is the hub's clock (time.Now when nil).
	Clock func() time.Time
	// TokenKey seals the opaque tokens the hub hands out (positions, list
	// cursors), TokenKeySize bytes; hub replicas share it. Nil: a random key,
	// valid for this process only.
	TokenKey []byte
	// StatusOf gives the status an access record notes for an outcome: the
	// API's statuses, so that the records of the hub's own jobs read like
	// those of API calls (nil: 0).
	StatusOf func(error) int
	// OnAppend, when set, is told the type of every event appended (metrics).
	OnAppend func(domain.EventType)
	// IdempotencyTTL is how long the answer of a call with an idempotency
	// key is remembered (0: DefaultIdempotencyTTL; hub/idempotency.go).
	IdempotencyTTL time.Duration
	// WebhookBackoff is the wait after a webhook's first failed delivery,
	// doubled at each failure in a row (0: one second).
	WebhookBackoff time.Duration
	// Monitor is the privacy monitor of the access log, whose alerts
	// auditors list and change (nil: none; hub/monitor.go).
	Monitor *Monitor
}

// Service runs the use cases. It is safe for concurrent use.
type Service struct {
	cfg      Config
	log      *slog.Logger
	tokens   *sealer
	answers  *answerCache
	feedMemo feedMemo
	// feedShare shares a page among the calls of one reader at one cursor.
	feedShare feedShare
	// histories caches the cases' histories the feed replays.
	histories histories
	webhooks  webhooks
	idem      idempotency
	// reviewing serialises the reviews of break-glass use (ReviewBreakGlass).
	reviewing sync.Mutex
}

// New returns a service. It returns an error when the configuration cannot
// work (a token key of the wrong size).
func New(cfg Config) (*Service, error) {
	tokens, err := newSealer(cfg.TokenKey)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, log: cfg.Logger, tokens: tokens, answers: newAnswerCache()}, nil
}

// Call is one request to the hub: who asks, for what purpose, when, and the
// access record it leaves (docs/protocol.md, "Access records"). Use cases fill
// in the record's decision, reasons and what they withheld; the record of a
// write is made durable with the write itself, which Recorded then says; the
// caller completes every other record with its status and has it appended
// (Service.Record) before it answers.
type Call struct {
	// Identity is who asks.
	Identity domain.Identity
	// Purpose is the purpose stated for a read ("" for writes).
	Purpose string
	// Now is the time of the call.
	Now time.Time
	// Record is the call's access record.
	Record *accesslog.Record
	// recorded says the record is durable (with a write, or by Record).
	recorded bool
	// idem is the call's idempotency key, if it has one (Idempotent).
	idem *idemClaim
}

// NewCall returns a call of id for purpose at now, with a fresh access record
// for action.
func NewCall(id domain.Identity, purpose string, now time.Time, requestID, action string) *Call {
	rec := &accesslog.Record{
		Time: now, RequestID: requestID, Action: action, Issuer: id.Issuer,
		Sub: id.Subject, Agency: id.Agency, Roles: id.Roles, Purpose: purpose,
	}
	return &Call{Identity: id, Purpose: purpose, Now: now, Record: rec}
}

// Recorded reports whether the call's access record is durable already (it
// went with a write).
func (c *Call) Recorded() bool { return c.recorded }

// Revision returns the revision of the policy in force, for a record made
// before any decision.
func (s *Service) Revision() string { return s.cfg.Policy.Revision() }

// Now returns the hub's time.
func (s *Service) Now() time.Time { return s.cfg.Clock() }

// Close completes the call's access record with the outcome of its use case
// — status, and err when it failed (the decision becomes a deny, with a
// content-free reason unless the use case gave one) — and makes it durable
// (Record), unless it is durable already (a write's). The caller must not
// answer when it returns an error.
func (s *Service) Close(ctx context.Context, c *Call, status int, err error) error {
	if c.recorded {
		return nil
	}
	rec := c.Record
	if err != nil {
		rec.Decision = accesslog.Deny
		if len(rec.Reasons) == 0 {
			rec.Reasons = []string{Reason(err)}
		}
	}
	if rec.Decision == "" {
		rec.Decision = accesslog.Allow
	}
	rec.Status = status
	return s.Record(ctx, c)
}

// Record appends the call's access record as it stands, durably, unless it is
// durable already. The caller must not answer when it returns an error.
func (s *Service) Record(ctx context.Context, c *Call) error {
	if c.recorded {
		return nil
	}
	if c.Record.PolicyRevision == "" {
		c.Record.PolicyRevision = s.cfg.Policy.Revision()
	}
	if _, err := s.cfg.Access.Append(ctx, c.Record); err != nil {
		return err
	}
	c.recorded = true
	return nil
}

// statusOf is the status a record notes for an error (Config.StatusOf).
func (s *Service) statusOf(err error) int {
	if s.cfg.StatusOf == nil {
		return 0
	}
	return s.cfg.StatusOf(err)
}

// Directory returns the organisation directory of the policy in force.
func (s *Service) Directory() domain.Directory { return s.cfg.Policy.Directory() }

// Ready reports whether the views have caught up with the log.
func (s *Service) Ready() bool { return s.cfg.Projector.Ready() }

// WaitFor waits, up to ctx, until the views include the position a token of
// this hub (an append's Position) names: read-your-writes across replicas.
// It returns a KindInvalid error naming field for a token this hub's key did
// not seal, and a KindUnavailable one when the position is not reached in
// time.
func (s *Service) WaitFor(ctx context.Context, token, field string) error {
	pos, err := s.tokens.openUint(tokenPosition, "", token)
	if err != nil {
		return domain.Invalid("invalid position", domain.FieldError{Field: field, Message: "must be a position an append of this hub returned"})
	}
	if err := s.cfg.Projector.WaitFor(ctx, pos); err != nil {
		return errBehind
	}
	return nil
}

// Errors the use cases answer with.
var (
	errNoCase   = domain.Errorf(domain.KindNotFound, "no such case")
	errNotReady = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub is starting: its views are catching up with the log; try again"}
	errBehind   = &domain.Error{Kind: domain.KindUnavailable, Message: "this hub has not yet caught up with the position asked for; try again"}
)

// view returns the current view of a case. A malformed id is simply an
// unknown case.
func (s *Service) view(id string) (*projections.View, error) {
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	if !domain.IsID(id) {
		return nil, errNoCase
	}
	v, ok := s.cfg.Projector.Get(id)
	if !ok {
		return nil, errNoCase
	}
	return v, nil
}

// service asks the policy whether the caller may use a service that is not
// case content (the access log, statistics, the erasure register).
func (s *Service) service(ctx context.Context, c *Call, action string) error {
	d, err := s.cfg.Policy.Service(ctx, c.Identity, c.Purpose, action)
	if err != nil || !d.Allow {
		return deny(c, d, err)
	}
	allow(c, d)
	return nil
}

// deny turns a refusal into the error the caller sees, and notes it in the
// access record. evalErr is the policy's evaluation error, if any: the
// decision is then a deny whatever it says, and the caller learns nothing of
// the error.
func deny(c *Call, d policies.Decision, evalErr error) error {
	c.Record.Decision, c.Record.Reasons, c.Record.PolicyRevision = accesslog.Deny, d.Reasons, d.Revision
	if evalErr != nil {
		c.Record.Reasons = []string{"policy evaluation failed: deny"}
		return domain.Errorf(domain.KindForbidden, "the sharing protocol does not allow this")
	}
	switch d.Kind {
	case domain.KindNotFound:
		return errNoCase
	case domain.KindGone:
		return domain.Errorf(domain.KindGone, "the case was erased")
	case domain.KindInvalid:
		return domain.Invalid("the request breaks a rule of the protocol")
	case domain.KindConflict:
		return domain.Errorf(domain.KindConflict, "the case does not accept this event in its state")
	}
	// A refusal on a case the caller can see: say which rules refused.
	msg := "the sharing protocol does not allow this"
	for i, r := range d.Reasons {
		if i == 0 {
			msg += ": "
		} else {
			msg += "; "
		}
		msg += r
	}
	return domain.Errorf(domain.KindForbidden, "%s", msg)
}

func allow(c *Call, d policies.Decision) {
	c.Record.Reasons, c.Record.PolicyRevision = d.Reasons, d.Revision
}

// Reason gives an access record a short, content-free reason for an error:
// its kind and the first field at fault, or its message; never the text of
// an internal error.
func Reason(err error) string {
	var e *domain.Error
	if errors.As(err, &e) {
		if e.Kind == domain.KindInternal {
			return "internal error"
		}
		if len(e.Fields) > 0 {
			return clip(e.Kind.String() + ": " + e.Fields[0].Field)
		}
		return clip(e.Kind.String() + ": " + e.Message)
	}
	return "internal error"
}

// clip bounds what an untrusted caller can put into an access record.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
