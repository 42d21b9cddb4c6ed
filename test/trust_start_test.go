package liaison_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrustStartErrors starts "liaison serve --trust" on trust files that are
// wrong, or name providers that answer wrong, and checks that the hub refuses
// to start with an error naming the file's line and saying what is wrong.
// The providers here are httptest servers: no OpenID provider is needed.
func TestTrustStartErrors(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	var base string
	mux := http.NewServeMux()
	mux.HandleFunc("/wrong-issuer/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer": "https://someone-else.example", "jwks_uri": "%s/jwks"}`, base)
	})
	mux.HandleFunc("/garbage/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html>not a discovery document</html>`)
	})
	mux.HandleFunc("/weak/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer": "%s/weak", "jwks_uri": "%s/weak/jwks"}`, base, base)
	})
	mux.HandleFunc("/weak/jwks", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"keys":[{"kty":"RSA","kid":"weak","alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
			b64(weak.N.Bytes()), b64(big.NewInt(int64(weak.E)).Bytes()))
	})
	mux.HandleFunc("/mismatch/jwks", func(w http.ResponseWriter, r *http.Request) {
		strong, _ := rsa.GenerateKey(rand.Reader, 2048)
		fmt.Fprintf(w, `{"keys":[{"kty":"RSA","kid":"k","alg":"ES256","n":%q,"e":"AQAB"}]}`, b64(strong.N.Bytes()))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base = srv.URL
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // a provider that does not answer

	issuer := func(iss, keys string) string {
		return fmt.Sprintf(`issuers:
  - alias: north-prison
    issuer: %s
    %s
    audience: liaison-hub
    organisations: [prison-service]
    organisation: prison-service
`, iss, keys)
	}
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"a discovery document naming another issuer",
			issuer(base+"/wrong-issuer", "discovery: "+base+"/wrong-issuer/.well-known/openid-configuration"),
			[]string{"trust.yaml:2: issuers[0] (north-prison)", `the document's issuer is "https://someone-else.example"`}},
		{"a discovery document that is not one",
			issuer(base+"/garbage", "discovery: "+base+"/garbage/.well-known/openid-configuration"),
			[]string{"trust.yaml:2: issuers[0] (north-prison)", "not a discovery document"}},
		{"a provider that does not answer",
			issuer(down.URL, "discovery: "+down.URL+"/.well-known/openid-configuration"),
			[]string{"trust.yaml:2: issuers[0] (north-prison)", "discovery " + down.URL}},
		{"a JWKS with a 1024-bit RSA key",
			issuer(base+"/weak", "discovery: "+base+"/weak/.well-known/openid-configuration"),
			[]string{"trust.yaml:2: issuers[0] (north-prison)", "an RSA key of 1024 bits, under 2048"}},
		{"a JWKS whose key's alg does not fit its type",
			issuer(base+"/mismatch", "jwks_url: "+base+"/mismatch/jwks"),
			[]string{"trust.yaml:2: issuers[0] (north-prison)", "alg ES256 does not fit its key type (RS256)"}},
		{"an organisation outside the directory",
			strings.Replace(issuer(base, "jwks_url: "+base+"/weak/jwks"), "organisations: [prison-service]", "organisations: [prison-service, nobody]", 1),
			[]string{"trust.yaml:6: issuers[0].organisations[1]", `"nobody" is not an organisation of the policy's directory`}},
	} {
		t.Run(c.name+" stops the start", func(t *testing.T) {
			dir := t.TempDir()
			trust := filepath.Join(dir, "trust.yaml")
			writeFile(t, trust, c.file)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--admin-addr", "off",
				"--data", filepath.Join(dir, "data"), "--trust", trust).CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("the hub did not refuse to start (%v):\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the error does not say %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "listening") {
				t.Errorf("the hub listened before refusing:\n%s", out)
			}
		})
	}
}
