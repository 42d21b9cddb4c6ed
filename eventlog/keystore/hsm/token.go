//go:build cgo

package hsm

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"github.com/ThalesGroup/crypto11"
)

// Token is an open session pool on a PKCS#11 token.
type Token struct {
	cfg Config
	ctx *crypto11.Context
	mu  sync.Mutex // serialises key generation and destruction
}

// Open logs in to the token. It returns ErrNoSupport in a build without cgo,
// and the module's or the token's error (a wrong PIN, an unknown token).
func Open(cfg Config) (*Token, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.Token, Pin: cfg.PIN, GCMIVLength: nonceSize})
	if err != nil {
		return nil, fmt.Errorf("hsm: token %q of %s: %w", cfg.Token, cfg.Module, err)
	}
	return &Token{cfg: cfg, ctx: ctx}, nil
}

// Close ends the sessions.
func (t *Token) Close() error { return t.ctx.Close() }

// nonceSize is the GCM nonce size: 96 bits, chosen at random by the hub for
// each wrapping (at most a few million wraps per master key, far below the
// 2^32 that random 96-bit nonces allow).
const nonceSize = 12

// Masters returns the hub's master keys in the token, oldest first (the last
// is the current one); none when the token holds none yet.
func (t *Token) Masters() ([]*Master, error) {
	keys, err := t.ctx.FindAllKeys()
	if err != nil {
		return nil, fmt.Errorf("hsm: listing the token's keys: %w", err)
	}
	var out []*Master
	for _, k := range keys {
		a, err := t.ctx.GetAttribute(k, crypto11.CkaLabel)
		if err != nil || a == nil {
			continue
		}
		label := string(a.Value)
		if gen := generation(t.cfg.label(), label); gen > 0 {
			m, err := newMaster(k, label, gen)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *Master) int { return a.gen - b.gen })
	return out, nil
}

// Current returns the current master key (the highest generation); with
// create, a token that holds none gets its first. It returns an error when
// the token holds none and create is not set.
func (t *Token) Current(create bool) (*Master, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms, err := t.Masters()
	if err != nil {
		return nil, err
	}
	if len(ms) > 0 {
		return ms[len(ms)-1], nil
	}
	if !create {
		return nil, fmt.Errorf("hsm: token %q holds no master key labelled %s-<n>", t.cfg.Token, t.cfg.label())
	}
	return t.generateLocked(1)
}

// Generate makes a new master key in the token, of the generation after the
// highest there, and returns it: the new current one.
func (t *Token) Generate() (*Master, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms, err := t.Masters()
	if err != nil {
		return nil, err
	}
	gen := 1
	if len(ms) > 0 {
		gen = ms[len(ms)-1].gen + 1
	}
	return t.generateLocked(gen)
}

func (t *Token) generateLocked(gen int) (*Master, error) {
	label := fmt.Sprintf("%s-%d", t.cfg.label(), gen)
	id := make([]byte, 16)
	rand.Read(id)
	// crypto11 makes it a token object, sensitive and not extractable.
	k, err := t.ctx.GenerateSecretKeyWithLabel(id, []byte(label), 256, crypto11.CipherAES)
	if err != nil {
		return nil, fmt.Errorf("hsm: generating master key %s: %w", label, err)
	}
	return newMaster(k, label, gen)
}

// Destroy deletes a master key from the token, for good: the case keys it
// wrapped (key files, and copies of the key directory) open no more.
func (t *Token) Destroy(m *Master) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := m.key.Delete(); err != nil {
		return fmt.Errorf("hsm: deleting master key %s: %w", m.label, err)
	}
	return nil
}

// Extractable reports whether the token would let the key's value out
// (CKA_EXTRACTABLE, or not CKA_SENSITIVE): never for a key Generate made.
func (t *Token) Extractable(m *Master) (bool, error) {
	attrs, err := t.ctx.GetAttributes(m.key, []crypto11.AttributeType{crypto11.CkaExtractable, crypto11.CkaSensitive})
	if err != nil {
		return false, err
	}
	ext, sens := attrs[crypto11.CkaExtractable], attrs[crypto11.CkaSensitive]
	if ext == nil || sens == nil {
		return false, fmt.Errorf("hsm: the token does not say whether %s is extractable", m.label)
	}
	return len(ext.Value) > 0 && ext.Value[0] != 0 || len(sens.Value) > 0 && sens.Value[0] == 0, nil
}

// Master is a master key in the token; it implements keystore.Master.
type Master struct {
	key   *crypto11.SecretKey
	aead  cipher.AEAD
	label string
	gen   int
}

func newMaster(k *crypto11.SecretKey, label string, gen int) (*Master, error) {
	aead, err := k.NewGCM()
	if err != nil {
		return nil, fmt.Errorf("hsm: master key %s: %w", label, err)
	}
	return &Master{key: k, aead: aead, label: label, gen: gen}, nil
}

// ID is "p11:" and the key's label.
func (m *Master) ID() string { return IDPrefix + m.label }

// Label is the key's label in the token.
func (m *Master) Label() string { return m.label }

// Wrap wraps key for caseID inside the token: a random nonce, then the
// token's AES-256-GCM of key with caseID as additional data.
func (m *Master) Wrap(caseID string, key []byte) (out []byte, err error) {
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	defer func() {
		// crypto11's Seal panics when the token fails.
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("hsm: wrapping with %s: %v", m.label, p)
		}
	}()
	return m.aead.Seal(nonce, nonce, key, []byte(caseID)), nil
}

// Unwrap returns the key of caseID from its wrapped form, inside the token.
func (m *Master) Unwrap(caseID string, wrapped []byte) ([]byte, error) {
	if len(wrapped) < nonceSize {
		return nil, fmt.Errorf("hsm: key of case %q is damaged", caseID)
	}
	key, err := m.aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("hsm: key of case %q does not unwrap with %s: %w", caseID, m.label, err)
	}
	return key, nil
}
