package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/hub"
)

// DevKeyFile is the development signing key's file name in the data directory.
const DevKeyFile = "dev-token-key.pem"

// LoadOrCreateDevKey returns the development token signing key of a data
// directory, creating it (Ed25519, PKCS #8 PEM, mode 0600) on first use. Two
// processes starting at once agree on one key.
func LoadOrCreateDevKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, DevKeyFile)
	if key, err := readDevKey(path); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := createOnce(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return readDevKey(path)
}

// createOnce writes a new file at path with content, durably and mode 0600,
// unless a file is already there: two processes creating it at once agree on
// the first one's.
func createOnce(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	// Link fails if another process created the file first: then keep theirs.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// TokenKeyFile is the file, in the data directory, of the key that seals the
// API's opaque tokens (positions, list cursors). Hub replicas share it.
const TokenKeyFile = "token.key"

// LoadOrCreateTokenKey returns the token key of a data directory (base64 of
// hub.TokenKeySize random bytes, mode 0600), creating it on first use.
func LoadOrCreateTokenKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, TokenKeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		key := make([]byte, hub.TokenKeySize)
		rand.Read(key)
		if err := createOnce(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
			return nil, fmt.Errorf("token key: %w", err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != hub.TokenKeySize {
		return nil, fmt.Errorf("token key %s: not base64 of %d bytes", path, hub.TokenKeySize)
	}
	return key, nil
}

func readDevKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: not a PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return priv, nil
}

// TokenRequest describes a development token.
type TokenRequest struct {
	Subject string
	Agency  string
	Roles   []string
	Purpose string
	TTL     time.Duration
	Now     time.Time
}

// MintDevToken signs a development token (EdDSA, issuer liaison-dev, audience
// liaison) with the data directory's key.
func MintDevToken(priv ed25519.PrivateKey, r TokenRequest) (string, error) {
	if r.Subject == "" || r.Agency == "" {
		return "", errors.New("a token needs a subject and an agency")
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	roles := r.Roles
	if roles == nil {
		roles = []string{}
	}
	var id [12]byte
	rand.Read(id[:])
	claims := Claims{
		Agency: r.Agency, Roles: roles, Purpose: r.Purpose,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: DevIssuer, Audience: jwt.ClaimStrings{DevAudience}, Subject: r.Subject,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(r.TTL)), ID: strings.ToLower(fmt.Sprintf("%x", id)),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &claims)
	t.Header["kid"] = KeyID(priv.Public())
	return t.SignedString(priv)
}
