package idp_test

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/test/idp"
)

// hubAudience is the audience the hub's tokens are issued for.
const hubAudience = "liaison-hub"

// redirectURI is the public client's redirect URI; nothing listens there, and
// AuthCodeFlow does not follow the redirect.
const redirectURI = "http://127.0.0.1:9/callback"

// TestTwoProviders runs two Hydras at once and checks what the hub will rely
// on: discovery, JWT access tokens by client credentials verifiable with the
// JWKS, the authorization-code flow with the chosen claims, key rotation,
// the providers' independence, and verification while a provider is down.
func TestTwoProviders(t *testing.T) {
	idp.SkipIfDisabled(t)
	start := time.Now()
	bin := idp.Binary(t)
	t.Logf("Hydra binary %s ready in %v", bin, time.Since(start).Round(time.Millisecond))

	opts := idp.Options{Audiences: []string{hubAudience}, AccessTokenTTL: 2 * time.Minute}
	start = time.Now()
	a := idp.Start(t, opts)
	t.Logf("provider A (%s, admin %s) started in %v", a.Issuer, a.AdminURL, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	b := idp.Start(t, opts)
	t.Logf("provider B (%s, admin %s) started in %v", b.Issuer, b.AdminURL, time.Since(start).Round(time.Millisecond))
	if a.Issuer == b.Issuer {
		t.Fatalf("both providers have issuer %s", a.Issuer)
	}

	t.Run("Discovery", func(t *testing.T) {
		for _, p := range []*idp.Provider{a, b} {
			var doc struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			getJSON(t, p.DiscoveryURL, &doc)
			if doc.Issuer != p.Issuer || doc.JWKSURI != p.JWKSURL {
				t.Errorf("discovery of %s: issuer %q, jwks_uri %q; want %q, %q", p.DiscoveryURL, doc.Issuer, doc.JWKSURI, p.Issuer, p.JWKSURL)
			}
		}
	})

	ccID, ccSecret := a.CreateClientCredentialsClient(t, "org-a-service", nil)
	aKeys := fetchKeys(t, a.JWKSURL)
	oldToken := a.ClientCredentialsToken(t, ccID, ccSecret, []string{hubAudience}, "hub.read", "hub.write")

	t.Run("ClientCredentials", func(t *testing.T) {
		claims := verify(t, oldToken, aKeys, a.Issuer, hubAudience)
		if claims["sub"] != ccID || claims["client_id"] != ccID {
			t.Errorf("sub %v, client_id %v; want %s", claims["sub"], claims["client_id"], ccID)
		}
		if scp, _ := claims["scp"].([]any); !slices.Equal(scp, []any{"hub.read", "hub.write"}) {
			t.Errorf("scp %v; want [hub.read hub.write]", claims["scp"])
		}
		iat, _ := claims["iat"].(float64)
		exp, _ := claims["exp"].(float64)
		if exp-iat != 120 {
			t.Errorf("exp-iat = %v; want the AccessTokenTTL, 120 s", exp-iat)
		}
	})

	publicID := a.CreatePublicClient(t, "org-a-console", []string{redirectURI})
	a.SetUser("alice@org-a", map[string]any{
		"groups":       []string{"caseworkers", "leads"},
		"organisation": "org-a",
		"realm_access": map[string]any{"roles": []string{"liaison-reader", "liaison-writer"}},
		"department":   "housing",
	})

	t.Run("AuthCodeFlow", func(t *testing.T) {
		start := time.Now()
		idToken, accessToken, refreshToken := a.AuthCodeFlow(t, publicID, redirectURI, "openid", "offline_access", "profile")
		t.Logf("authorization-code flow took %v", time.Since(start).Round(time.Millisecond))
		id := verify(t, idToken, aKeys, a.Issuer, publicID)
		if id["sub"] != "alice@org-a" || id["organisation"] != "org-a" || id["department"] != "housing" {
			t.Errorf("ID token claims %v", id)
		}
		if g, _ := id["groups"].([]any); !slices.Equal(g, []any{"caseworkers", "leads"}) {
			t.Errorf("ID token groups %v", id["groups"])
		}
		if roles := nested(id, "realm_access", "roles"); !slices.Equal(roles, []any{"liaison-reader", "liaison-writer"}) {
			t.Errorf("ID token realm_access.roles %v", roles)
		}
		at := verify(t, accessToken, aKeys, a.Issuer, hubAudience)
		if at["sub"] != "alice@org-a" || at["organisation"] != "org-a" {
			t.Errorf("access token claims %v", at)
		}
		if roles := nested(at, "realm_access", "roles"); !slices.Equal(roles, []any{"liaison-reader", "liaison-writer"}) {
			t.Errorf("access token realm_access.roles %v", roles)
		}
		// A claim outside Options.TopLevelClaims is only under ext.
		ext, _ := at["ext"].(map[string]any)
		if _, top := at["department"]; top || ext["department"] != "housing" {
			t.Errorf("department: top level %v, ext %v; want only under ext", at["department"], at["ext"])
		}
		if refreshToken == "" {
			t.Fatal("no refresh token despite offline_access")
		}
		idToken2, accessToken2, refreshToken2 := a.Refresh(t, publicID, refreshToken)
		if refreshToken2 == "" || refreshToken2 == refreshToken || idToken2 == "" {
			t.Errorf("refresh: new refresh token %q (old %q), ID token %q", refreshToken2, refreshToken, idToken2)
		}
		if at2 := verify(t, accessToken2, aKeys, a.Issuer, hubAudience); at2["organisation"] != "org-a" {
			t.Errorf("refreshed access token claims %v", at2)
		}
	})

	t.Run("RotateKeys", func(t *testing.T) {
		oldKID := kid(t, oldToken)
		start := time.Now()
		accessKID, idKID := a.RotateKeys(t)
		t.Logf("key rotation took %v: new kids %s, %s", time.Since(start).Round(time.Millisecond), accessKID, idKID)
		if accessKID == oldKID {
			t.Fatalf("the rotated access-token kid is the old one, %s", oldKID)
		}
		newToken := a.ClientCredentialsToken(t, ccID, ccSecret, []string{hubAudience})
		if got := kid(t, newToken); got != accessKID {
			t.Errorf("a token after rotation has kid %s; want %s", got, accessKID)
		}
		keys := fetchKeys(t, a.JWKSURL)
		if keys[accessKID] == nil || keys[idKID] == nil {
			t.Errorf("the JWKS lacks the new kids %s, %s: %v", accessKID, idKID, keyIDs(keys))
		}
		if keys[oldKID] == nil {
			t.Errorf("the JWKS no longer lists the old kid %s: %v", oldKID, keyIDs(keys))
		}
		verify(t, newToken, keys, a.Issuer, hubAudience)
		verify(t, oldToken, aKeys, a.Issuer, hubAudience) // with the keys fetched before
		verify(t, oldToken, keys, a.Issuer, hubAudience)
		if _, ok := aKeys[accessKID]; ok {
			t.Errorf("the keys fetched before rotation already had %s", accessKID)
		}
		idToken, _, _ := a.AuthCodeFlow(t, publicID, redirectURI, "openid")
		if got := kid(t, idToken); got != idKID {
			t.Errorf("an ID token after rotation has kid %s; want %s", got, idKID)
		}
		verify(t, idToken, keys, a.Issuer, publicID)
	})

	t.Run("ProvidersAreDistinct", func(t *testing.T) {
		bKeys := fetchKeys(t, b.JWKSURL)
		for k := range aKeys {
			if bKeys[k] != nil {
				t.Errorf("kid %s is in both providers' key sets", k)
			}
		}
		bID, bSecret := b.CreateClientCredentialsClient(t, "org-a-service", nil) // the same id on B
		bToken := b.ClientCredentialsToken(t, bID, bSecret, []string{hubAudience})
		verify(t, bToken, bKeys, b.Issuer, hubAudience)
		// A's token against B's keys: unknown kid; and against each of B's
		// keys forced, a bad signature.
		if _, err := parse(oldToken, bKeys, b.Issuer, hubAudience); err == nil {
			t.Error("A's token verified with B's keys")
		}
		for k, key := range bKeys {
			_, err := jwt.Parse(oldToken, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithValidMethods([]string{"RS256"}))
			if err == nil {
				t.Errorf("A's token verified with B's key %s", k)
			}
		}
		if _, err := parse(bToken, aKeys, b.Issuer, hubAudience); err == nil {
			t.Error("B's token verified with A's keys")
		}
	})

	t.Run("ProviderDown", func(t *testing.T) {
		bKeys := fetchKeys(t, b.JWKSURL)
		bID, bSecret := b.CreateClientCredentialsClient(t, "", []string{hubAudience})
		token := b.ClientCredentialsToken(t, bID, bSecret, []string{hubAudience})
		start := time.Now()
		b.Stop(t)
		t.Logf("provider B stopped in %v", time.Since(start).Round(time.Millisecond))
		if resp, err := http.Get(b.JWKSURL); err == nil {
			resp.Body.Close()
			t.Fatalf("B's JWKS still answers %s after Stop", resp.Status)
		}
		verify(t, token, bKeys, b.Issuer, hubAudience)
		b.Stop(t) // idempotent
	})
}

// fetchKeys fetches a JWKS and decodes its RSA keys by kid.
func fetchKeys(t *testing.T, url string) map[string]*rsa.PublicKey {
	t.Helper()
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, N, E string
		} `json:"keys"`
	}
	getJSON(t, url, &set)
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" {
			t.Fatalf("JWKS %s: key %s is %s %s", url, k.Kid, k.Kty, k.Alg)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			t.Fatalf("JWKS %s: key %s: n %v, e %v", url, k.Kid, err1, err2)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		t.Fatalf("JWKS %s has no keys", url)
	}
	return keys
}

// parse verifies token as the hub will: RS256 only, the key by kid, the
// issuer, the audience and an expiry.
func parse(token string, keys map[string]*rsa.PublicKey, issuer, audience string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		k, _ := tok.Header["kid"].(string)
		if key := keys[k]; key != nil {
			return key, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithExpirationRequired())
	return claims, err
}

func verify(t *testing.T, token string, keys map[string]*rsa.PublicKey, issuer, audience string) jwt.MapClaims {
	t.Helper()
	claims, err := parse(token, keys, issuer, audience)
	if err != nil {
		t.Fatalf("token with kid %s does not verify (issuer %s, audience %s, kids %v): %v", kid(t, token), issuer, audience, keyIDs(keys), err)
	}
	return claims
}

// kid returns the token's kid header, unverified.
func kid(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	k, _ := tok.Header["kid"].(string)
	return k
}

func keyIDs(keys map[string]*rsa.PublicKey) []string {
	var ids []string
	for k := range keys {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	return ids
}

// nested returns claims[path[0]][path[1]]... as a list, or nil.
func nested(claims map[string]any, path ...string) []any {
	var v any = claims
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	l, _ := v.([]any)
	return l
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
