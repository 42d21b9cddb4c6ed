package hub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Idempotent calls (docs/api.md, "Retrying safely"). A caller that sends a
// request with an idempotency key (the API's Idempotency-Key header) may send
// it again, after a timeout or a lost connection, without fear of doing it
// twice:
//
//   - The same key and the same request from the same caller (issuer,
//     subject, organisation) get the first answer again, status and body, as
//     long as it is remembered (Config.IdempotencyTTL, 24 h by default): the
//     answers of successful calls are kept in the hub's KV, durably, so a
//     restart keeps them. The replay leaves its own access record, noting
//     "idempotent replay of request <id>".
//   - The same key with another request (method, path or body) is refused,
//     KindUnprocessable; the same key while its first call still runs,
//     KindConflict.
//   - The key is carried into the log: the event a call appends gets an id,
//     and a case it opens a case id, derived from the caller and the key
//     (a keyed hash, under the token key the replicas share). A retry whose
//     answer is not remembered (the first call failed after its append, or
//     the hub crashed before it answered, or the retry reaches another
//     replica, whose KV is its own on EventStoreDB) finds its event in the
//     case and answers from it; one decided before its replica saw the event
//     appends it at the same version with the same id, which the log
//     deduplicates (both backends). Either way the effect happens once.
//
// Failed calls are not remembered: they changed nothing (or, if they did,
// the log holds it), and a retry runs again.

// DefaultIdempotencyTTL is how long an answer is remembered unless
// Config.IdempotencyTTL says otherwise.
const DefaultIdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the length limit of an idempotency key (bytes).
const MaxIdempotencyKey = 255

// IdempotencyField names the idempotency key in the errors about it.
const IdempotencyField = "Idempotency-Key"

// Errors of idempotent calls.
var (
	errKeyReused = &domain.Error{Kind: domain.KindUnprocessable,
		Message: "this Idempotency-Key was used for another request: use a new key for a new request",
		Fields:  []domain.FieldError{{Field: IdempotencyField, Message: "was used with another method, path or body"}}}
	errKeyInFlight = &domain.Error{Kind: domain.KindConflict,
		Message: "a request with this Idempotency-Key is still being processed; try again",
		Fields:  []domain.FieldError{{Field: IdempotencyField, Message: "a request with this key is in flight"}}}
)

// Replay is an answer remembered for an idempotency key, to be sent again as
// it was: its status and its body (JSON).
type Replay struct {
	Status int
	Body   []byte
}

// remembered is an answer as the KV keeps it.
type remembered struct {
	Request   []byte    `json:"request"` // the fingerprint of the request
	Status    int       `json:"status"`
	Body      []byte    `json:"body"`
	RequestID string    `json:"request_id"`
	CaseID    string    `json:"case_id,omitempty"`
	Expires   time.Time `json:"expires"`
}

// idemClaim is an idempotent call in flight (Call.idem).
type idemClaim struct {
	id       [16]byte // the key's identity in the KV and among flights
	request  [32]byte // the fingerprint of the request
	event    [16]byte // the id of the event the call appends
	caseID   string   // the id of the case the call opens
	consumed bool     // the event id was used by a commit
}

// idempotency is the Service's state of idempotent calls.
type idempotency struct {
	mu      sync.Mutex
	flights map[[16]byte][32]byte // calls in flight: key identity → fingerprint
	swept   time.Time             // the last sweep of expired answers
}

// KV layout: the answer under idemAnswers + the key's identity (hex); an
// index entry under idemExpiry + its expiry (Unix seconds, big endian) + the
// identity, so that expired answers are swept in order.
var (
	idemAnswers = []byte("idem/a/")
	idemExpiry  = []byte("idem/x/")
)

// sweepEvery bounds how often a finished call sweeps expired answers.
const sweepEvery = 10 * time.Minute

