package policies

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// cacheShards is the number of independently locked parts of a cache.
const cacheShards = 64

// cache holds decisions of one kind, keyed by everything they depend on, each
// valid over the span of time in which no consent or break-glass grant of its
// case can run out. Its memory is bounded: a shard that reaches its share of
// the entries is dropped whole, which costs nothing to track. Safe for
// concurrent use.
type cache[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard[V]
}

type cacheShard[V any] struct {
	mu sync.RWMutex
	m  map[string]cacheEntry[V]
}

// cacheEntry holds a decision made at from, valid until until (zero: no end).
type cacheEntry[V any] struct {
	v           V
	from, until int64
}

func newCache[V any](entries int) *cache[V] {
	c := &cache[V]{seed: maphash.MakeSeed(), perShard: max(1, entries/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry[V])
	}
	return c
}

func (c *cache[V]) shard(key []byte) *cacheShard[V] {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the decision stored under key if it holds at now. A decision made
// later than now is not used for an earlier time: something may have expired in
// between.
func (c *cache[V]) get(key []byte, now time.Time) (V, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[string(key)]
	s.mu.RUnlock()
	t := now.UnixNano()
	if !ok || t < e.from || (e.until != 0 && t >= e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v, made at now, until until (zero: no end).
func (c *cache[V]) put(key []byte, v V, now, until time.Time) {
	e := cacheEntry[V]{v: v, from: now.UnixNano()}
	if !until.IsZero() {
		e.until = until.UnixNano()
	}
	s := c.shard(key)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		s.m = make(map[string]cacheEntry[V], c.perShard)
	}
	s.m[string(key)] = e
	s.mu.Unlock()
}

// len counts the entries, for tests and metrics.
func (c *cache[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Decision kinds, the first byte of a cache key.
const (
	keyKindCase byte = iota + 1
	keyKindSection
	keyKindItem
)

// noCase stands for a nil case in keys; no PolicyKey is empty.
const noCase = ""

// readKey encodes everything a read decision depends on besides time and the
// bundle (each bundle has its own caches): the identity (roles sorted), the
// purpose, the case's policy key, and the section and item when there are
// some. Every part is length-prefixed, so no two queries share a key.
func readKey(buf []byte, kind byte, q ReadQuery, section domain.Section, it *Item) []byte {
	buf = append(buf, kind)
	buf = appendString(buf, q.Identity.Subject)
	buf = appendString(buf, q.Identity.Agency)
	buf = appendStrings(buf, q.Identity.Roles)
	buf = appendString(buf, q.Purpose)
	switch {
	case !exists(q.Case):
		buf = appendString(buf, noCase)
	case kind != keyKindCase:
		// Section and item decisions see only some facts of the case
		// (readFacts): key them by those.
		buf = appendString(buf, q.Case.FactsKey(readFacts(q, section)))
	case q.CaseKey != "":
		buf = appendString(buf, q.CaseKey)
	default:
		buf = appendString(buf, q.Case.PolicyKey())
	}
	if kind == keyKindCase {
		return buf
	}
	buf = appendString(buf, string(section))
	if it == nil {
		return buf
	}
	buf = appendString(buf, string(it.Type))
	buf = appendString(buf, it.Originator)
	buf = appendString(buf, string(it.Classification))
	return appendStrings(buf, it.ShareWith)
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendStrings appends a set of strings in sorted order.
func appendStrings(buf []byte, ss []string) []byte {
	if !slices.IsSorted(ss) {
		ss = slices.Sorted(slices.Values(ss))
	}
	buf = binary.AppendUvarint(buf, uint64(len(ss)))
	for _, s := range ss {
		buf = appendString(buf, s)
	}
	return buf
}

// keyBuffers recycles key buffers; keys are built on every read.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// cachedRead returns the decision cached under the key of (kind, q, section,
// it) when it holds at now, else computes it with decide and caches it until
// the case's next change. Errors are never cached.
func cachedRead[V any](c *cache[V], kind byte, q ReadQuery, section domain.Section, it *Item, now time.Time, decide func() (V, error)) (V, error) {
	if c == nil {
		return decide()
	}
	bp := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(bp)
	key := readKey((*bp)[:0], kind, q, section, it)
	*bp = key
	if v, ok := c.get(key, now); ok {
		return v, nil
	}
	v, err := decide()
	if err != nil {
		return v, err
	}
	var until time.Time
	if exists(q.Case) {
		// The policy sees instants to the second, so a grant ending at
		// 12:00:00.5 ends for it at 12:00:00.
		until = q.Case.NextChange(now).Truncate(time.Second)
	}
	c.put(key, v, now, until)
	return v, nil
}
