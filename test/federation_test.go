package liaison_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/test/idp"
)

// The identity federation of docs/operations.md ("Connecting identity
// providers") against real OpenID providers: two Ory Hydras (test/idp) stand
// for the prison's provider and the civil-society organisations' one, and a
// JWKS file for the oversight body's. The hub runs with a trust file naming
// the three.

// hubAudience is the audience of the hub's tokens at every provider.
const hubAudience = "liaison-hub"

// federation is a hub trusting two Hydras and a JWKS file.
type federation struct {
	hub           *hub
	origin        string // the hub's http://host:port
	prison, civic *idp.Provider
	oversightKey  ed25519.PrivateKey
	oversightIss  string
	trustFile     string
	consoleClient string // the console's client id at both providers
	cmsID, cmsKey string // the prison's case-management system (client credentials)
	ngoID, ngoKey string // the exit organisation's system
}

// startFederation starts the providers, registers the console (a public
// client coming back to the hub's /ui/callback) and one machine client at
// each, writes the trust file and starts the hub on it. opts are the Hydras'
// options beyond the audience, the claims and CORS.
func startFederation(t *testing.T, opts idp.Options) *federation {
	t.Helper()
	idp.SkipIfDisabled(t)
	f := &federation{consoleClient: "liaison-console"}
	// The hub's address first: the providers must know the console's origin
	// (CORS for its token requests) and redirect URI before the hub can
	// read their discovery documents.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f.origin = "http://" + addr
	opts.Audiences = []string{hubAudience}
	opts.TopLevelClaims = append(slices.Clone(idp.DefaultTopLevelClaims), "agency")
	opts.Config = map[string]any{
		"serve.public.cors.enabled":         true,
		"serve.public.cors.allowed_origins": []string{f.origin},
	}
	start := time.Now()
	f.prison = idp.Start(t, opts)
	f.civic = idp.Start(t, opts)
	t.Logf("two Hydra %s providers started in %v", idp.HydraVersion, time.Since(start).Round(time.Millisecond))
	for _, p := range []*idp.Provider{f.prison, f.civic} {
		p.CreatePublicClient(t, f.consoleClient, []string{f.origin + "/ui/callback"})
		p.SetPostLogoutRedirectURIs(t, f.consoleClient, []string{f.origin + "/"})
	}
	f.cmsID, f.cmsKey = f.prison.CreateClientCredentialsClient(t, "prison-cms", nil)
	f.ngoID, f.ngoKey = f.civic.CreateClientCredentialsClient(t, "ngo-casefile", nil)

	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.oversightKey, f.oversightIss = priv, "https://oversight.test"
	jwks := filepath.Join(dir, "oversight-jwks.json")
	writeFile(t, jwks, fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ob-1","alg":"EdDSA","use":"sig","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub)))
	f.trustFile = filepath.Join(dir, "trust.yaml")
	writeFile(t, f.trustFile, fmt.Sprintf(`# The prison's provider asserts one organisation; the civic provider two,
# in a claim; the oversight body's keys are a file.
issuers:
  - alias: north-prison
    label: Prison service (HMP North)
    issuer: %[1]s
    discovery: %[2]s
    audience: %[7]s
    organisations: [prison-service]
    organisation: prison-service
    roles_claim: groups
    roles:
      caseworkers: caseworker
      security: security-officer
    console: {client_id: %[8]s}
    clients:
      - {client_id: prison-cms, organisation: prison-service, roles: [caseworker]}
  - alias: civic
    label: Exit work and family support
    issuer: %[3]s
    discovery: %[4]s
    audience: %[7]s
    organisations: [exit-ngo, family-support]
    organisation_claim: agency
    roles_claim: realm_access.roles
    roles: {mentor: mentor, counsellor: counsellor}
    console: {client_id: %[8]s}
    clients:
      - {client_id: ngo-casefile, organisation: exit-ngo, roles: [mentor]}
  - alias: oversight
    issuer: %[5]s
    jwks_file: %[6]s
    audience: %[7]s
    organisations: [oversight-board]
    organisation: oversight-board
`, f.prison.Issuer, f.prison.DiscoveryURL, f.civic.Issuer, f.civic.DiscoveryURL, f.oversightIss, jwks, hubAudience, f.consoleClient))
	start = time.Now()
	f.hub = startHub(t, "", "--addr", addr, "--trust", f.trustFile)
	t.Logf("the hub started on the trust file in %v", time.Since(start).Round(time.Millisecond))
	return f
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// oversightToken signs a token of the oversight body's issuer.
func (f *federation) oversightToken(t *testing.T, sub string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"iss": f.oversightIss, "aud": hubAudience, "sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = "ob-1"
	s, err := tok.SignedString(f.oversightKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// userToken signs sub in at p through the authorization-code flow with the
// given claims and returns the access token.
func (f *federation) userToken(t *testing.T, p *idp.Provider, sub string, claims map[string]any) string {
	t.Helper()
	p.SetUser(sub, claims)
	_, access, _ := p.AuthCodeFlow(t, f.consoleClient, f.origin+"/ui/callback", "openid")
	return access
}

// call sends a request with a bearer token, a purpose and a JSON body.
func (f *federation) call(t *testing.T, method, path, token, purpose string, body any) wireAnswer {
	t.Helper()
	r := wireRequest{name: method + " " + path, method: method, target: path, header: bearer(token, purpose)}
	if body != nil {
		r.body = mustJSON(t, body)
		r.header.Set("Content-Type", "application/json")
	}
	return sendWire(t, f.hub, r)
}

// fedRecord is an access record with the fields the federation checks.
type fedRecord struct {
	RequestID string   `json:"request_id"`
	Issuer    string   `json:"issuer"`
	Sub       string   `json:"sub"`
	Agency    string   `json:"agency"`
	Roles     []string `json:"roles"`
	Action    string   `json:"action"`
	Decision  string   `json:"decision"`
	Status    int      `json:"status"`
	Reasons   []string `json:"reasons"`
}

// records reads the whole access log as the oversight body's auditor, by
// request id.
func (f *federation) records(t *testing.T) map[string]fedRecord {
	t.Helper()
	auditor := f.oversightToken(t, "olga", jwt.MapClaims{"roles": []string{"auditor"}})
	out := map[string]fedRecord{}
	cursor := ""
	for {
		target := "/v1/audit/records?limit=1000"
		if cursor != "" {
			target += "&cursor=" + url.QueryEscape(cursor)
		}
		a := f.call(t, "GET", target, auditor, "oversight", nil)
		var page struct {
			Items      []fedRecord `json:"items"`
			NextCursor *string     `json:"next_cursor"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &page) != nil {
			t.Fatalf("the oversight auditor reads the access log: %d %s", a.status, a.body)
		}
		for _, r := range page.Items {
			out[r.RequestID] = r
		}
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

func TestFederation(t *testing.T) {
	start := time.Now()
	f := startFederation(t, idp.Options{AccessTokenTTL: 10 * time.Minute})
	var caseID string
	cms := f.prison.ClientCredentialsToken(t, f.cmsID, f.cmsKey, []string{hubAudience})
	// Minted now, presented only once the civic provider is down.
	ngoLater := f.civic.ClientCredentialsToken(t, f.ngoID, f.ngoKey, []string{hubAudience})

	t.Run("the console learns the providers, with no secret, and may reach their token endpoints", func(t *testing.T) {
		a := sendWire(t, f.hub, wireRequest{name: "providers", method: "GET", target: "/auth/providers"})
		var got struct {
			Providers []map[string]any `json:"providers"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &got) != nil || len(got.Providers) != 2 {
			t.Fatalf("GET /auth/providers: %d %s; want the two providers with a console client", a.status, a.body)
		}
		for i, p := range []*idp.Provider{f.prison, f.civic} {
			g := got.Providers[i]
			if g["issuer"] != p.Issuer || g["client_id"] != f.consoleClient || g["token_endpoint"] != p.TokenURL || g["authorization_endpoint"] != p.AuthURL {
				t.Errorf("provider %d: %v", i, g)
			}
		}
		for _, secret := range []string{f.cmsKey, f.ngoKey, "prison-cms", "ngo-casefile", "secret"} {
			if strings.Contains(string(a.body), secret) {
				t.Errorf("GET /auth/providers tells %q: %s", secret, a.body)
			}
		}
		csp := a.header.Get("Content-Security-Policy")
		for _, p := range []*idp.Provider{f.prison, f.civic} {
			if !strings.Contains(csp, "connect-src 'self' ") || !strings.Contains(csp, p.Issuer) {
				t.Errorf("the Content-Security-Policy %q does not let the console reach %s", csp, p.Issuer)
			}
		}
	})

	t.Run("partner systems with client credentials open, share and read a case", func(t *testing.T) {
		a := f.call(t, "POST", "/v1/cases", cms, "", map[string]any{"subject_ref": "P-2026-0701", "target_group": "returnee"})
		if a.status != http.StatusCreated {
			t.Fatalf("the prison's system opens a case: %d %s", a.status, a.body)
		}
		var opened struct {
			CaseID string `json:"case_id"`
		}
		json.Unmarshal(a.body, &opened)
		caseID = opened.CaseID
		if a := f.call(t, "POST", "/v1/cases/"+caseID+"/events", cms, "", map[string]any{"type": "ConsentGiven", "data": map[string]any{"organisations": []string{"exit-ngo"}}}); a.status != http.StatusCreated {
			t.Fatalf("consent: %d %s", a.status, a.body)
		}
		ngo := f.civic.ClientCredentialsToken(t, f.ngoID, f.ngoKey, []string{hubAudience})
		a = f.call(t, "GET", "/v1/cases/"+caseID+"/sections/profile", ngo, "reintegration", nil)
		if a.status != http.StatusOK {
			t.Fatalf("the exit organisation's system reads the shared case: %d %s", a.status, a.body)
		}
		var section struct {
			Items []struct {
				Author     *string `json:"author"`
				Originator string  `json:"originator"`
			} `json:"items"`
		}
		json.Unmarshal(a.body, &section)
		if len(section.Items) == 0 || section.Items[0].Author == nil || *section.Items[0].Author != "north-prison:prison-cms" || section.Items[0].Originator != "prison-service" {
			t.Errorf("the case was opened by %+v; want north-prison:prison-cms of prison-service", section.Items)
		}
	})
	if caseID == "" {
		t.FailNow()
	}

	t.Run("two providers' anna are two people, each with the organisation and roles of her provider", func(t *testing.T) {
		prisonAnna := f.userToken(t, f.prison, "anna", map[string]any{"groups": []string{"caseworkers", "staff"}})
		civicAnna := f.userToken(t, f.civic, "anna", map[string]any{"agency": "exit-ngo", "realm_access": map[string]any{"roles": []string{"mentor", "admin"}}})
		p := f.call(t, "GET", "/v1/cases/"+caseID, prisonAnna, "case-management", nil)
		c := f.call(t, "GET", "/v1/cases/"+caseID, civicAnna, "reintegration", nil)
		if p.status != http.StatusOK || c.status != http.StatusOK {
			t.Fatalf("the prison's anna reads %d, the civic anna %d: %s %s", p.status, c.status, p.body, c.body)
		}
		recs := f.records(t)
		for _, want := range []fedRecord{
			{RequestID: p.requestID, Issuer: f.prison.Issuer, Sub: "north-prison:anna", Agency: "prison-service", Roles: []string{"caseworker"}},
			{RequestID: c.requestID, Issuer: f.civic.Issuer, Sub: "civic:anna", Agency: "exit-ngo", Roles: []string{"mentor"}},
		} {
			got := recs[want.RequestID]
			if got.Issuer != want.Issuer || got.Sub != want.Sub || got.Agency != want.Agency || !slices.Equal(got.Roles, want.Roles) {
				t.Errorf("record %+v; want issuer %s, sub %s, agency %s, roles %v", got, want.Issuer, want.Sub, want.Agency, want.Roles)
			}
		}
	})

	t.Run("a provider asserting another provider's organisation is refused and recorded (R13)", func(t *testing.T) {
		type assertion struct {
			from, claims string // provider alias, the organisation the token claims
			token        string
		}
		var sent []assertion
		orgs := map[string][]string{"north-prison": {"prison-service"}, "civic": {"exit-ngo", "family-support"}, "oversight": {"oversight-board"}}
		for _, from := range []string{"north-prison", "civic", "oversight"} {
			for other, theirs := range orgs {
				if other == from {
					continue
				}
				for _, org := range theirs {
					var tok string
					switch from {
					case "north-prison":
						tok = f.userToken(t, f.prison, "mallory", map[string]any{"agency": org, "groups": []string{"caseworkers"}})
					case "civic":
						tok = f.userToken(t, f.civic, "mallory", map[string]any{"agency": org, "realm_access": map[string]any{"roles": []string{"mentor"}}})
					case "oversight":
						tok = f.oversightToken(t, "mallory", jwt.MapClaims{"agency": org, "roles": []string{"auditor"}})
					}
					sent = append(sent, assertion{from, org, tok})
				}
			}
		}
		// The issue's own example: the civic provider asserting the intelligence service.
		sent = append(sent, assertion{"civic", "intelligence-service",
			f.userToken(t, f.civic, "mallory", map[string]any{"agency": "intelligence-service", "realm_access": map[string]any{"roles": []string{"mentor"}}})})
		issuers := map[string]string{"north-prison": f.prison.Issuer, "civic": f.civic.Issuer, "oversight": f.oversightIss}
		ids := map[int]string{}
		for i, s := range sent {
			a := f.call(t, "GET", "/v1/cases/"+caseID, s.token, "case-management", nil)
			if a.status != http.StatusUnauthorized {
				t.Errorf("%s asserting %s: %d %s, want 401", s.from, s.claims, a.status, a.body)
			}
			ids[i] = a.requestID
		}
		recs := f.records(t)
		for i, s := range sent {
			r, ok := recs[ids[i]]
			switch {
			case !ok:
				t.Errorf("%s asserting %s: no access record", s.from, s.claims)
			case r.Decision != "deny" || r.Status != 401 || r.Issuer != issuers[s.from] || r.Sub != s.from+":mallory" || r.Agency != s.claims:
				t.Errorf("%s asserting %s: record %+v", s.from, s.claims, r)
			case !strings.Contains(strings.Join(r.Reasons, " "), "not bound to this issuer"):
				t.Errorf("%s asserting %s: the record's reasons %q do not say why", s.from, s.claims, r.Reasons)
			}
		}
		t.Logf("%d assertions across %d providers refused and recorded", len(sent), len(orgs))
	})

	t.Run("the provider rotates its signing key and the hub accepts new tokens without restart", func(t *testing.T) {
		accessKID, _ := f.prison.RotateKeys(t)
		tok := f.prison.ClientCredentialsToken(t, f.cmsID, f.cmsKey, []string{hubAudience})
		if got := kidOf(t, tok); got != accessKID {
			t.Fatalf("the new token has kid %s, want the new key's %s", got, accessKID)
		}
		if a := f.call(t, "GET", "/v1/cases/"+caseID, tok, "case-management", nil); a.status != http.StatusOK {
			t.Errorf("a token signed with the rotated key: %d %s", a.status, a.body)
		}
		if a := f.call(t, "GET", "/v1/cases/"+caseID, cms, "case-management", nil); a.status != http.StatusOK {
			t.Errorf("a token signed with the former key: %d %s", a.status, a.body)
		}
	})

	t.Run("a token whose algorithm does not fit the provider's key is refused", func(t *testing.T) {
		tok := f.prison.ClientCredentialsToken(t, f.cmsID, f.cmsKey, []string{hubAudience})
		head, _, _ := strings.Cut(tok, ".")
		var h map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(head)
		json.Unmarshal(b, &h)
		claims := jwt.MapClaims{}
		jwt.NewParser().ParseUnverified(tok, claims)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forged := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		forged.Header["kid"] = h["kid"]
		s, err := forged.SignedString(ec)
		if err != nil {
			t.Fatal(err)
		}
		a := f.call(t, "GET", "/v1/cases/"+caseID, s, "case-management", nil)
		if a.status != http.StatusUnauthorized {
			t.Fatalf("ES256 under the provider's RSA key id: %d %s", a.status, a.body)
		}
		if r := f.records(t)[a.requestID]; !strings.Contains(strings.Join(r.Reasons, " "), "algorithm ES256") {
			t.Errorf("the record's reasons %q do not name the algorithm", r.Reasons)
		}
	})

	t.Run("a provider that is down does not stop tokens signed with keys already fetched", func(t *testing.T) {
		f.civic.Stop(t)
		if a := f.call(t, "GET", "/v1/cases/"+caseID+"/sections/profile", ngoLater, "reintegration", nil); a.status != http.StatusOK {
			t.Errorf("a token of the stopped provider, never presented before: %d %s", a.status, a.body)
		}
	})
	t.Logf("TestFederation took %v", time.Since(start).Round(time.Millisecond))
}
