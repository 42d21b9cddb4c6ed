package transparency_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// The hub checks cosignatures as torchwood's witness makes them
// (c2sp.org/tlog-cosignature), for any key, whatever its base64 holds.
func TestCosignatureVerifier(t *testing.T) {
	key, err := transparency.LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	skey, vkeyHub, err := note.GenerateKey(rand.Reader, "liaison-hub")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	hubVerifier, err := note.NewVerifier(vkeyHub)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: "liaison/access-log\n3\n" + strings.Repeat("A", 43) + "=\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s, err := torchwood.NewCosignatureSigner("oversight.example/w", priv)
		if err != nil {
			t.Fatal(err)
		}
		vkey := s.Verifier().String()
		v, err := transparency.NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatalf("key %d %s: %v", i, vkey, err)
		}
		if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() || v.String() != vkey {
			t.Errorf("key %d: %s %08x, want %s %08x", i, v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
		}
		n, err := note.Open(signed, note.VerifierList(hubVerifier))
		if err != nil {
			t.Fatal(err)
		}
		cosigned, err := note.Sign(n, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := transparency.CheckCosignatures(cosigned, []string{vkey}); err != nil {
			t.Errorf("key %d: %v", i, err)
		}
		if err := transparency.CheckCosignatures(signed, []string{vkey}); err == nil || !strings.Contains(err.Error(), "oversight.example/w") {
			t.Errorf("a note without the cosignature: %v", err)
		}
		forged := strings.Replace(string(cosigned), "\n3\n", "\n4\n", 1)
		if err := transparency.CheckCosignatures([]byte(forged), []string{vkey}); err == nil {
			t.Errorf("key %d: a changed checkpoint keeps its cosignature", i)
		}
	}
	for _, bad := range []string{"", "a+b", "w+00000000+AAAA", "liaison-hub+1234abcd+" + strings.Repeat("A", 44)} {
		if _, err := transparency.NewCosignatureVerifier(bad); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) accepted", bad)
		}
	}
	if _, err := transparency.ParseWitness("http://127.0.0.1:1=" + key.VerifierKey); err == nil {
		t.Error("ParseWitness takes the hub's own Ed25519 note key as a witness's")
	}
}
