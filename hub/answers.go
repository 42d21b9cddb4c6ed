package api

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

// answerCache keeps the answers of case reads, rendered for one reader: the same
// reader asking the same thing of the same case version, under the same policy
// revision, before any instant at which time alone could change the answer
// (NextChange: a consent or break-glass expiry), gets the same bytes. Each call
// still writes its own access record, with the decision the answer carries.
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
	m  map[string]*answer
}

// answer is one rendered answer and what its access record must say.
type answer struct {
	body       []byte
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
		c.shards[i].m = map[string]*answer{}
	}
	return c
}

// answerKey names an answer: the call, the case version, the policy, the
// reader and what it asked. Every part is length-prefixed, so that no two
// different readers or questions share a key whatever their strings hold.
func answerKey(k *call, v *projections.View, what string) string {
	b := make([]byte, 0, 160)
	b = appendKey(b, k.rec.Action)
	b = appendKey(b, what)
	b = appendKey(b, v.Case.ID)
	b = binary.AppendUvarint(b, v.Case.Version)
	b = appendKey(b, k.rec.PolicyRevision)
	b = appendIdentity(b, k.id)
	b = appendKey(b, k.purpose)
	return string(b)
}

// appendKey appends s to a cache key, length first.
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

func (c *answerCache) shard(key string) *answerShard {
	return &c.shards[maphash.String(c.seed, key)%answerShards]
}

// get returns the answer under key if it still holds at now.
func (c *answerCache) get(key string, now time.Time) (*answer, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	a, ok := sh.m[key]
	sh.mu.Unlock()
	if !ok || !a.until.IsZero() && !now.Before(a.until) {
		return nil, false
	}
	return a, true
}

func (c *answerCache) put(key string, a *answer) {
	sh := c.shard(key)
	sh.mu.Lock()
	if len(sh.m) >= maxPerShard {
		sh.m = make(map[string]*answer, maxPerShard)
	}
	sh.m[key] = a
	sh.mu.Unlock()
}

// cachedRead serves a successful read from the answer cache, or computes it
// with compute, renders it, and keeps it. Refusals are never cached (they are
// cheap: the decisions themselves are cached by the policy).
func (s *Server) cachedRead(k *call, v *projections.View, what string, compute func() (int, any, error)) (int, any, error) {
	key := answerKey(k, v, what)
	if a, ok := s.answers.get(key, k.now); ok {
		k.rec.Decision, k.rec.Reasons, k.rec.Withheld = a.decision, a.reasons, a.withheld
		k.rec.BreakGlass, k.rec.PolicyRevision = a.breakGlass, a.revision
		return 200, a.body, nil
	}
	status, body, err := compute()
	if err != nil || status != 200 {
		return status, body, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return 0, nil, err
	}
	a := &answer{
		body: buf.Bytes(), decision: k.rec.Decision, reasons: k.rec.Reasons, withheld: k.rec.Withheld,
		breakGlass: k.rec.BreakGlass, revision: k.rec.PolicyRevision, until: v.Case.NextChange(k.now),
	}
	s.answers.put(key, a)
	return status, a.body, nil
}
