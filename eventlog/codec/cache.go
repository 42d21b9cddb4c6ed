package codec

import (
	"crypto/cipher"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// aeadCache keeps the AES-GCM instances of the most recently used cases, at
// most a fixed number of them (least recently used first out), each for at
// most a fixed time. An unbounded cache held one instance per case ever read
// (≈ 40 MiB at 50k cases; docs/targets.md, P8); the time bound lets a key
// destroyed elsewhere (another hub replica's erasure) leave this one's
// memory even if nothing tells it.
//
// A key destroyed while it is being read must not come back into the cache:
// remove advances a generation, and an instance built from a key read under
// an older generation is not kept (putIf).
type aeadCache struct {
	mu  sync.Mutex
	c   *simplelru.LRU[string, aeadEntry]
	gen uint64
	ttl time.Duration
	now func() time.Time
}

type aeadEntry struct {
	a       cipher.AEAD
	expires time.Time
}

func newAEADCache(max int, ttl time.Duration) *aeadCache {
	c, err := simplelru.NewLRU[string, aeadEntry](max, nil)
	if err != nil {
		panic(err) // max <= 0: a programming error
	}
	return &aeadCache{c: c, ttl: ttl, now: time.Now}
}

// get returns the case's AES-GCM, or nil, and marks it as just used. An
// expired instance is dropped.
func (a *aeadCache) get(caseID string) cipher.AEAD {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.c.Get(caseID)
	if !ok {
		return nil
	}
	if !a.now().Before(e.expires) {
		a.c.Remove(caseID)
		return nil
	}
	return e.a
}

// generation returns the current generation, to pass to putIf.
func (a *aeadCache) generation() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

// put adds (or replaces) the case's AES-GCM, dropping the least recently used
// one when the cache is full, and the expired ones at the old end.
func (a *aeadCache) put(caseID string, v cipher.AEAD) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.putLocked(caseID, v)
}

// putIf is put unless an instance was removed since gen: the key v was built
// from may have been destroyed meanwhile.
func (a *aeadCache) putIf(caseID string, v cipher.AEAD, gen uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen {
		return false
	}
	a.putLocked(caseID, v)
	return true
}

func (a *aeadCache) putLocked(caseID string, v cipher.AEAD) {
	now := a.now()
	for {
		_, e, ok := a.c.GetOldest()
		if !ok || now.Before(e.expires) {
			break
		}
		a.c.RemoveOldest()
	}
	a.c.Add(caseID, aeadEntry{a: v, expires: now.Add(a.ttl)})
}

// remove drops the case's AES-GCM, if cached, and advances the generation.
func (a *aeadCache) remove(caseID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	a.c.Remove(caseID)
}

// len returns the number of cached instances.
func (a *aeadCache) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.c.Len()
}
