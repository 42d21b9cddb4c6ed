package hub

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/projections"
)

// Answer is a read's result, encoded once: the JSON of a CaseSummary, a
// SectionView or an EventsView. Answers of case reads are cached and served
// again to the same reader (see answerCache), so the bytes are made once per
// case version and reader.
//
// An answer keeps its bytes only, not the value they encode, nor the spare
// capacity of the buffer that encoded them: the answer cache holds thousands,
// and the values took more room than their bytes (a heap profile of P8's
// load, BENCHMARKS.md, "P8's peak, analysed").
type Answer struct {
	// JSON is the answer's encoding, ending with a newline.
	JSON []byte
}

// newAnswer encodes v.
func newAnswer(v any) (*Answer, error) {
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			encodeBuffers.Put(buf)
		}
	}()
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, domain.Internal(err)
	}
	return &Answer{JSON: bytes.Clone(buf.Bytes())}, nil
}

// encodeBuffers are newAnswer's buffers, reused: each answer takes an exact
// copy of what one encoded. A buffer grown beyond maxPooledBuffer (the events
// of a long case) is left to the collector rather than kept.
var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

// answerCache keeps the answers of case reads, rendered for one reader: the
// same reader asking the same thing of the same case version, under the same
// policy revision, before any instant at which time alone could change the
// answer (NextChange: a consent or break-glass expiry), gets the same answer.
// Each call still leaves its own access record, with the decision the answer
// carries.
//
// Its memory is bounded: each shard is emptied when it holds maxPerShard
// answers.
type answerCache struct {
	seed   maphash.Seed
	shards [answerShards]answerShard
}

const (
	answerShards = 16
	maxPerShard  = 1024
)

type answerShard struct {
	mu sync.Mutex
	m  map[string]*cached
}

// cached is one answer and what its access record must say.
type cached struct {
	answer     *Answer
	decision   string
	reasons    []string
	withheld   int
	breakGlass bool
	revision   string
	until      time.Time // zero: no time limit
}

func newAnswerCache() *answerCache {
	c := &answerCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]*cached{}
	}
	return c
}

// appendAnswerKey appends the name of an answer to b: what was asked (kind
// and argument), the case version, the policy and the reader. Every part is
// length-prefixed, so that no two different readers or questions share a key
// whatever their strings hold. The caller builds it in a buffer of its own,
// and a cache hit allocates nothing.
func appendAnswerKey(b []byte, c *Call, v *projections.View, revision, kind, arg string) []byte {
	b = appendKey(b, kind)
	b = appendKey(b, arg)
	b = appendKey(b, v.Case.ID)
	b = binary.AppendUvarint(b, v.Case.Version)
	b = appendKey(b, revision)
	b = appendIdentity(b, c.Identity)
	b = appendKey(b, c.Purpose)
	return b
}

// appendKey appends s to a key, length first.
func appendKey(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendIdentity appends an identity to a key: issuer, organisation, subject
// and roles, each length-prefixed.
func appendIdentity(b []byte, id domain.Identity) []byte {
	b = appendKey(b, id.Issuer)
	b = appendKey(b, id.Agency)
	b = appendKey(b, id.Subject)
	b = binary.AppendUvarint(b, uint64(len(id.Roles)))
	for _, r := range id.Roles {
		b = appendKey(b, r)
	}
	return b
}

func (c *answerCache) shard(key []byte) *answerShard {
	return &c.shards[maphash.Bytes(c.seed, key)%answerShards]
}

// get returns the answer under key if it still holds at now.
func (c *answerCache) get(key []byte, now time.Time) (*cached, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	a, ok := sh.m[string(key)] // no copy: the compiler reads the map with key's bytes
	sh.mu.Unlock()
	if !ok || !a.until.IsZero() && !now.Before(a.until) {
		return nil, false
	}
	return a, true
}

func (c *answerCache) put(key []byte, a *cached) {
	sh := c.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= maxPerShard {
		sh.m = make(map[string]*cached, maxPerShard)
	}
	sh.m[string(key)] = a
	sh.mu.Unlock()
}

// cachedRead serves a read of case version v (kind, with its argument) from
// the answer cache, or computes it with compute, encodes it, and keeps it. Refusals are never
// cached (they are cheap: the decisions themselves are cached by the policy).
func (s *Service) cachedRead(c *Call, v *projections.View, kind, arg string, compute func() (any, error)) (*Answer, error) {
	revision := s.cfg.Policy.Revision()
	var buf [256]byte
	key := appendAnswerKey(buf[:0], c, v, revision, kind, arg)
	rec := c.Record
	if a, ok := s.answers.get(key, c.Now); ok {
		rec.Decision, rec.Reasons, rec.Withheld = a.decision, a.reasons, a.withheld
		rec.BreakGlass, rec.PolicyRevision = a.breakGlass, a.revision
		return a.answer, nil
	}
	value, err := compute()
	if err != nil {
		return nil, err
	}
	ans, err := newAnswer(value)
	if err != nil {
		return nil, err
	}
	s.answers.put(key, &cached{
		answer: ans, decision: rec.Decision, reasons: rec.Reasons, withheld: rec.Withheld,
		breakGlass: rec.BreakGlass, revision: rec.PolicyRevision, until: v.Case.NextChange(c.Now),
	})
	return ans, nil
}
