package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/policies"
)

// catalogue is the default protocol's directory and roles.
func catalogue(t *testing.T) api.Catalogue {
	t.Helper()
	b := policies.Default()
	dir, err := b.Directory()
	if err != nil {
		t.Fatal(err)
	}
	return api.Catalogue{Directory: dir, Roles: b.Roles}
}

// validTrust is a trust file with two issuers, one of each kind; jwks is the
// JWKS file both read their keys from.
func validTrust(jwks string) string {
	return `# two providers
issuers:
  - alias: north-prison
    label: Prison service (HMP North)
    issuer: https://idp.north.example
    jwks_file: ` + jwks + `
    audience: liaison-hub
    organisations: [prison-service]
    organisation: prison-service
    roles_claim: groups
    roles:
      caseworkers: caseworker
      security: [security-officer]
    clients:
      - client_id: north-cms
        organisation: prison-service
        roles: [caseworker]
  - alias: civic
    issuer: https://idp.civic.example
    jwks_file: ` + jwks + `
    audience: liaison-hub
    organisations: [exit-ngo, family-support]
    organisation_claim: org
    roles_claim: realm_access.roles
    roles:
      mentor: mentor
      counsellor: counsellor
`
}

func TestTrustFileParses(t *testing.T) {
	cat := catalogue(t)
	tf, err := api.ParseTrust("trust.yaml", []byte(validTrust("keys.json")), cat)
	if err != nil {
		t.Fatal(err)
	}
	if len(tf.Issuers) != 2 {
		t.Fatalf("%d issuers, want 2", len(tf.Issuers))
	}
	north, civic := tf.Issuers[0], tf.Issuers[1]
	if north.Alias != "north-prison" || north.Line != 3 || north.Mapping.Organisation != "prison-service" ||
		!slices.Equal(north.Mapping.Roles["security"], []string{"security-officer"}) || north.Mapping.Clients["north-cms"].Organisation != "prison-service" {
		t.Errorf("north: %+v", north)
	}
	if civic.Line != 18 || civic.Mapping.OrganisationClaim != "org" || civic.Mapping.RolesClaim != "realm_access.roles" {
		t.Errorf("civic: %+v", civic)
	}
	json := `{"issuers": [{"alias": "north", "issuer": "https://idp.north.example",
	  "discovery": "https://idp.north.example/.well-known/openid-configuration",
	  "audience": "liaison-hub", "organisations": ["prison-service"], "organisation": "prison-service",
	  "console": {"client_id": "liaison-console"}}]}`
	tf, err = api.ParseTrust("trust.json", []byte(json), cat)
	if err != nil {
		t.Fatalf("the JSON trust file is refused: %v", err)
	}
	if got := tf.Issuers[0]; got.ConsoleClientID != "liaison-console" || !slices.Equal(got.ConsoleScopes, api.DefaultConsoleScopes) {
		t.Errorf("console client %q, scopes %v", got.ConsoleClientID, got.ConsoleScopes)
	}
}

