package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/api"
)

// TestUnknownKeyIDsRefreshTheKeySetAtMostOncePerInterval: tokens naming key
// ids the provider never published are refused, and a flood of them makes
// the hub fetch the provider's key set at most once per
// api.JWKSUnknownKIDRefresh beyond its first fetch, so that an attacker
// cannot make the hub hammer the provider; a key the provider adds later is
// taken on that one refresh.
func TestUnknownKeyIDsRefreshTheKeySetAtMostOncePerInterval(t *testing.T) {
	_, first, _ := ed25519.GenerateKey(rand.Reader)
	_, second, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := func(kid string, k ed25519.PrivateKey) string {
		return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":%q,"x":%q}`, kid, b64(k.Public().(ed25519.PublicKey)))
	}
	var fetches atomic.Int32
	var rotated atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		keys := jwk("k1", first)
		if rotated.Load() {
			keys += "," + jwk("k2", second)
		}
		fmt.Fprintf(w, `{"keys":[%s]}`, keys)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := api.RemoteJWKS(ctx, srv.URL, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := fetches.Load()
	v := api.NewVerifier(keys, "https://idp.example", "liaison", clock)
	c := claims(func(c *api.Claims) { c.Issuer = "https://idp.example"; c.Audience = jwt.ClaimStrings{"liaison"} })
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, first, "k1", c)); err != nil {
		t.Fatalf("a token of the published key refused: %v", err)
	}
	// The provider publishes k2; the first unknown kid refreshes and finds it.
	rotated.Store(true)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, second, "k2", c)); err != nil {
		t.Fatalf("a token of the key the provider added refused: %v", err)
	}
	for i := range 50 {
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodEdDSA, second, fmt.Sprintf("forged-%d", i), c)); err == nil {
			t.Fatalf("a token naming the unknown key forged-%d was accepted", i)
		}
	}
	if n := fetches.Load() - start; n > 1 {
		t.Errorf("the key set was fetched %d times for 51 tokens naming unknown keys within a minute, want at most 1", n)
	}
}
