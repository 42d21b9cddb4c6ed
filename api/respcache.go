package api

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"

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

// answerKey names an answer: the call, the case version, the reader and what it
// asked.
func answerKey(k *call, v *projections.View, what string) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString(k.rec.Action)
	b.WriteByte(0)
	b.WriteString(what)
	b.WriteByte(0)
	b.WriteString(v.Case.ID)
	b.WriteByte(0)
	b.WriteString(strconv.FormatUint(v.Case.Version, 10))
	b.WriteByte(0)
	b.WriteString(k.rec.PolicyRevision)
	b.WriteByte(0)
	b.WriteString(k.id.Agency)
	b.WriteByte(0)
	b.WriteString(k.id.Subject)
	for _, r := range k.id.Roles {
		b.WriteByte(0)
		b.WriteString(r)
	}
	b.WriteByte(0)
	b.WriteString(k.purpose)
	return b.String()
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
