package hsm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/keystore/hsm"
	"github.com/liaison-hub/liaison/eventlog/keystore/hsm/hsmtest"
)

// The master key lives in the token, cannot leave it, and wraps case keys
// there, bound to their case; a second generation (a rotation) is a new
// current key beside the first.
func TestMasterKeyInSoftHSM(t *testing.T) {
	cfg := hsmtest.Token(t, "liaison-test", "1234")
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if _, err := tok.Current(false); err == nil {
		t.Error("an empty token has a current master")
	}
	m1, err := tok.Current(true)
	if err != nil {
		t.Fatal(err)
	}
	if m1.ID() != "p11:liaison-master-1" {
		t.Errorf("first master %s", m1.ID())
	}
	if ext, err := tok.Extractable(m1); err != nil || ext {
		t.Errorf("the master key is extractable (%v, %v): it must stay in the token", ext, err)
	}
	key := make([]byte, keystore.KeySize)
	rand.Read(key)
	wrapped, err := m1.Wrap("case-1", key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, key) {
		t.Fatal("the wrapped key holds the key")
	}
	if got, err := m1.Unwrap("case-1", wrapped); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := m1.Unwrap("case-2", wrapped); err == nil {
		t.Error("a key wrapped for case-1 unwraps as case-2's")
	}
	wrapped[len(wrapped)-1] ^= 1
	if _, err := m1.Unwrap("case-1", wrapped); err == nil {
		t.Error("a damaged wrapped key unwraps")
	}

	m2, err := tok.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if cur, err := tok.Current(false); err != nil || cur.ID() != "p11:liaison-master-2" || m2.ID() != cur.ID() {
		t.Errorf("after Generate the current master is %v (%v)", cur, err)
	}
	again, err := hsm.Open(cfg) // another session: the keys are token objects
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	ms, err := again.Masters()
	if err != nil || len(ms) != 2 || ms[0].ID() != m1.ID() || ms[1].ID() != m2.ID() {
		t.Fatalf("masters after reopening: %v, %v", ms, err)
	}
	if err := again.Destroy(ms[0]); err != nil {
		t.Fatal(err)
	}
	if ms, _ := tok.Masters(); len(ms) != 1 {
		t.Errorf("after destroying the first, %d masters", len(ms))
	}
}

// A key directory whose master is in the token: no file of it, and no file
// anywhere under the test's directories, holds a case key or the master key.
func TestFileStoreWithATokenMaster(t *testing.T) {
	cfg := hsmtest.Token(t, "liaison-test", "1234")
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	m, err := tok.Current(true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	s, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(m))
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for i := range 5 {
		k, err := s.Key(ctx, fmt.Sprintf("case-%d", i), true)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	reopened, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(m))
	for i, want := range keys {
		if got, err := reopened.Key(ctx, fmt.Sprintf("case-%d", i), false); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("case-%d: %v", i, err)
		}
	}
	for _, root := range []string{dir, filepath.Dir(os.Getenv("SOFTHSM2_CONF"))} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, k := range keys {
				if bytes.Contains(b, k) {
					t.Errorf("%s holds a case key in the clear", p)
				}
			}
			return nil
		})
	}
	b, _ := os.ReadFile(filepath.Join(dir, strings.TrimSpace(firstKeyFile(t, dir))))
	if !strings.Contains(string(b), " p11:liaison-master-1 ") {
		t.Errorf("a key file does not name the token's master: %q", b)
	}
}

func firstKeyFile(t *testing.T, dir string) string {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".key") {
			return e.Name()
		}
	}
	t.Fatal("no key file")
	return ""
}
