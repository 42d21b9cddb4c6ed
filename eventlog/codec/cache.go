package codec

import (
	"crypto/cipher"

	lru "github.com/hashicorp/golang-lru/v2"
)

// aeadCache keeps the AES-GCM instances of the most recently used cases, at
// most a fixed number of them (least recently used first out). An unbounded
// cache held one instance per case ever read (≈ 40 MiB at 50k cases;
// docs/targets.md, P8).
type aeadCache struct {
	c *lru.Cache[string, cipher.AEAD]
}

func newAEADCache(max int) *aeadCache {
	c, err := lru.New[string, cipher.AEAD](max)
	if err != nil {
		panic(err) // max <= 0: a programming error
	}
	return &aeadCache{c: c}
}

// get returns the case's AES-GCM, or nil, and marks it as just used.
func (a *aeadCache) get(caseID string) cipher.AEAD {
	v, _ := a.c.Get(caseID)
	return v
}

// put adds (or replaces) the case's AES-GCM, dropping the least recently used
// one when the cache is full.
func (a *aeadCache) put(caseID string, v cipher.AEAD) { a.c.Add(caseID, v) }

// remove drops the case's AES-GCM, if cached.
func (a *aeadCache) remove(caseID string) { a.c.Remove(caseID) }

// len returns the number of cached instances.
func (a *aeadCache) len() int { return a.c.Len() }
