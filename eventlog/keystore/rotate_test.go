package keystore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// keyFile is the path of a case's key file (the store names it by a hash of
// the case id).
func keyFile(dir, caseID string) string {
	sum := sha256.Sum256([]byte(caseID))
	return filepath.Join(dir, hex.EncodeToString(sum[:16])+".key")
}

func wrapper(t *testing.T, b byte) *keystore.Wrapper {
	t.Helper()
	w, err := keystore.NewWrapper(bytes.Repeat([]byte{b}, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A key directory of format 1 (no format file, key files holding the base64
// of the wrapped key alone, as releases before format 2 wrote them) is read
// as it is; new keys are written in format 2, naming their master and case.
func TestFormatOneKeysAreRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := wrapper(t, 9)
	key, wrapped := w.NewKey("old-case")
	os.WriteFile(keyFile(dir, "old-case"), []byte(base64.StdEncoding.EncodeToString(wrapped)+"\n"), 0o600)

	s, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(w))
	if err != nil {
		t.Fatal(err)
	}
	if s.Created() {
		t.Error("a directory holding keys counts as created")
	}
	if got, err := s.Key(ctx, "old-case", false); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("format 1 key: %x, %v", got, err)
	}
	if v, err := keystore.ReadFormat(dir); err != nil || v != keystore.FormatVersion {
		t.Errorf("format after open: %d, %v; want %d", v, err, keystore.FormatVersion)
	}
	if _, err := s.Key(ctx, "new-case", true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(keyFile(dir, "new-case"))
	if !strings.HasPrefix(string(b), "liaison-casekey 2 "+w.ID()+" ") {
		t.Errorf("a new key file is %q; want format 2 naming master %s", b, w.ID())
	}
}

// A directory of a newer format, or a key file of one, is refused with an
// error that says so.
func TestNewerFormatsAreRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, keystore.FormatFile), []byte(fmt.Sprintf("liaison-casekeys %d\n", keystore.FormatVersion+1)), 0o600)
	_, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(wrapper(t, 1)))
	if !errors.Is(err, keystore.ErrNewerFormat) || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a newer key directory: %v; want ErrNewerFormat", err)
	}
	dir = t.TempDir()
	s, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(wrapper(t, 1)))
	os.WriteFile(keyFile(dir, "c"), []byte("liaison-casekey 3 x y z\n"), 0o600)
	if _, err := s.Key(context.Background(), "c", false); !errors.Is(err, keystore.ErrNewerFormat) {
		t.Errorf("a key file of a newer format: %v; want ErrNewerFormat", err)
	}
}

// Rewrap wraps every key under the current master: keys of an older master
// and keys of format 1 alike; the store reads them all before and after, and
// a store that knows only the new master reads them afterwards.
func TestRewrapMovesEveryKeyToTheCurrentMaster(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldM, newM := wrapper(t, 1), wrapper(t, 2)
	legacy, wrapped := oldM.NewKey("legacy")
	os.WriteFile(keyFile(dir, "legacy"), []byte(base64.StdEncoding.EncodeToString(wrapped)+"\n"), 0o600)
	s, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(oldM))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]byte{"legacy": legacy}
	for i := range 20 {
		id := fmt.Sprintf("case-%d", i)
		if keys[id], err = s.Key(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Destroy(ctx, "case-3"); err != nil {
		t.Fatal(err)
	}
	delete(keys, "case-3")

	s.Masters().SetCurrent(newM)
	if _, err := s.Rewrap(ctx, nil); err == nil || !strings.Contains(err.Error(), "format 1") {
		t.Errorf("a format 1 file without the log's cases: %v; want an error naming it", err)
	}
	rep, err := s.Rewrap(ctx, []string{"legacy", "unrelated"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 20 || rep.Destroyed != 1 || rep.Master != newM.ID() || len(rep.Older) != 1 || rep.Older[0] != oldM.ID() {
		t.Errorf("report %+v; want 20 keys under %s, 1 destroyed, %s older", rep, newM.ID(), oldM.ID())
	}
	again, err := s.Rewrap(ctx, nil)
	if err != nil || again.Rewrapped != 0 {
		t.Errorf("a second rewrap: %+v, %v; want nothing to do", again, err)
	}
	onlyNew, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(newM))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range keys {
		if got, err := onlyNew.Key(ctx, id, false); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s under the new master alone: %v", id, err)
		}
	}
	if _, err := onlyNew.Key(ctx, "case-3", false); !errors.Is(err, keystore.ErrDestroyed) {
		t.Errorf("destroyed key after rewrap: %v", err)
	}
	// And the old master alone no longer opens them.
	onlyOld, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(oldM))
	if _, err := onlyOld.Key(ctx, "case-1", false); err == nil {
		t.Error("the old master still opens a rewrapped key")
	}
}

