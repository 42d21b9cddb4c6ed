package transparency_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

func TestCheckpointKey(t *testing.T) {
	dir := t.TempDir()
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the key is generated once, secret, with its verifier beside it", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(dir, transparency.KeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file %v, %v", fi, err)
		}
		again, err := transparency.LoadOrCreateKey(dir)
		if err != nil || again.VerifierKey != key.VerifierKey {
			t.Fatalf("reloaded %q, %v; want %q", again.VerifierKey, err, key.VerifierKey)
		}
		pub, err := transparency.ReadVerifierKey(dir)
		if err != nil || pub != key.VerifierKey {
			t.Errorf("public key file %q, %v", pub, err)
		}
		if _, err := note.NewVerifier(pub); err != nil {
			t.Errorf("not a verifier key: %v", err)
		}
	})
	t.Run("a lost public key file is written again", func(t *testing.T) {
		os.Remove(filepath.Join(dir, transparency.PubFile))
		if _, err := transparency.LoadOrCreateKey(dir); err != nil {
			t.Fatal(err)
		}
		if pub, _ := transparency.ReadVerifierKey(dir); pub != key.VerifierKey {
			t.Errorf("public key %q, want %q", pub, key.VerifierKey)
		}
	})
	t.Run("a public key file of another key is refused", func(t *testing.T) {
		_, other, _ := note.GenerateKey(nil, transparency.KeyName)
		os.WriteFile(filepath.Join(dir, transparency.PubFile), []byte(other+"\n"), 0o644)
		if _, err := transparency.LoadOrCreateKey(dir); err == nil {
			t.Error("no error")
		}
	})
}

func TestOpenCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	appendRecords(t, st, 3)
	trees := openTrees(t, st, dir, nil)
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := trees.Access.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the checkpoint opens with its key", func(t *testing.T) {
		got, err := transparency.OpenCheckpoint(cp.Note, trees.VerifierKey())
		if err != nil || got.Size != 3 || got.Origin != transparency.AccessOrigin || !bytes.Equal(got.Root, cp.Root) {
			t.Errorf("%+v, %v", got, err)
		}
	})
	t.Run("another key does not open it", func(t *testing.T) {
		_, other, _ := note.GenerateKey(nil, transparency.KeyName)
		if _, err := transparency.OpenCheckpoint(cp.Note, other); err == nil {
			t.Error("no error")
		}
	})
	t.Run("a note that is not a checkpoint does not open", func(t *testing.T) {
		skey, _ := os.ReadFile(filepath.Join(dir, transparency.KeyFile))
		signer, _ := note.NewSigner(string(bytes.TrimSpace(skey)))
		msg, _ := note.Sign(&note.Note{Text: "hello\n"}, signer)
		if _, err := transparency.OpenCheckpoint(msg, trees.VerifierKey()); err == nil {
			t.Error("no error")
		}
	})
}

func TestEventLeaf(t *testing.T) {
	r := eventlog.Recorded{
		Event:      eventlog.Event{ID: [16]byte{1, 2, 3}, Type: "CaseOpened", Metadata: []byte(`{"a":1}`), Data: []byte("sealed")},
		Stream:     "case-1",
		Version:    1,
		Position:   eventlog.Position{Commit: 7, Prepare: 7},
		RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	leaf := transparency.EventLeaf(&r)
	t.Run("the leaf does not depend on the backend's position", func(t *testing.T) {
		moved := r
		moved.Position = eventlog.Position{Commit: 123456, Prepare: 123400}
		if !bytes.Equal(transparency.EventLeaf(&moved), leaf) {
			t.Error("the leaf changed with the position")
		}
	})
	for name, change := range map[string]func(*eventlog.Recorded){
		"id":          func(r *eventlog.Recorded) { r.ID[15] = 9 },
		"type":        func(r *eventlog.Recorded) { r.Type = "CaseClosed" },
		"metadata":    func(r *eventlog.Recorded) { r.Metadata = []byte(`{"a":2}`) },
		"data":        func(r *eventlog.Recorded) { r.Data = []byte("sealeD") },
		"stream":      func(r *eventlog.Recorded) { r.Stream = "case-2" },
		"version":     func(r *eventlog.Recorded) { r.Version = 2 },
		"recorded at": func(r *eventlog.Recorded) { r.RecordedAt = r.RecordedAt.Add(time.Nanosecond) },
		"a byte moved from metadata to data": func(r *eventlog.Recorded) {
			r.Metadata, r.Data = []byte(`{"a":1`), []byte("}sealed")
		},
	} {
		t.Run("a changed "+name+" changes the leaf", func(t *testing.T) {
			c := r
			change(&c)
			if bytes.Equal(transparency.EventLeaf(&c), leaf) {
				t.Error("same leaf")
			}
		})
	}
}
