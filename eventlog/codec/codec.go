// Package codec turns domain events into log events and back. The envelope's
// routing and policy metadata (originator, author, classification, share list,
// correlation) is stored readable; the data is sealed with AES-256-GCM under the
// case's own key from a keystore, so that destroying the key erases the content
// while the log and its checkpoints stay intact.
package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// sealedV1 marks data sealed with AES-256-GCM: 1 byte version, 12 bytes nonce,
// ciphertext and tag. The additional data binds the ciphertext to its case,
// event id and type, so sealed data cannot be moved to another event unnoticed.
const sealedV1 = 1

// plainV1 marks data stored unsealed: 1 byte version, then the canonical JSON.
// Only event types whose data is not case content (domain.Sealed) are stored
// so; the log's Merkle tree and checkpoints protect them like every event.
const plainV1 = 2

// Codec encodes and decodes case events with per-case keys. It is safe for
// concurrent use.
type Codec struct {
	keys  keystore.Store
	aeads *aeadCache
}

// CacheSize is how many cases' AES-GCM instances a Codec keeps (≈ 1 KiB each),
// the least recently used going first, each for at most CacheTTL. A case out
// of the cache costs a key store look-up and an AES-GCM set-up (a few µs) at
// its next use.
const (
	CacheSize = 4096
	CacheTTL  = 5 * time.Minute
)

// New returns a codec over a key store.
func New(keys keystore.Store) *Codec {
	return &Codec{keys: keys, aeads: newAEADCache(CacheSize, CacheTTL)}
}

// Encode seals e for the log. The case gets a key on its first event. e.RawData
// must hold the canonical data (domain.DecodeData's output). It returns a
// KindGone error when the case's key was destroyed.
func (c *Codec) Encode(ctx context.Context, e domain.Event) (eventlog.Event, error) {
	id, err := domain.ParseID(e.ID)
	if err != nil {
		return eventlog.Event{}, domain.Internal(err)
	}
	meta := encodeMeta(e)
	if !domain.Sealed(e.Type) {
		plain := append(append(make([]byte, 0, 1+len(e.RawData)), plainV1), e.RawData...)
		return eventlog.Event{ID: id, Type: string(e.Type), Metadata: meta, Data: plain}, nil
	}
	aead, err := c.aead(ctx, e.CaseID, true)
	if err != nil {
		return eventlog.Event{}, err
	}
	sealed := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(e.RawData)+aead.Overhead())
	sealed[0] = sealedV1
	rand.Read(sealed[1:])
	sealed = aead.Seal(sealed, sealed[1:], e.RawData, additional(e.CaseID, id, string(e.Type)))
	return eventlog.Event{ID: id, Type: string(e.Type), Metadata: meta, Data: sealed}, nil
}

// DecodeMeta returns the event's envelope without opening its data (Data and
// RawData nil). It returns a KindInternal error for metadata that does not decode.
func DecodeMeta(r eventlog.Recorded) (domain.Event, error) {
	e := domain.Event{
		ID: domain.FormatID(r.ID), CaseID: r.Stream, Type: domain.EventType(r.Type), Version: r.Version,
		Position: r.Position.Commit, RecordedAt: r.RecordedAt,
	}
	if err := decodeMeta(r.Metadata, &e); err != nil {
		return domain.Event{}, domain.Internal(fmt.Errorf("event %s/%d: metadata: %w", r.Stream, r.Version, err))
	}
	return e, nil
}

// Open returns the plaintext canonical data of a stored event: data stored
// unsealed (event types that are not case content, domain.Sealed) whatever
// the key. It returns a KindGone error when the case's key was destroyed, and a KindInternal error when
// the data does not authenticate (tampering, or the wrong key).
func (c *Codec) Open(ctx context.Context, r eventlog.Recorded) ([]byte, error) {
	return c.OpenAppend(ctx, nil, &r)
}

// OpenAppend is Open appending the plaintext to dst, so that a caller that
// opens many events can reuse one buffer; it returns the extended buffer.
func (c *Codec) OpenAppend(ctx context.Context, dst []byte, r *eventlog.Recorded) ([]byte, error) {
	if len(r.Data) > 0 && r.Data[0] == plainV1 {
		if domain.Sealed(domain.EventType(r.Type)) {
			return dst, domain.Internal(fmt.Errorf("event %s/%d: case content stored unsealed", r.Stream, r.Version))
		}
		return append(dst, r.Data[1:]...), nil
	}
	aead, err := c.aead(ctx, r.Stream, false)
	if err != nil {
		return dst, err
	}
	ns := aead.NonceSize()
	if len(r.Data) < 1+ns || r.Data[0] != sealedV1 {
		return dst, domain.Internal(fmt.Errorf("event %s/%d: data is not sealed", r.Stream, r.Version))
	}
	out, err := aead.Open(dst, r.Data[1:1+ns], r.Data[1+ns:], additional(r.Stream, r.ID, r.Type))
	if err != nil {
		return dst, domain.Internal(fmt.Errorf("event %s/%d: data does not authenticate", r.Stream, r.Version))
	}
	return out, nil
}

// Decode returns the whole event: envelope and typed data. For an erased case it
// returns the envelope with nil Data and RawData and no error.
func (c *Codec) Decode(ctx context.Context, r eventlog.Recorded) (domain.Event, error) {
	e, err := DecodeMeta(r)
	if err != nil {
		return e, err
	}
	return e, c.OpenInto(ctx, r, &e)
}

// OpenInto opens the data of r into e, whose envelope DecodeMeta gave. For an
// erased case it leaves Data and RawData nil and returns nil; it returns the
// errors of Open otherwise, and a KindInternal error for data that does not
// decode.
func (c *Codec) OpenInto(ctx context.Context, r eventlog.Recorded, e *domain.Event) error {
	plain, err := c.Open(ctx, r)
	if domain.KindOf(err) == domain.KindGone {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := domain.RehydrateData(e.Type, plain)
	if err != nil {
		return err
	}
	e.Data, e.RawData = d, plain
	return nil
}

// Forget drops the cached key of a case (after its key was destroyed); a key
// being read meanwhile is not cached either.
func (c *Codec) Forget(caseID string) { c.aeads.remove(caseID) }

func (c *Codec) aead(ctx context.Context, caseID string, create bool) (cipher.AEAD, error) {
	if a := c.aeads.get(caseID); a != nil {
		return a, nil
	}
	gen := c.aeads.generation()
	key, err := c.keys.Key(ctx, caseID, create)
	switch {
	case errors.Is(err, keystore.ErrDestroyed):
		return nil, &domain.Error{Kind: domain.KindGone, Message: "the case was erased", Err: err}
	case errors.Is(err, keystore.ErrNoKey):
		return nil, domain.Internal(fmt.Errorf("case %q has events but no key: %w", caseID, err))
	case errors.Is(err, syscall.ENOSPC):
		// A new key could not be stored: the disk is full (docs/operations.md,
		// "A full disk"); nothing was appended.
		return nil, &domain.Error{Kind: domain.KindUnavailable, Message: "the hub cannot store this now; try again later", Err: err}
	case err != nil:
		return nil, domain.Internal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, domain.Internal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, domain.Internal(err)
	}
	c.aeads.putIf(caseID, aead, gen)
	return aead, nil
}

func additional(caseID string, id [16]byte, typ string) []byte {
	ad := make([]byte, 0, len(caseID)+len(id)+len(typ)+2)
	ad = append(ad, caseID...)
	ad = append(ad, 0)
	ad = append(ad, id[:]...)
	ad = append(ad, 0)
	return append(ad, typ...)
}
