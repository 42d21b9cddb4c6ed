package hub

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Opaque tokens. What the hub hands out to find a place again — the position
// an append reached (for Liaison-Min-Position), a list cursor — must tell the
// holder nothing (a position counts every event of the hub, a list cursor the
// cases it may not see) and must not be forged or used by another identity.
// Each is sealed with AES-256-GCM under the hub's token key, its additional
// data binding it to its kind and, where it belongs to one, to the identity it
// was made for; a token that does not open is refused as a whole. Sealing is
// deterministic — the nonce is a keyed hash of what is sealed — so that the
// same place gives the same token: a cursor that has not moved is
// byte-identical (docs/protocol.md, "What a reader can infer"), and two tokens
// tell their holder only whether they are equal.

// TokenKeySize is the size of the key that seals opaque tokens.
const TokenKeySize = 32

// Kinds of opaque token (the first byte of the additional data).
const (
	tokenPosition byte = 'p'
	tokenList     byte = 'l'
	tokenFeed     byte = 'f'
)

// sealer seals and opens opaque tokens.
type sealer struct {
	aead  cipher.AEAD
	nonce []byte // the key of the nonces' hash, derived from the token key
}

// newSealer returns a sealer under key (TokenKeySize bytes); with a nil key,
// under a fresh random key, so that tokens hold for this process only.
func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		key = make([]byte, TokenKeySize)
		rand.Read(key)
	}
	if len(key) != TokenKeySize {
		return nil, fmt.Errorf("hub: the token key must be %d bytes, not %d", TokenKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nk := sha256.Sum256(append([]byte("liaison token nonces\x00"), key...))
	return &sealer{aead: aead, nonce: nk[:]}, nil
}

// seal returns payload as an opaque token of kind for binding (base64url).
func (s *sealer) seal(kind byte, binding string, payload []byte) string {
	ns := s.aead.NonceSize()
	ad := additionalData(kind, binding)
	mac := hmac.New(sha256.New, s.nonce)
	mac.Write(ad)
	mac.Write([]byte{0})
	mac.Write(payload)
	b := make([]byte, ns, ns+len(payload)+s.aead.Overhead())
	copy(b, mac.Sum(nil))
	b = s.aead.Seal(b, b[:ns], payload, ad)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadToken = errors.New("hub: not a token this hub made for this caller")

// open returns the payload of a token of kind made for binding, or
// errBadToken when the token is malformed, forged, truncated, of another kind
// or made for another binding.
func (s *sealer) open(kind byte, binding, token string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	ns := s.aead.NonceSize()
	if err != nil || len(b) < ns+s.aead.Overhead() {
		return nil, errBadToken
	}
	payload, err := s.aead.Open(nil, b[:ns], b[ns:], additionalData(kind, binding))
	if err != nil {
		return nil, errBadToken
	}
	return payload, nil
}

// sealUint and openUint seal a number, the payload of positions and cursors.
func (s *sealer) sealUint(kind byte, binding string, n uint64) string {
	return s.seal(kind, binding, binary.BigEndian.AppendUint64(nil, n))
}

func (s *sealer) openUint(kind byte, binding, token string) (uint64, error) {
	b, err := s.open(kind, binding, token)
	if err != nil || len(b) != 8 {
		return 0, errBadToken
	}
	return binary.BigEndian.Uint64(b), nil
}

// additionalData binds a token to its kind and binding, length-prefixed.
func additionalData(kind byte, binding string) []byte {
	return appendKey([]byte{kind}, binding)
}
