package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/domain"
)

// Development token settings (docs/api.md, "Development tokens").
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

// Issuer is one issuer the hub trusts: its tokens' iss and aud, the keys
// they are signed with, and how their claims become the identity the hub acts
// on.
type Issuer struct {
	// Issuer is the tokens' iss, exactly; Audience a value their aud must hold.
	Issuer, Audience string
	Keys             *KeySet
	// Mapping maps a provider's claims (docs/operations.md, "Connecting
	// identity providers"); nil reads Liaison's own claims, agency and
	// roles, and leaves subjects as they are: the development issuer and a
	// one-issuer --jwks-file/--jwks-url deployment.
	Mapping *Mapping
}

// Verifier checks bearer tokens (RFC 8725 practice: algorithm pinned to the key,
// never "none" or HMAC; iss, aud, exp and nbf checked with a small leeway)
// against the issuers it trusts, maps their claims to the identity the hub
// acts on, and caches the result of verified tokens until they expire.
type Verifier struct {
	issuers map[string]*trusted
	only    *trusted // the issuer, when there is one
	clock   func() time.Time

	mu    sync.RWMutex
	cache map[string]cachedToken
}

type trusted struct {
	Issuer
	parser *jwt.Parser
}

type cachedToken struct {
	claims    *Claims
	notBefore time.Time
	expires   time.Time
}

// Leeway is the clock skew allowed on exp and nbf.
const Leeway = 30 * time.Second

const maxCachedTokens = 100_000

// NewVerifier returns a verifier trusting one issuer: tokens from issuer to
// audience, signed by one of keys, with Liaison's claims (agency, roles) and
// subjects as they are. clock may be nil (time.Now).
func NewVerifier(keys *KeySet, issuer, audience string, clock func() time.Time) *Verifier {
	return NewTrustVerifier([]Issuer{{Issuer: issuer, Audience: audience, Keys: keys}}, clock)
}

// NewTrustVerifier returns a verifier trusting each of issuers (their Issuer
// values distinct). clock may be nil (time.Now).
func NewTrustVerifier(issuers []Issuer, clock func() time.Time) *Verifier {
	if clock == nil {
		clock = time.Now
	}
	v := &Verifier{issuers: map[string]*trusted{}, clock: clock, cache: map[string]cachedToken{}}
	for _, iss := range issuers {
		t := &trusted{Issuer: iss, parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"EdDSA", "ES256", "RS256"}),
			jwt.WithIssuer(iss.Issuer), jwt.WithAudience(iss.Audience),
			jwt.WithExpirationRequired(), jwt.WithLeeway(Leeway), jwt.WithTimeFunc(clock),
			// Canonical base64url only: one spelling per token.
			jwt.WithStrictDecoding(),
		)}
		v.issuers[iss.Issuer] = t
		v.only = t
	}
	if len(issuers) != 1 {
		v.only = nil
	}
	return v
}

// Verify checks a token and returns the claims the hub acts on: those of the
// token, with Subject, Agency and Roles as its issuer's Mapping makes them. It
// returns an error saying why the token was refused (for the access log,
// never for the caller), and then no claims.
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
	iss := v.only
	if iss == nil {
		// Which issuer's keys and rules: the token's own iss, unverified
		// until the issuer's parser checks the signature and iss again.
		raw := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(token, raw); err != nil {
			return nil, err
		}
		name, _ := raw["iss"].(string)
		if iss = v.issuers[name]; iss == nil {
			return nil, fmt.Errorf("issuer %q is not trusted", clip(name))
		}
	}
	raw := jwt.MapClaims{}
	if _, err := iss.parser.ParseWithClaims(token, raw, iss.Keys.keyfunc(ctx)); err != nil {
		return nil, err
	}
	claims, err := iss.claims(raw)
	if err != nil {
		return nil, err
	}
	if err := claims.Validate(); err != nil {
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

// claims maps the verified claims of one of the issuer's tokens.
func (t *trusted) claims(raw jwt.MapClaims) (*Claims, error) {
	var id mapped
	var err error
	if t.Mapping == nil {
		id, err = liaisonClaims(raw)
	} else {
		id, err = t.Mapping.apply(raw)
	}
	if err != nil {
		return nil, err
	}
	c := &Claims{Agency: id.agency, Roles: id.roles}
	c.Purpose, _ = raw["purpose"].(string)
	c.Issuer, c.Subject = t.Issuer.Issuer, id.subject
	c.Audience, _ = raw.GetAudience()
	c.ExpiresAt, _ = raw.GetExpirationTime()
	c.NotBefore, _ = raw.GetNotBefore()
	c.IssuedAt, _ = raw.GetIssuedAt()
	c.ID, _ = raw["jti"].(string)
	return c, nil
}

// Claimed reads what a refused token claims, for the access log only: its
// issuer, and its subject, organisation and roles as its issuer's mapping
// reads them when the issuer is trusted (as they are otherwise). It returns
// nil when the token cannot be read at all.
func (v *Verifier) Claimed(token string) *Claims {
	if len(token) > MaxTokenLen {
		return nil
	}
	raw := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, raw); err != nil {
		return nil
	}
	c := &Claims{}
	c.Issuer, _ = raw["iss"].(string)
	var id mapped
	if t := v.issuers[c.Issuer]; t != nil && t.Mapping != nil {
		id = t.Mapping.claimed(raw)
	} else {
		id.subject, _ = raw["sub"].(string)
		id.agency, _ = raw["agency"].(string)
		id.roles, _ = listClaim(raw, "roles")
	}
	c.Subject, c.Agency, c.Roles = id.subject, id.agency, id.roles
	return c
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
