package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/api"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func devKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := api.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func claims(mod func(*api.Claims)) *api.Claims {
	c := &api.Claims{Agency: "prison-service", Roles: []string{"caseworker"}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: api.DevIssuer, Audience: jwt.ClaimStrings{api.DevAudience}, Subject: "pc-anna",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDevTokensVerify(t *testing.T) {
	key := devKey(t)
	v := api.NewVerifier(api.DevKeys(key), api.DevIssuer, api.DevAudience, clock)
	tok, err := api.MintDevToken(key, api.TokenRequest{Subject: "pc-anna", Agency: "prison-service", Roles: []string{"caseworker"}, Purpose: "case-management", TTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "pc-anna" || c.Agency != "prison-service" || c.Purpose != "case-management" || len(c.Roles) != 1 {
		t.Errorf("claims %+v", c)
	}
	// Cached: the same token verifies again, and still expires.
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("cached token refused: %v", err)
	}
	later := api.NewVerifier(api.DevKeys(key), api.DevIssuer, api.DevAudience, func() time.Time { return now.Add(2 * time.Hour) })
	if _, err := later.Verify(context.Background(), tok); err == nil {
		t.Error("expired token accepted")
	}
}

// TestTokenAttacksAreRefused covers the RFC 8725 attacks of docs/targets.md,
// R5, at the verifier; test/ shows each is a 401 with an access record.
func TestTokenAttacksAreRefused(t *testing.T) {
	key := devKey(t)
	keys := api.DevKeys(key)
	kid := api.KeyID(key.Public())
	v := api.NewVerifier(keys, api.DevIssuer, api.DevAudience, clock)
	valid := sign(t, jwt.SigningMethodEdDSA, key, kid, claims(nil))
	pub := key.Public().(ed25519.PublicKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(payload, &m)
	m["agency"] = "intelligence-service"
	forged, _ := json.Marshal(m)
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + parts[1] + "."
	}()
	attacks := map[string]string{
		"alg none":                               none,
		"HMAC keyed with the public key":         sign(t, jwt.SigningMethodHS256, []byte(pub), kid, claims(nil)),
		"expired":                                sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) })),
		"not yet valid":                          sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"no expiry":                              sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.ExpiresAt = nil })),
		"wrong issuer":                           sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Issuer = "evil" })),
		"wrong audience":                         sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"no subject":                             sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Subject = "" })),
		"no agency":                              sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Agency = "" })),
		"no roles":                               sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Roles = nil })),
		"tampered signature":                     tampered,
		"claims swapped under a valid signature": swapped,
		"signed by another key":                  sign(t, jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(make([]byte, 32)), kid, claims(nil)),
		"RS256 under an Ed25519 kid":             sign(t, jwt.SigningMethodRS256, rsaKey, kid, claims(nil)),
		"oversized":                              sign(t, jwt.SigningMethodEdDSA, key, kid, claims(func(c *api.Claims) { c.Roles = []string{strings.Repeat("r", api.MaxTokenLen)} })),
		"garbage":                                "not.a.token",
		"empty":                                  "",
	}
	for name, tok := range attacks {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tok); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := v.Verify(context.Background(), valid); err != nil {
		t.Fatalf("the valid token was refused: %v", err)
	}
}

func TestJWKSKeysArePinnedToTheirAlgorithm(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	point, _ := ec.PublicKey.Bytes() // 0x04 ‖ x ‖ y
	ecX, ecY := point[1:33], point[33:]
	jwks := fmt.Sprintf(`{"keys":[
		{"kty":"EC","crv":"P-256","kid":"ec1","x":%q,"y":%q},
		{"kty":"RSA","kid":"rsa1","n":%q,"e":"AQAB"},
		{"kty":"OKP","crv":"Ed25519","kid":"ed1","x":%q},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}`,
		b64(ecX), b64(ecY), b64(rk.N.Bytes()), b64(ed.Public().(ed25519.PublicKey)))
	keys, err := api.ParseJWKS([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	v := api.NewVerifier(keys, "https://idp.example", "liaison", clock)
	c := claims(func(c *api.Claims) { c.Issuer = "https://idp.example"; c.Audience = jwt.ClaimStrings{"liaison"} })
	for _, ok := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{{"ES256", jwt.SigningMethodES256, ec, "ec1"}, {"RS256", jwt.SigningMethodRS256, rk, "rsa1"}, {"EdDSA", jwt.SigningMethodEdDSA, ed, "ed1"}} {
		if _, err := v.Verify(context.Background(), sign(t, ok.method, ok.key, ok.kid, c)); err != nil {
			t.Errorf("%s refused: %v", ok.name, err)
		}
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, ec, "rsa1", c)); err == nil {
		t.Error("an ES256 token naming the RSA key was accepted")
	}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, []byte("secret"), "hmac", c)); err == nil {
		t.Error("an HMAC token was accepted")
	}
	if _, err := api.ParseJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`)); err == nil {
		t.Error("an invalid EC point was accepted")
	}
}