// derive returns a keyed hash (under the token key, which replicas share) of
// label and parts: the same on every replica, unpredictable without the key.
func (s *Service) derive(label string, parts ...string) [32]byte {
	m := hmac.New(sha256.New, s.tokens.nonce)
	m.Write([]byte("liaison idempotency " + label))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// uuid8 makes a UUID (version 8, RFC 9562: custom) of a hash.
func uuid8(h [32]byte) [16]byte {
	var id [16]byte
	copy(id[:], h[:16])
	id[6] = id[6]&0x0f | 0x80
	id[8] = id[8]&0x3f | 0x80
	return id
}

// Idempotent begins an idempotent call: key is the caller's idempotency key
// (1 to MaxIdempotencyKey bytes), request what identifies the request (its
// method, path and body; compared by a hash). It returns the answer to replay
// when the same caller sent the same request with that key before and the
// answer is remembered (the call's record then notes the replay); nil when
// the call must run, which it then does under the key (its event id, the id
// of a case it opens) until FinishIdempotent. It returns KindInvalid naming
// the key for a key of the wrong length, KindUnprocessable when the key was
// used with another request, KindConflict when a call with the key is in
// flight.
func (s *Service) Idempotent(ctx context.Context, c *Call, key string, request []byte) (*Replay, error) {
	if len(key) == 0 || len(key) > MaxIdempotencyKey {
		return nil, domain.Invalid("invalid idempotency key", domain.FieldError{Field: IdempotencyField, Message: "must be 1 to 255 characters"})
	}
	id := c.Identity
	scope := []string{id.Issuer, id.Subject, id.Agency, key}
	h := s.derive("key", scope...)
	var claim idemClaim
	copy(claim.id[:], h[:16])
	claim.request = sha256.Sum256(request)
	s.idem.mu.Lock()
	defer s.idem.mu.Unlock()
	if s.idem.flights == nil {
		s.idem.flights = map[[16]byte][32]byte{}
	}
	if fp, ok := s.idem.flights[claim.id]; ok {
		if fp != claim.request {
			return nil, errKeyReused
		}
		return nil, errKeyInFlight
	}
	if r, ok, err := s.answerOf(ctx, claim.id); err != nil {
		return nil, domain.Internal(err)
	} else if ok {
		if !bytes.Equal(r.Request, claim.request[:]) {
			return nil, errKeyReused
		}
		c.Record.Decision = accesslog.Allow
		c.Record.Reasons = append(c.Record.Reasons, clip("idempotent replay of request "+r.RequestID))
		if r.CaseID != "" {
			c.Record.CaseID = r.CaseID
		}
		return &Replay{Status: r.Status, Body: r.Body}, nil
	}
	s.idem.flights[claim.id] = claim.request
	claim.event = uuid8(s.derive("event", scope...))
	claim.caseID = domain.FormatID(uuid8(s.derive("case", scope...)))
	c.idem = &claim
	return nil, nil
}

// answerOf returns the answer remembered under id, unless expired.
func (s *Service) answerOf(ctx context.Context, id [16]byte) (remembered, bool, error) {
	if s.cfg.KV == nil {
		return remembered{}, false, nil
	}
	b, ok, err := s.cfg.KV.Get(ctx, idemAnswerKey(id))
	if err != nil || !ok {
		return remembered{}, false, err
	}
	var r remembered
	if err := json.Unmarshal(b, &r); err != nil || !s.Now().Before(r.Expires) {
		return remembered{}, false, nil // unreadable or expired: as if none
	}
	return r, true, nil
}

// FinishIdempotent ends an idempotent call that Idempotent let run: a
// successful answer (2xx), status and body as sent, is remembered for
// Config.IdempotencyTTL; any other is not. It does nothing for a call
// without a key. A failure to remember is logged, not returned: the effect
// is in the log, where a retry finds it.
func (s *Service) FinishIdempotent(ctx context.Context, c *Call, status int, body []byte) {
	claim := c.idem
	if claim == nil {
		return
	}
	defer func() {
		s.idem.mu.Lock()
		delete(s.idem.flights, claim.id)
		s.idem.mu.Unlock()
	}()
	if status < 200 || status > 299 || s.cfg.KV == nil {
		return
	}
	ttl := s.cfg.IdempotencyTTL
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	r := remembered{Request: claim.request[:], Status: status, Body: body, RequestID: c.Record.RequestID,
		CaseID: c.Record.CaseID, Expires: s.Now().Add(ttl).UTC()}
	b, err := json.Marshal(r)
	if err == nil {
		err = s.cfg.KV.Write(ctx, true,
			eventlog.KVOp{Key: idemAnswerKey(claim.id), Value: b},
			eventlog.KVOp{Key: idemExpiryKey(r.Expires, claim.id), Value: []byte{}})
	}
	if err != nil {
		s.log.Warn("an idempotent answer was not remembered; a retry will be answered from the log", "request_id", c.Record.RequestID, "err", err)
	}
	s.idem.mu.Lock()
	sweep := s.Now().Sub(s.idem.swept) >= sweepEvery
	if sweep {
		s.idem.swept = s.Now()
	}
	s.idem.mu.Unlock()
	if sweep {
		go s.SweepIdempotency(context.WithoutCancel(ctx))
	}
}

// SweepIdempotency deletes the answers whose time is over and returns how
// many. Finished calls run it now and then; expired answers are never
// replayed anyway.
func (s *Service) SweepIdempotency(ctx context.Context) (int, error) {
	if s.cfg.KV == nil {
		return 0, nil
	}
	now := s.Now().Unix()
	var ops []eventlog.KVOp
	n := 0
	for kv, err := range s.cfg.KV.Scan(ctx, idemExpiry, nil) {
		if err != nil {
			return n, err
		}
		rest := kv.Key[len(idemExpiry):]
		if len(rest) != 8+16 || int64(binary.BigEndian.Uint64(rest)) > now {
			break
		}
		ops = append(ops, eventlog.KVOp{Key: bytes.Clone(kv.Key), Delete: true},
			eventlog.KVOp{Key: idemAnswerKey([16]byte(rest[8:])), Delete: true})
		n++
		if len(ops) >= 512 {
			if err := s.cfg.KV.Write(ctx, false, ops...); err != nil {
				return n, err
			}
			ops = ops[:0]
		}
	}
	if len(ops) > 0 {
		if err := s.cfg.KV.Write(ctx, false, ops...); err != nil {
			return n, err
		}
	}
	return n, nil
}

func idemAnswerKey(id [16]byte) []byte {
	return append(bytes.Clone(idemAnswers), hex.EncodeToString(id[:])...)
}

func idemExpiryKey(at time.Time, id [16]byte) []byte {
	k := binary.BigEndian.AppendUint64(bytes.Clone(idemExpiry), uint64(at.Unix()))
	return append(k, id[:]...)
}

// eventIDFor returns the id of the event a commit of c appends: the one the
// call's idempotency key gives its first commit, a random one otherwise;
// chosen once per commit, so that every attempt of the append carries it.
func (s *Service) eventIDFor(c *Call) string {
	if c.idem != nil && !c.idem.consumed {
		c.idem.consumed = true
		return domain.FormatID(c.idem.event)
	}
	var id [16]byte
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return domain.FormatID(id)
}

// caseIDFor returns the id of a case c opens: given by its idempotency key,
// random otherwise.
func (s *Service) caseIDFor(c *Call) string {
	if c.idem != nil {
		return c.idem.caseID
	}
	return domain.NewID()
}

// replayed looks for the event eventID in the case: there when an earlier
// call with the same idempotency key appended it (or an attempt of this
// commit whose outcome was unknown did). It answers as that append did: the
// case, its version in the caller's view up to the event, and the event's
// position, noting in the record whose request it was; ok is false when the
// event is not in the case. v is the case's view (nil: none yet).
func (s *Service) replayed(ctx context.Context, c *Call, caseID string, v *projections.View, eventID string, dr draft) (w written, ok bool, err error) {
	if v == nil {
		if v, ok = s.cfg.Projector.Get(caseID); !ok {
			return written{}, false, nil
		}
	}
	want, err := domain.ParseID(eventID)
	if err != nil {
		return written{}, false, nil
	}
	var item *projections.Item
	for i := range v.Items {
		if v.Items[i].ID == want {
			item = &v.Items[i]
			break
		}
	}
	if item == nil {
		return written{}, false, nil
	}
	var ev domain.Event
	var pos uint64
	for r, err := range s.cfg.Log.ReadStream(ctx, caseID, item.Version) {
		if err != nil {
			return written{}, false, domain.Internal(err)
		}
		if ev, err = s.cfg.Codec.Decode(ctx, r); err != nil {
			return written{}, false, err
		}
		pos = r.Position.Commit
		break
	}
	c.Record.Decision, c.Record.Status = accesslog.Allow, dr.status
	if ev.CorrelationID != c.Record.RequestID {
		c.Record.Reasons = append(c.Record.Reasons, clip("idempotent replay of request "+ev.CorrelationID))
	}
	out := Appended{CaseID: caseID, Position: s.tokens.sealUint(tokenPosition, "", pos)}
	if out.Version, err = s.writerVersionAt(ctx, c, v, item.Version); err != nil {
		return written{}, false, domain.Internal(err)
	}
	return written{out: out, eventID: eventID, replay: &ev}, true, nil
}

// writerVersionAt is the number of events of the writer's view of v up to
// version (the case's version in its view right after that event).
func (s *Service) writerVersionAt(ctx context.Context, c *Call, v *projections.View, version uint64) (uint64, error) {
	purposes := s.cfg.Policy.Purposes(c.Identity.Agency)
	if len(purposes) == 0 || v == nil {
		return 0, nil
	}
	rv, err := s.viewOf(ctx, policies.ReadQuery{Identity: c.Identity, Purpose: purposes[0], Now: c.Now}, v)
	if err != nil || !rv.dec.Allow {
		return 0, err
	}
	n := uint64(0)
	for _, vi := range rv.items {
		if vi.it.Version <= version {
			n++
		}
	}
	return n, nil
}
