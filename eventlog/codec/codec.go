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
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// sealedV1 marks data sealed with AES-256-GCM: 1 byte version, 12 bytes nonce,
// ciphertext and tag. The additional data binds the ciphertext to its case,
// event id and type, so sealed data cannot be moved to another event unnoticed.
const sealedV1 = 1

// metadata is the readable part of a stored event.
type metadata struct {
	Schema         int      `json:"schema"`
	Originator     string   `json:"originator"`
	Author         string   `json:"author"`
	Classification string   `json:"classification"`
	ShareWith      []string `json:"share_with,omitempty"`
	CorrelationID  string   `json:"correlation_id,omitempty"`
	CausationID    string   `json:"causation_id,omitempty"`
}

// Codec encodes and decodes case events with per-case keys. It is safe for
// concurrent use.
type Codec struct {
	keys  keystore.Store
	aeads sync.Map // case id → cipher.AEAD
}

// New returns a codec over a key store.
func New(keys keystore.Store) *Codec { return &Codec{keys: keys} }

// Encode seals e for the log. The case gets a key on its first event. e.RawData
// must hold the canonical data (domain.DecodeData's output). It returns a
// KindGone error when the case's key was destroyed.
func (c *Codec) Encode(ctx context.Context, e domain.Event) (eventlog.Event, error) {
	aead, err := c.aead(ctx, e.CaseID, true)
	if err != nil {
		return eventlog.Event{}, err
	}
	id, err := ParseUUID(e.ID)
	if err != nil {
		return eventlog.Event{}, domain.Internal(err)
	}
	meta, err := json.Marshal(metadata{
		Schema: domain.SchemaVersion, Originator: e.Originator, Author: e.Author,
		Classification: string(e.Classification), ShareWith: e.ShareWith,
		CorrelationID: e.CorrelationID, CausationID: e.CausationID,
	})
	if err != nil {
		return eventlog.Event{}, domain.Internal(err)
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
	var m metadata
	if err := json.Unmarshal(r.Metadata, &m); err != nil {
		return domain.Event{}, domain.Internal(fmt.Errorf("event %s/%d: metadata: %w", r.Stream, r.Version, err))
	}
	return domain.Event{
		ID: FormatUUID(r.ID), CaseID: r.Stream, Type: domain.EventType(r.Type), Version: r.Version,
		Position: r.Position.Commit, RecordedAt: r.RecordedAt, Originator: m.Originator, Author: m.Author,
		Classification: domain.TLP(m.Classification), ShareWith: m.ShareWith, SchemaVersion: m.Schema,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID,
	}, nil
}

// Open returns the plaintext canonical data of a stored event. It returns a
// KindGone error when the case's key was destroyed, and a KindInternal error when
// the data does not authenticate (tampering, or the wrong key).
func (c *Codec) Open(ctx context.Context, r eventlog.Recorded) ([]byte, error) {
	aead, err := c.aead(ctx, r.Stream, false)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(r.Data) < 1+ns || r.Data[0] != sealedV1 {
		return nil, domain.Internal(fmt.Errorf("event %s/%d: data is not sealed", r.Stream, r.Version))
	}
	plain, err := aead.Open(nil, r.Data[1:1+ns], r.Data[1+ns:], additional(r.Stream, r.ID, r.Type))
	if err != nil {
		return nil, domain.Internal(fmt.Errorf("event %s/%d: data does not authenticate", r.Stream, r.Version))
	}
	return plain, nil
}

// Decode returns the whole event: envelope and typed data. For an erased case it
// returns the envelope with nil Data and RawData and no error.
func (c *Codec) Decode(ctx context.Context, r eventlog.Recorded) (domain.Event, error) {
	e, err := DecodeMeta(r)
	if err != nil {
		return e, err
	}
	plain, err := c.Open(ctx, r)
	if domain.KindOf(err) == domain.KindGone {
		return e, nil
	}
	if err != nil {
		return e, err
	}
	d, err := domain.RehydrateData(e.Type, plain)
	if err != nil {
		return e, err
	}
	e.Data, e.RawData = d, plain
	return e, nil
}

// Forget drops the cached key of a case (after its key was destroyed).
func (c *Codec) Forget(caseID string) { c.aeads.Delete(caseID) }

func (c *Codec) aead(ctx context.Context, caseID string, create bool) (cipher.AEAD, error) {
	if v, ok := c.aeads.Load(caseID); ok {
		return v.(cipher.AEAD), nil
	}
	key, err := c.keys.Key(ctx, caseID, create)
	switch {
	case errors.Is(err, keystore.ErrDestroyed):
		return nil, &domain.Error{Kind: domain.KindGone, Message: "the case was erased", Err: err}
	case errors.Is(err, keystore.ErrNoKey):
		return nil, domain.Internal(fmt.Errorf("case %q has events but no key: %w", caseID, err))
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
	c.aeads.Store(caseID, aead)
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
