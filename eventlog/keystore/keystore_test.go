package keystore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore"
)

var master = bytes.Repeat([]byte{9}, keystore.KeySize)

func TestFileStoreKeepsAndDestroysKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := keystore.OpenFileStore(dir, master)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Key(ctx, "c1", false); !errors.Is(err, keystore.ErrNoKey) {
		t.Errorf("no key yet: %v, want ErrNoKey", err)
	}
	k1, err := s.Key(ctx, "c1", true)
	if err != nil || len(k1) != keystore.KeySize {
		t.Fatalf("create: %x, %v", k1, err)
	}
	// A second store on the same directory (a restart) reads the same key.
	s2, _ := keystore.OpenFileStore(dir, master)
	if k, err := s2.Key(ctx, "c1", false); err != nil || !bytes.Equal(k, k1) {
		t.Errorf("after reopening: %x, %v; want %x", k, err, k1)
	}
	if err := s.Destroy(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*keystore.FileStore{s, mustOpen(t, dir)} {
		if _, err := st.Key(ctx, "c1", true); !errors.Is(err, keystore.ErrDestroyed) {
			t.Errorf("after destroy: %v, want ErrDestroyed (and no new key)", err)
		}
	}
	// No file under the directory holds the key any more.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, k1) {
				t.Errorf("%s still holds the key", p)
			}
		}
		return nil
	})
	if err := s.Destroy(ctx, "c1"); err != nil {
		t.Errorf("destroying twice: %v", err)
	}
}

func mustOpen(t *testing.T, dir string) *keystore.FileStore {
	t.Helper()
	s, err := keystore.OpenFileStore(dir, master)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWrappedKeysNeedTheirMasterAndTheirCase(t *testing.T) {
	w, _ := keystore.NewWrapper(master)
	key, wrapped := w.NewKey("c1")
	if got, err := w.Unwrap("c1", wrapped); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := w.Unwrap("c2", wrapped); err == nil {
		t.Error("a key wrapped for c1 unwraps as c2's")
	}
	other, _ := keystore.NewWrapper(bytes.Repeat([]byte{8}, keystore.KeySize))
	if _, err := other.Unwrap("c1", wrapped); err == nil {
		t.Error("another master key unwraps the key")
	}
	if _, err := keystore.NewWrapper([]byte("short")); err == nil {
		t.Error("a short master key was accepted")
	}
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "master.key")
	k1, err := keystore.LoadMasterKey("", "", dev)
	if err != nil || len(k1) != keystore.KeySize {
		t.Fatalf("development key: %v", err)
	}
	if k2, _ := keystore.LoadMasterKey("", "", dev); !bytes.Equal(k1, k2) {
		t.Error("the development key changed between two loads")
	}
	t.Setenv("LIAISON_TEST_MASTER", "not base64!")
	if _, err := keystore.LoadMasterKey("LIAISON_TEST_MASTER", "", dev); err == nil {
		t.Error("a malformed key from the environment was accepted")
	}
	raw := filepath.Join(dir, "raw.key")
	os.WriteFile(raw, master, 0o600)
	if k, err := keystore.LoadMasterKey("", raw, ""); err != nil || !bytes.Equal(k, master) {
		t.Errorf("raw key file: %v", err)
	}
}
