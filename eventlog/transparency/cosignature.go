package transparency

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signature type of a C2SP tlog-cosignature/v1 key.
const algCosignatureV1 = 4

// CosignatureVerifier checks the cosignatures of one witness
// (c2sp.org/tlog-cosignature, cosignature/v1): an Ed25519 signature over
// "cosignature/v1\ntime T\n" and the checkpoint's text, sent as T (8 bytes,
// big-endian Unix seconds) and the signature. It is a note.Verifier.
type CosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	vkey string
}

// NewCosignatureVerifier parses a witness's verifier key,
// "name+hash+base64(0x04 || Ed25519 public key)". It returns an error when
// vkey is not one, or its hash does not match its name and key.
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3) // the key's base64 may hold "+"
	if len(parts) != 3 || parts[0] == "" || len(parts[1]) != 8 {
		return nil, errors.New("not a witness verifier key (name+hash+key)")
	}
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, errors.New("not a witness verifier key: the hash is not 8 hexadecimal digits")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errors.New("not a witness verifier key: the key is not a cosignature/v1 (Ed25519) key")
	}
	if cosignatureKeyHash(parts[0], raw) != uint32(hash) {
		return nil, errors.New("not a witness verifier key: its hash does not match its name and key")
	}
	return &CosignatureVerifier{name: parts[0], hash: uint32(hash), key: ed25519.PublicKey(raw[1:]), vkey: vkey}, nil
}

func cosignatureKeyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name returns the witness's name, as its cosignature lines show it.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash returns the key hash of the witness's key.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// String returns the verifier key.
func (v *CosignatureVerifier) String() string { return v.vkey }

// Verify reports whether sig is the witness's cosignature of the checkpoint
// text msg.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	m := "cosignature/v1\ntime " + strconv.FormatUint(t, 10) + "\n" + string(msg)
	return ed25519.Verify(v.key, []byte(m), sig[8:])
}

// CosignedAt returns when the witness made the cosignature sig (its base64
// form, as in a signature line), and false when it is not a cosignature.
func CosignedAt(sig note.Signature) (time.Time, bool) {
	b, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(b) != 4+8+ed25519.SignatureSize {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), 0).UTC(), true
}

// CheckCosignatures checks that the signed note msg carries a valid
// cosignature of every witness of vkeys. It returns an error naming the
// witnesses whose cosignature is missing or bad, and an error when a key is
// not a witness verifier key.
func CheckCosignatures(msg []byte, vkeys []string) error {
	var missing []string
	for _, k := range vkeys {
		v, err := NewCosignatureVerifier(k)
		if err != nil {
			return err
		}
		if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
			missing = append(missing, v.Name())
		}
	}
	if len(missing) > 0 {
		return errors.New("not cosigned by " + strings.Join(missing, ", "))
	}
	return nil
}
