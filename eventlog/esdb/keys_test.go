package esdb_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// TestKeyStoreIsSharedByReplicas runs against a server: two replicas (two Logs)
// share the case keys, agree on a key created by both at once, and see its
// destruction.
func TestKeyStoreIsSharedByReplicas(t *testing.T) {
	url := serverURL(t)
	w, err := keystore.NewWrapper(bytes.Repeat([]byte{5}, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	a, b := openLog(t, url).KeyStore(w), openLog(t, url).KeyStore(w)
	ctx := t.Context()
	caseID := "keytest-" + strings.ToLower(rand.Text())

	if _, err := a.Key(ctx, caseID, false); !errors.Is(err, keystore.ErrNoKey) {
		t.Fatalf("before any key: %v, want ErrNoKey", err)
	}
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ks := a
			if i%2 == 1 {
				ks = b
			}
			k, err := ks.Key(ctx, caseID, true)
			if err != nil {
				t.Errorf("replica %d: %v", i%2, err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("replicas created different keys for one case")
		}
	}
	if err := b.Destroy(ctx, caseID); err != nil {
		t.Fatal(err)
	}
	fresh := openLog(t, url).KeyStore(w) // no cache
	if _, err := fresh.Key(ctx, caseID, true); !errors.Is(err, keystore.ErrDestroyed) {
		t.Errorf("after destroy: %v, want ErrDestroyed", err)
	}
	if err := a.Destroy(ctx, caseID); err != nil {
		t.Errorf("destroying twice: %v", err)
	}
}