// A rotation cut short (here after 7 files, as a crash would cut it) loses no
// key: with both masters configured, as they are until the rotation ends,
// every key opens, half under one master and half under the other; running
// it again finishes it.
func TestRewrapCutShortLosesNoKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldM, newM := wrapper(t, 1), wrapper(t, 2)
	s, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(oldM))
	keys := map[string][]byte{}
	for i := range 30 {
		id := fmt.Sprintf("case-%d", i)
		keys[id], _ = s.Key(ctx, id, true)
	}
	s.Masters().SetCurrent(newM)
	crash := errors.New("crash")
	keystore.SetRewrapHook(s, func(n int) error {
		if n == 7 {
			return crash
		}
		return nil
	})
	if rep, err := s.Rewrap(ctx, nil); !errors.Is(err, crash) || rep.Rewrapped != 7 {
		t.Fatalf("cut short: %+v, %v", rep, err)
	}
	// No file is half written: each names one master and opens.
	masters := map[string]int{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
		if b, _ := os.ReadFile(filepath.Join(dir, e.Name())); strings.HasSuffix(e.Name(), ".key") {
			masters[strings.Fields(string(b))[2]]++
		}
	}
	if masters[oldM.ID()] != 23 || masters[newM.ID()] != 7 {
		t.Errorf("files by master: %v; want 23 old, 7 new", masters)
	}
	restarted, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(newM, oldM))
	for id, want := range keys {
		if got, err := restarted.Key(ctx, id, false); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after the crash: %v", id, err)
		}
	}
	rep, err := restarted.Rewrap(ctx, nil)
	if err != nil || rep.Rewrapped != 23 || rep.Keys != 30 {
		t.Fatalf("finishing: %+v, %v", rep, err)
	}
}

// The register of erasures keeps each destroyed key's case with the note
// the hub gave, across restarts; a torn last line (a crash during its
// append) is dropped.
func TestRegisterOfErasures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := keystore.OpenFileStoreWith(dir, keystore.NewMasters(wrapper(t, 1)))
	for _, id := range []string{"a", "b"} {
		if _, err := s.Key(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyNoted(ctx, "a", []byte("the event")); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyNoted(ctx, "b", []byte("b's event")); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, keystore.RegisterFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"case_id":"c","destroyed_`)
	f.Close()

	again, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(wrapper(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	got := again.Erasures()
	if len(got) != 2 || got[0].CaseID != "a" || string(got[0].Note) != "the event" || got[1].CaseID != "b" || string(got[1].Note) != "b's event" {
		t.Errorf("register after restart: %+v", got)
	}
	if err := again.Destroy(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if third, err := keystore.OpenFileStoreWith(dir, keystore.NewMasters(wrapper(t, 1))); err != nil || len(third.Erasures()) != 3 {
		t.Errorf("after the torn line was cut: %v, %v", third, err)
	}
}

func TestMasterKeyFileHoldsSeveralKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "master.key")
	a, b := bytes.Repeat([]byte{1}, keystore.KeySize), bytes.Repeat([]byte{2}, keystore.KeySize)
	if err := keystore.WriteMasterKeyFile(file, [][]byte{a, b}); err != nil {
		t.Fatal(err)
	}
	keys, src, err := keystore.LoadMasterKeys("", file, "", false)
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[1], b) || src != file {
		t.Fatalf("keys %x from %s: %v", keys, src, err)
	}
	if cur, err := keystore.LoadMasterKey("", file, ""); err != nil || !bytes.Equal(cur, b) {
		t.Errorf("current key: %x, %v; want the last", cur, err)
	}
	t.Setenv("LIAISON_TEST_MASTERS", base64.StdEncoding.EncodeToString(a)+","+base64.StdEncoding.EncodeToString(b))
	if keys, _, err := keystore.LoadMasterKeys("LIAISON_TEST_MASTERS", "", "", false); err != nil || len(keys) != 2 {
		t.Errorf("keys from the environment: %v", err)
	}
}
