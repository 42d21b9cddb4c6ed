package codec

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

func testAEAD(t *testing.T) cipher.AEAD {
	b, _ := aes.NewCipher(make([]byte, 32))
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAEADCacheKeepsTheMostRecentlyUsed(t *testing.T) {
	c := newAEADCache(2, time.Hour)
	a, b, d := testAEAD(t), testAEAD(t), testAEAD(t)
	c.put("a", a)
	c.put("b", b)
	if c.get("a") != a { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("d", d) // evicts b
	if c.get("b") != nil || c.get("a") != a || c.get("d") != d || c.len() != 2 {
		t.Errorf("after eviction: a=%v b=%v d=%v len=%d", c.get("a") != nil, c.get("b") != nil, c.get("d") != nil, c.len())
	}
	c.remove("a")
	c.remove("a")
	if c.get("a") != nil || c.len() != 1 {
		t.Error("a still cached after remove")
	}
	c.put("e", a)
	c.put("d", b) // replace
	if c.get("d") != b || c.get("e") != a || c.len() != 2 {
		t.Error("replace or reuse after remove went wrong")
	}
}

// A codec with more cases than its cache opens every case's data, and
// destroying a key still erases the content of a case that was evicted.
func TestCodecBeyondItsCache(t *testing.T) {
	ks, err := keystore.OpenFileStore(t.TempDir(), bytes.Repeat([]byte{7}, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	c := New(ks)
	c.aeads = newAEADCache(3, time.Hour)
	ctx := context.Background()
	var recs []eventlog.Recorded
	for i := range 10 {
		id := fmt.Sprintf("case-%d", i)
		e := domain.Event{ID: domain.NewID(), CaseID: id, Type: domain.CaseClosed, Originator: "o", Author: "a",
			Classification: domain.TLPGreen, RawData: []byte(fmt.Sprintf(`{"reason":"r%d"}`, i))}
		le, err := c.Encode(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, eventlog.Recorded{Event: le, Stream: id, Version: 1})
	}
	if err := ks.Destroy(ctx, "case-0"); err != nil {
		t.Fatal(err)
	}
	c.Forget("case-0")
	for round := range 2 {
		for i, r := range recs {
			plain, err := c.Open(ctx, r)
			if i == 0 {
				if domain.KindOf(err) != domain.KindGone {
					t.Errorf("round %d: erased case: %v, want gone", round, err)
				}
				continue
			}
			if want := fmt.Sprintf(`{"reason":"r%d"}`, i); err != nil || string(plain) != want {
				t.Errorf("round %d: case %d: %q, %v; want %s", round, i, plain, err, want)
			}
			buf, err := c.OpenAppend(ctx, []byte("x"), &r)
			if err != nil || string(buf) != "x"+string(plain) {
				t.Errorf("OpenAppend: %q, %v", buf, err)
			}
		}
	}
	if c.aeads.len() > 3 {
		t.Errorf("%d cached, want at most 3", c.aeads.len())
	}
}

func TestDecodeRawMetaMatchesDecodeMeta(t *testing.T) {
	e := domain.Event{Originator: "org", Author: "sub", Classification: domain.TLPAmber, ShareWith: []string{"x", "y"}, CorrelationID: "c"}
	b := encodeMeta(e)
	var m RawMeta
	m.ShareWith = append(m.ShareWith, []byte("stale"), []byte("stale"), []byte("stale"))
	if err := DecodeRawMeta(b, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.Originator) != "org" || string(m.Author) != "sub" || string(m.Classification) != string(domain.TLPAmber) ||
		len(m.ShareWith) != 2 || string(m.ShareWith[1]) != "y" || string(m.CorrelationID) != "c" {
		t.Errorf("raw meta %+v", m)
	}
	if b[len(b)-1] != 0 {
		t.Errorf("metadata %x does not end with the reserved string, empty", b)
	}
	// The reserved string is skipped, whatever it holds.
	reserved := append(bytes.Clone(b[:len(b)-1]), 1, 'd')
	var r RawMeta
	if err := DecodeRawMeta(reserved, &r); err != nil || string(r.CorrelationID) != "c" || string(r.Originator) != "org" {
		t.Errorf("with a reserved string: %+v, %v", r, err)
	}
	for n := range len(b) {
		if err := DecodeRawMeta(b[:n], &m); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if err := DecodeRawMeta(append(bytes.Clone(b), 0), &m); err == nil {
		t.Error("trailing byte: no error")
	}
}
