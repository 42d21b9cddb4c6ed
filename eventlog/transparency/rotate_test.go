package transparency_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// A rotation starts a new signing key while the checkpoints of the old one
// keep verifying: checkpoint.pub lists both, the running trees sign with the
// new one, Verify accepts the history with the list and not without the old
// key, and a restart reads the history back.
func TestRotatedKeyKeepsOldCheckpointsVerifying(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "log"))
	trees := openTrees(t, st, dir, func(c *transparency.Config) { c.Every = 1 })
	old := trees.VerifierKey()
	appendRecords(t, st, 5)
	if err := trees.Close(ctx); err != nil { // catch up and sign
		t.Fatal(err)
	}

	k, err := transparency.RotateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k.VerifierKey == old || !slices.Equal(k.Verifiers, []string{old, k.VerifierKey}) {
		t.Fatalf("new key %s, verifiers %v", k.VerifierKey, k.Verifiers)
	}
	if pub, _ := transparency.ReadVerifierKeys(dir); !slices.Equal(pub, k.Verifiers) {
		t.Errorf("checkpoint.pub lists %v", pub)
	}
	if err := trees.SetKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	// The rotation signs at once, with the new key, a checkpoint of the
	// size the tree had.
	if cp, err := trees.Access.Latest(ctx); err != nil || cp.Size != 5 || cp.Seq != 2 {
		t.Errorf("the access checkpoint after the rotation: size %d, seq %d (%v); want 5, 2", cp.Size, cp.Seq, err)
	} else if _, by, err := transparency.OpenCheckpointAny(cp.Note, k.Verifiers); err != nil || by != k.VerifierKey {
		t.Errorf("the rotation's checkpoint is signed by %q (%v); want the new key", by, err)
	}
	if trees.VerifierKey() != k.VerifierKey || len(trees.VerifierKeys()) != 2 {
		t.Errorf("the trees sign with %s", trees.VerifierKey())
	}
	appendRecords(t, st, 5)
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	latest, err := trees.Access.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, by, err := transparency.OpenCheckpointAny(latest.Note, trees.VerifierKeys()); err != nil || by != k.VerifierKey {
		t.Errorf("the latest checkpoint is signed by %q (%v); want the new key", by, err)
	}
	n := 0
	for _, err := range trees.Access.Checkpoints(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d access checkpoints open; want 3: the old key's, the rotation's and the new records'", n)
	}

	src := transparency.Sources{Journal: st, Events: st, KV: st}
	if rep, err := transparency.Verify(ctx, src, k.Verifiers...); err != nil || rep.Access.Checkpoints != 3 {
		t.Errorf("verify with both keys: %+v, %v", rep, err)
	}
	var tamper *transparency.TamperError
	if _, err := transparency.Verify(ctx, src, k.VerifierKey); !errors.As(err, &tamper) || tamper.Checkpoint != 1 {
		t.Errorf("verify without the old key: %v; want checkpoint 1 named", err)
	}

	// A hub that restarts signs with the new key and reads the old history.
	again, err := transparency.LoadOrCreateKey(dir)
	if err != nil || again.VerifierKey != k.VerifierKey || !slices.Equal(again.Verifiers, k.Verifiers) {
		t.Fatalf("after restart: %+v, %v", again, err)
	}
	// The trees refuse a key whose list forgets a key that signed.
	other := t.TempDir()
	stranger, _ := transparency.LoadOrCreateKey(other)
	if err := trees.SetKey(ctx, stranger); err == nil {
		t.Error("a key that does not list the old verifiers was taken")
	}
}

// A crash between the two writes of a rotation (the new verifier listed,
// the old key still signing) leaves a hub that starts and signs with the old
// key.
func TestRotationCutShortStarts(t *testing.T) {
	dir := t.TempDir()
	k, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, _ := os.ReadFile(filepath.Join(dir, transparency.KeyFile))
	if _, err := transparency.RotateKey(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, transparency.KeyFile), keyFile, 0o600) // as if the key had not been replaced
	again, err := transparency.LoadOrCreateKey(dir)
	if err != nil || again.VerifierKey != k.VerifierKey || len(again.Verifiers) != 2 {
		t.Fatalf("after a cut rotation: %+v, %v", again, err)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, transparency.PubFile))
	if !bytes.HasPrefix(pub, []byte(k.VerifierKey+"\n")) || strings.Count(string(pub), "\n") != 2 {
		t.Errorf("checkpoint.pub: %q", pub)
	}
}
