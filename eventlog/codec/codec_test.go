package codec_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

func newCodec(t *testing.T) (*codec.Codec, *keystore.FileStore) {
	t.Helper()
	ks, err := keystore.OpenFileStore(t.TempDir(), bytes.Repeat([]byte{7}, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return codec.New(ks), ks
}

func sealed(t *testing.T, c *codec.Codec, caseID string) eventlog.Recorded {
	t.Helper()
	e := domain.Event{ID: domain.NewID(), CaseID: caseID, Type: domain.CounsellingNoteAdded, Originator: "exit-ngo", Author: "ng-hana",
		Classification: domain.TLPAmberStrict, RawData: []byte(`{"date":"2026-03-01","note":"MARKER-SECRET"}`)}
	le, err := c.Encode(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Recorded{Event: le, Stream: caseID, Version: 1}
}

func TestSealedDataRoundTripsAndHidesContent(t *testing.T) {
	c, _ := newCodec(t)
	r := sealed(t, c, "case-a")
	if bytes.Contains(r.Data, []byte("MARKER")) || bytes.Contains(r.Metadata, []byte("MARKER")) {
		t.Fatal("content readable in the stored bytes")
	}
	e, err := c.Decode(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Data.(domain.CounsellingNoteData).Note, "MARKER-SECRET"; got != want {
		t.Errorf("note %q, want %q", got, want)
	}
	if e.Originator != "exit-ngo" || e.Classification != domain.TLPAmberStrict || e.Author != "ng-hana" {
		t.Errorf("envelope %+v", e)
	}
}

func TestTamperedOrMovedDataDoesNotAuthenticate(t *testing.T) {
	c, _ := newCodec(t)
	r := sealed(t, c, "case-a")
	flipped := r
	flipped.Data = bytes.Clone(r.Data)
	flipped.Data[len(flipped.Data)-1] ^= 1
	if _, err := c.Open(context.Background(), flipped); domain.KindOf(err) != domain.KindInternal {
		t.Errorf("flipped byte: %v, want internal error", err)
	}
	retyped := r
	retyped.Type = string(domain.IntelligenceNoteAdded)
	if _, err := c.Open(context.Background(), retyped); err == nil {
		t.Error("data moved to another event type still opens")
	}
}

func TestDestroyedKeyErasesContent(t *testing.T) {
	c, ks := newCodec(t)
	r := sealed(t, c, "case-a")
	if err := ks.Destroy(context.Background(), "case-a"); err != nil {
		t.Fatal(err)
	}
	c.Forget("case-a")
	if _, err := c.Open(context.Background(), r); domain.KindOf(err) != domain.KindGone {
		t.Errorf("open after destroy: %v, want gone", err)
	}
	e, err := c.Decode(context.Background(), r)
	if err != nil || e.Data != nil || e.Originator != "exit-ngo" {
		t.Errorf("decode after destroy: %+v, %v; want envelope without data", e, err)
	}
	if _, err := c.Encode(context.Background(), domain.Event{ID: domain.NewID(), CaseID: "case-a", Type: domain.CaseClosed}); domain.KindOf(err) != domain.KindGone {
		t.Errorf("encode after destroy: %v, want gone", err)
	}
}

func TestErasureEventsOutliveTheKeyAndContentNeverGoesUnsealed(t *testing.T) {
	c, ks := newCodec(t)
	ctx := context.Background()
	content := sealed(t, c, "case-a")
	e := domain.Event{ID: domain.NewID(), CaseID: "case-a", Type: domain.ErasureRequested, Originator: "oversight-board", Author: "dp-kim",
		Classification: domain.TLPGreen, RawData: []byte(`{"legal_basis":"court-order","reference":"FILE-12","expires_at":"2026-12-13T10:00:00Z"}`)}
	le, err := c.Encode(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	request := eventlog.Recorded{Event: le, Stream: "case-a", Version: 2}
	if err := ks.Destroy(ctx, "case-a"); err != nil {
		t.Fatal(err)
	}
	c.Forget("case-a")
	if _, err := c.Open(ctx, content); domain.KindOf(err) != domain.KindGone {
		t.Errorf("content after the key was destroyed: %v, want gone", err)
	}
	got, err := c.Open(ctx, request)
	if err != nil || string(got) != string(e.RawData) {
		t.Errorf("erasure request after the key was destroyed: %q, %v; want its data", got, err)
	}
	// Case content presented unsealed (a swapped type or forged bytes) is refused.
	forged := request
	forged.Type = string(domain.CounsellingNoteAdded)
	if _, err := c.Open(ctx, forged); domain.KindOf(err) != domain.KindInternal {
		t.Errorf("counselling note stored unsealed: %v, want internal error", err)
	}
}
