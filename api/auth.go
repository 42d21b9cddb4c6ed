package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/domain"
)

// Development token settings (CONTRACT.md).
const (
	DevIssuer   = "liaison-dev"
	DevAudience = "liaison"
)

// MaxTokenLen bounds a bearer token; longer ones are refused unread.
const MaxTokenLen = 8 << 10

// Claims are the claims of a Liaison token.
type Claims struct {
	Agency  string   `json:"agency"`
	Roles   []string `json:"roles"`
	Purpose string   `json:"purpose,omitempty"`
	jwt.RegisteredClaims
}

// Validate checks the claims the contract requires beyond the registered ones.
func (c *Claims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("sub is required")
	case c.Agency == "":
		return errors.New("agency is required")
	case c.Roles == nil:
		return errors.New("roles is required")
	}
	for _, r := range c.Roles {
		if r == "" || len(r) > domain.MaxRefLen {
			return errors.New("roles must be non-empty strings")
		}
		if hasControl(r) {
			return errors.New("roles must not hold control characters")
		}
	}
	if hasControl(c.Subject) || hasControl(c.Agency) {
		return errors.New("sub and agency must not hold control characters")
	}
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL, C1) or is
// not UTF-8: no identity needs one, and one could make two identities look
// alike wherever they are joined into a key or a log line.
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// VerificationKey is one public key tokens may be signed with, pinned to one
// algorithm: EdDSA for Ed25519, ES256 for P-256, RS256 for RSA.
type VerificationKey struct {
	ID        string
	Algorithm string
	Key       crypto.PublicKey
}

// KeySource provides the current verification keys.
type KeySource interface {
	// Keys returns the keys; kid is the key id a token names ("" if none), a hint
	// for sources that refresh on an unknown id.
	Keys(ctx context.Context, kid string) ([]VerificationKey, error)
}

// StaticKeys is a fixed set of keys (the development key, a JWKS file).
type StaticKeys []VerificationKey

// Keys returns the set.
func (s StaticKeys) Keys(context.Context, string) ([]VerificationKey, error) { return s, nil }

// Verifier checks bearer tokens (RFC 8725 practice: algorithm pinned to the key,
// never "none" or HMAC; iss, aud, exp and nbf checked with a small leeway) and
// caches the identities of verified tokens until they expire.
type Verifier struct {
	keys     KeySource
	parser   *jwt.Parser
	issuer   string
	audience string
	clock    func() time.Time

	mu    sync.RWMutex
	cache map[string]cachedToken
}

type cachedToken struct {
	claims    *Claims
	notBefore time.Time
	expires   time.Time
}

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 30 * time.Second

const maxCachedTokens = 100_000

// NewVerifier returns a verifier for tokens from issuer to audience, signed by
// one of keys. clock may be nil (time.Now).
func NewVerifier(keys KeySource, issuer, audience string, clock func() time.Time) *Verifier {
	if clock == nil {
		clock = time.Now
	}
	return &Verifier{
		keys: keys, issuer: issuer, audience: audience, clock: clock,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"EdDSA", "ES256", "RS256"}),
			jwt.WithIssuer(issuer), jwt.WithAudience(audience),
			jwt.WithExpirationRequired(), jwt.WithLeeway(Leeway), jwt.WithTimeFunc(clock),
			// Canonical base64url only: one spelling per token.
			jwt.WithStrictDecoding(),
		),
		cache: map[string]cachedToken{},
	}
}

// Verify checks a token and returns its claims. It returns an error saying why
// the token was refused (for the access log, never for the caller).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenLen {
		return nil, errors.New("token too large")
	}
	now := v.clock()
	v.mu.RLock()
	ct, ok := v.cache[token]
	v.mu.RUnlock()
	if ok {
		if now.After(ct.expires.Add(Leeway)) {
			return nil, errors.New("token expired")
		}
		if now.Add(Leeway).Before(ct.notBefore) {
			return nil, errors.New("token not yet valid")
		}
		return ct.claims, nil
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		keys, err := v.keys.Keys(ctx, kid)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if (kid == "" && len(keys) == 1 || k.ID == kid) && k.Algorithm == t.Method.Alg() {
				return k.Key, nil
			}
		}
		return nil, fmt.Errorf("no key %q for algorithm %s", kid, t.Method.Alg())
	})
	if err != nil {
		return nil, err
	}
	ct = cachedToken{claims: claims, expires: claims.ExpiresAt.Time}
	if claims.NotBefore != nil {
		ct.notBefore = claims.NotBefore.Time
	}
	v.mu.Lock()
	if len(v.cache) >= maxCachedTokens {
		v.cache = map[string]cachedToken{}
	}
	v.cache[token] = ct
	v.mu.Unlock()
	return claims, nil
}

