package codec

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// blockingKeys is a key store whose Key can be held, to land a destruction
// between a key's read and its caching.
type blockingKeys struct {
	mu        sync.Mutex
	destroyed bool
	reads     int
	hold      chan struct{} // when set, Key waits for it after reading
	read      chan struct{} // told when Key has read
}

func (k *blockingKeys) Key(_ context.Context, _ string, _ bool) ([]byte, error) {
	k.mu.Lock()
	k.reads++
	destroyed, hold, read := k.destroyed, k.hold, k.read
	k.mu.Unlock()
	if destroyed {
		return nil, keystore.ErrDestroyed
	}
	if hold != nil {
		read <- struct{}{}
		<-hold
	}
	return make([]byte, 32), nil
}

func (k *blockingKeys) Destroy(context.Context, string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.destroyed = true
	return nil
}

// TestAKeyDestroyedWhileBeingReadIsNotCached (issue 22, defect 3): the key is
// read, then destroyed and forgotten, then the read completes: the codec does
// not keep it, and the next use finds the case erased.
func TestAKeyDestroyedWhileBeingReadIsNotCached(t *testing.T) {
	keys := &blockingKeys{hold: make(chan struct{}), read: make(chan struct{})}
	c := New(keys)
	done := make(chan error, 1)
	go func() {
		_, err := c.aead(t.Context(), "case-1", false)
		done <- err
	}()
	<-keys.read
	_ = keys.Destroy(t.Context(), "case-1")
	c.Forget("case-1")
	close(keys.hold)
	if err := <-done; err != nil {
		t.Fatalf("the read in flight: %v", err)
	}
	if c.aeads.get("case-1") != nil {
		t.Fatal("the key destroyed during its read is cached")
	}
	if _, err := c.aead(t.Context(), "case-1", false); domain.KindOf(err) != domain.KindGone {
		t.Errorf("after the destruction: %v, want the case gone", err)
	}
}

// TestCachedKeysExpire: an instance is used for CacheTTL at most, then the
// key store is asked again (a key destroyed by another replica leaves this
// one's memory even if nothing tells it).
func TestCachedKeysExpire(t *testing.T) {
	keys := &blockingKeys{}
	c := New(keys)
	now := time.Now()
	c.aeads.now = func() time.Time { return now }
	if _, err := c.aead(t.Context(), "case-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.aead(t.Context(), "case-1", false); err != nil || keys.reads != 1 {
		t.Fatalf("a cached key was read again (%d reads), %v", keys.reads, err)
	}
	_ = keys.Destroy(t.Context(), "case-1")
	now = now.Add(CacheTTL)
	if _, err := c.aead(t.Context(), "case-1", false); domain.KindOf(err) != domain.KindGone || keys.reads != 2 {
		t.Errorf("past CacheTTL: %d reads, %v; want a second read, the case gone", keys.reads, err)
	}
}