// TestTrustFileErrorsNameTheLine changes one line of a valid file at a time:
// each fault is refused with an error naming its line and its field.
func TestTrustFileErrorsNameTheLine(t *testing.T) {
	cat := catalogue(t)
	base := validTrust("keys.json")
	replace := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("the base file has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	for _, c := range []struct {
		name, file string
		line       int
		field      string
		says       string
	}{
		{"not YAML", replace("    audience: liaison-hub\n", "    audience: [liaison-hub\n"), 7, "", "not YAML or JSON"},
		{"an unknown field", replace("    label: Prison", "    lable: Prison"), 4, "issuers[0].lable", "unknown field"},
		{"a field given twice", replace("    roles_claim: groups\n", "    roles_claim: groups\n    roles_claim: groups\n"), 11, "issuers[0].roles_claim", "given twice"},
		{"a missing audience", replace("    audience: liaison-hub\n    organisations: [prison-service]", "    organisations: [prison-service]"), 3, "issuers[0].audience", "is required"},
		{"an alias that is not a short id", replace("alias: north-prison", "alias: North Prison"), 3, "issuers[0].alias", "not a short id"},
		{"the same alias twice", replace("alias: civic", "alias: north-prison"), 18, "issuers[1].alias", "also the alias"},
		{"an http issuer off loopback", replace("issuer: https://idp.north.example", "issuer: http://idp.north.example"), 5, "issuers[0].issuer", "only https"},
		{"two key sources", replace("    jwks_file: keys.json\n    audience", "    jwks_file: keys.json\n    jwks_url: https://idp.north.example/jwks\n    audience"), 3, "issuers[0]", "exactly one of discovery"},
		{"an organisation outside the directory", replace("organisations: [exit-ngo, family-support]", "organisations: [exit-ngo, nobody]"), 22, "issuers[1].organisations[1]", `"nobody" is not an organisation`},
		{"a fixed organisation not bound", replace("    organisation: prison-service\n", "    organisation: exit-ngo\n"), 9, "issuers[0].organisation", "not one of the issuer's organisations"},
		{"no organisation at all", replace("    organisation_claim: org\n", ""), 18, "issuers[1].organisation", "is required"},
		{"a role the type does not know", replace("caseworkers: caseworker", "caseworkers: analyst"), 12, "issuers[0].roles.caseworkers", `"analyst" is not a role`},
		{"a role of another bound type", replace("counsellor: counsellor", "counsellor: caseworker"), 27, "issuers[1].roles.counsellor", `"caseworker" is not a role`},
		{"a bad claim path", replace("roles_claim: realm_access.roles", "roles_claim: realm_access..roles"), 24, "issuers[1].roles_claim", "not a claim path"},
		{"a machine client of another organisation", replace("        organisation: prison-service\n        roles", "        organisation: exit-ngo\n        roles"), 16, "issuers[0].clients[0].organisation", "not one of the issuer's organisations"},
		{"a machine client's unknown role", replace("        roles: [caseworker]", "        roles: [mentor]"), 17, "issuers[0].clients[0].roles[0]", `"mentor" is not a role`},
		{"a console without discovery", replace("    roles_claim: groups\n", "    roles_claim: groups\n    console: {client_id: c}\n"), 11, "issuers[0].console", "needs discovery"},
		{"issuers not a list", "issuers: {alias: x}\n", 1, "issuers", "must be a list"},
		{"an empty file", "", 1, "", "empty"},
	} {
		t.Run(c.name+" is refused on line "+fmt.Sprint(c.line), func(t *testing.T) {
			_, err := api.ParseTrust("trust.yaml", []byte(c.file), cat)
			var te *api.TrustError
			if !errors.As(err, &te) {
				t.Fatalf("error %v, want a *TrustError", err)
			}
			line := te.Line
			if c.says == "not YAML or JSON" && line == c.line-1 {
				line = c.line // the parser may notice a fault on the line before it
			}
			if line != c.line || te.Field != c.field || !strings.Contains(te.Msg, c.says) {
				t.Errorf("got line %d, field %q: %s\nwant line %d, field %q, saying %q", te.Line, te.Field, te.Msg, c.line, c.field, c.says)
			}
			if want := fmt.Sprintf("trust.yaml:%d: ", te.Line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%q does not start with %q", err, want)
			}
		})
	}
}