// UnverifiedClaims reads what a refused token claims, for the access log only.
func UnverifiedClaims(token string) *Claims {
	if len(token) > MaxTokenLen {
		return nil
	}
	c := &Claims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		return nil
	}
	return c
}

// ---- keys

// KeyID names a public key by a hash of its encoding.
func KeyID(pub crypto.PublicKey) string {
	var raw []byte
	switch k := pub.(type) {
	case ed25519.PublicKey:
		raw = k
	case *ecdsa.PublicKey:
		raw, _ = k.Bytes()
	case *rsa.PublicKey:
		raw = k.N.Bytes()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// ParseJWKS reads a JSON Web Key Set; it keeps the signing keys of the accepted
// types (OKP Ed25519, EC P-256, RSA) and returns an error if there is none or a
// key is malformed.
func ParseJWKS(b []byte) (StaticKeys, error) {
	var set struct {
		Keys []struct {
			Kty, Crv, X, Y, N, E, Kid, Alg, Use string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var out StaticKeys
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		vk := VerificationKey{ID: k.Kid}
		switch {
		case k.Kty == "OKP" && k.Crv == "Ed25519":
			x, err := b64(k.X)
			if err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("JWKS key %d: bad Ed25519 x", i)
			}
			vk.Algorithm, vk.Key = "EdDSA", ed25519.PublicKey(x)
		case k.Kty == "EC" && k.Crv == "P-256":
			x, errX := b64(k.X)
			y, errY := b64(k.Y)
			if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
				return nil, fmt.Errorf("JWKS key %d: bad EC coordinates", i)
			}
			// The uncompressed point encoding; parsing checks the point is on P-256.
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				return nil, fmt.Errorf("JWKS key %d: not a point of P-256", i)
			}
			vk.Algorithm, vk.Key = "ES256", pub
		case k.Kty == "RSA":
			n, errN := b64(k.N)
			e, errE := b64(k.E)
			if errN != nil || errE != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
				return nil, fmt.Errorf("JWKS key %d: bad or short RSA key (2048 bits at least)", i)
			}
			vk.Algorithm, vk.Key = "RS256", &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		default:
			continue
		}
		if k.Alg != "" && k.Alg != vk.Algorithm {
			return nil, fmt.Errorf("JWKS key %d: alg %s does not fit its key type", i, k.Alg)
		}
		if vk.ID == "" {
			vk.ID = KeyID(vk.Key)
		}
		out = append(out, vk)
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS: no usable signing key")
	}
	return out, nil
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// JWKSFile reads a JWKS file once.
func JWKSFile(path string) (StaticKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseJWKS(b)
}

// JWKSURL fetches a JWKS over HTTP(S), caches it, refreshes it every Refresh,
// and at most once a minute when a token names a key it does not hold.
type JWKSURL struct {
	URL     string
	Client  *http.Client
	Refresh time.Duration

	mu      sync.Mutex
	keys    StaticKeys
	fetched time.Time
}

// Keys returns the cached keys, fetching them when stale or when kid is unknown.
// It returns the fetch error only when no keys were ever fetched.
func (j *JWKSURL) Keys(ctx context.Context, kid string) ([]VerificationKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	refresh := j.Refresh
	if refresh == 0 {
		refresh = 10 * time.Minute
	}
	known := kid == ""
	for _, k := range j.keys {
		known = known || k.ID == kid
	}
	age := time.Since(j.fetched)
	if j.keys == nil || age > refresh || !known && age > time.Minute {
		keys, err := j.fetch(ctx)
		if err != nil && j.keys == nil {
			return nil, err
		}
		if err == nil {
			j.keys = keys
		}
		j.fetched = time.Now()
	}
	return j.keys, nil
}

func (j *JWKSURL) fetch(ctx context.Context) (StaticKeys, error) {
	client := j.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS %s: %s", j.URL, resp.Status)
	}
	var buf strings.Builder
	if _, err := ioCopyN(&buf, resp, 1<<20); err != nil {
		return nil, err
	}
	return ParseJWKS([]byte(buf.String()))
}