// TestClaimMapping verifies tokens of two issuers read from a trust file and
// checks the identity each maps to, or why it is refused.
func TestClaimMapping(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	jwks := filepath.Join(dir, "keys.json")
	os.WriteFile(jwks, []byte(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`, base64.RawURLEncoding.EncodeToString(pub))), 0o600)
	tf, err := api.ParseTrust("trust.yaml", []byte(validTrust(jwks)), catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := tf.Open(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := api.NewTrustVerifier(trust.Issuers, clock)
	token := func(iss string, c jwt.MapClaims) string {
		c["iss"], c["aud"], c["exp"], c["iat"] = iss, "liaison-hub", now.Add(time.Hour).Unix(), now.Unix()
		return sign(t, jwt.SigningMethodEdDSA, priv, "k1", c)
	}
	north, civic := "https://idp.north.example", "https://idp.civic.example"
	for _, c := range []struct {
		name          string
		token         string
		sub, agency   string
		roles         []string
		refusedSaying string
	}{
		{name: "a prison user's groups map to roles; the subject is namespaced",
			token: token(north, jwt.MapClaims{"sub": "anna", "groups": []string{"caseworkers", "security", "staff"}}),
			sub:   "north-prison:anna", agency: "prison-service", roles: []string{"caseworker", "security-officer"}},
		{name: "the other provider's anna is another subject",
			token: token(civic, jwt.MapClaims{"sub": "anna", "org": "exit-ngo", "realm_access": map[string]any{"roles": []string{"mentor", "admin"}}}),
			sub:   "civic:anna", agency: "exit-ngo", roles: []string{"mentor"}},
		{name: "a role mapped outside the organisation's type is dropped",
			token: token(civic, jwt.MapClaims{"sub": "bo", "org": "family-support", "realm_access": map[string]any{"roles": []string{"mentor", "counsellor"}}}),
			sub:   "civic:bo", agency: "family-support", roles: []string{"counsellor"}},
		{name: "no roles claim is no role",
			token: token(civic, jwt.MapClaims{"sub": "cy", "org": "exit-ngo"}),
			sub:   "civic:cy", agency: "exit-ngo", roles: []string{}},
		{name: "a machine client gets the trust file's organisation and roles",
			token: token(north, jwt.MapClaims{"sub": "north-cms", "client_id": "north-cms"}),
			sub:   "north-prison:north-cms", agency: "prison-service", roles: []string{"caseworker"}},
		{name: "an organisation not bound to the issuer is refused",
			token:         token(civic, jwt.MapClaims{"sub": "eve", "org": "intelligence-service"}),
			refusedSaying: `organisation "intelligence-service" is not bound`},
		{name: "a fixed-organisation issuer's token naming another agency is refused",
			token:         token(north, jwt.MapClaims{"sub": "eve", "agency": "exit-ngo", "groups": []string{"caseworkers"}}),
			refusedSaying: `organisation "exit-ngo" is not bound`},
		{name: "a client-credentials token of an unlisted client is refused",
			token:         token(north, jwt.MapClaims{"sub": "other-app", "client_id": "other-app"}),
			refusedSaying: "not a machine client"},
		{name: "a missing organisation claim is refused",
			token:         token(civic, jwt.MapClaims{"sub": "eve"}),
			refusedSaying: "claim org is missing"},
		{name: "a roles claim that is not strings is refused",
			token:         token(civic, jwt.MapClaims{"sub": "eve", "org": "exit-ngo", "realm_access": map[string]any{"roles": []any{1}}}),
			refusedSaying: "not only strings"},
		{name: "an untrusted issuer is refused",
			token:         token("https://idp.evil.example", jwt.MapClaims{"sub": "eve", "org": "exit-ngo"}),
			refusedSaying: "not trusted"},
		{name: "the development issuer is not trusted under a trust file",
			token:         token(api.DevIssuer, jwt.MapClaims{"sub": "eve", "agency": "exit-ngo", "roles": []string{}}),
			refusedSaying: "not trusted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), c.token)
			if c.refusedSaying != "" {
				if err == nil || !strings.Contains(err.Error(), c.refusedSaying) {
					t.Fatalf("got %+v, %v; want refused saying %q", got, err, c.refusedSaying)
				}
				claimed := v.Claimed(c.token)
				if claimed == nil || claimed.Issuer == "" || claimed.Subject == "" {
					t.Errorf("the refused token's claims for the record: %+v", claimed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != c.sub || got.Agency != c.agency || !slices.Equal(got.Roles, c.roles) {
				t.Errorf("got %s of %s with %q; want %s of %s with %q", got.Subject, got.Agency, got.Roles, c.sub, c.agency, c.roles)
			}
		})
	}
	t.Run("the record of a refused token names what it claimed", func(t *testing.T) {
		c := v.Claimed(token(civic, jwt.MapClaims{"sub": "eve", "org": "intelligence-service", "realm_access": map[string]any{"roles": []string{"analyst"}}}))
		if c.Issuer != civic || c.Subject != "civic:eve" || c.Agency != "intelligence-service" || !slices.Equal(c.Roles, []string{"analyst"}) {
			t.Errorf("claimed %+v", c)
		}
	})
}

// TestShortRSAKeysAreRefused: a JWKS holding an RSA key under 2048 bits is
// refused when read.
func TestShortRSAKeysAreRefused(t *testing.T) {
	_, err := api.ParseJWKS([]byte(weakJWKS(t)))
	if err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("a JWKS with a 1024-bit RSA key: %v", err)
	}
}

// weakJWKS returns a JWKS holding one 1024-bit RSA key.
func weakJWKS(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"weak","alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
		b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
}
