package idp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// SetUser sets who the login and consent app signs in from now on: the
// subject, and the claims that both the ID token and the access token session
// carry (nested maps make nested claims, such as
// {"realm_access": {"roles": [...]}}). Access tokens carry at the top level
// only the claims named in Options.TopLevelClaims, and all of them under
// "ext". Claims must encode as JSON; SetUser panics otherwise.
func (p *Provider) SetUser(subject string, claims map[string]any) {
	if claims == nil {
		claims = map[string]any{}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("idp: SetUser(%q): the claims do not encode as JSON: %v", subject, err))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subject, p.claims = subject, b
}

// loginConsentApp is what Hydra redirects the browser to: /login accepts
// every login challenge for the user SetUser set, handing the claims on
// through the login context; /consent grants every requested scope and
// audience, with those claims in the session of both tokens; /error shows
// Hydra's error.
func (p *Provider) loginConsentApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("login_challenge")
		var req struct {
			Skip    bool   `json:"skip"`
			Subject string `json:"subject"`
		}
		q := "?login_challenge=" + url.QueryEscape(challenge)
		if err := p.admin(http.MethodGet, "/admin/oauth2/auth/requests/login"+q, nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		p.mu.Lock()
		subject, claims := p.subject, p.claims
		p.mu.Unlock()
		if subject == "" {
			http.Error(w, "idp: no user to sign in: call Provider.SetUser first", http.StatusForbidden)
			return
		}
		if req.Skip {
			subject = req.Subject // Hydra requires the subject it remembers
		}
		accept := map[string]any{
			"subject":  subject,
			"remember": false,
			"context":  map[string]any{"claims": claims},
		}
		var redirect struct {
			To string `json:"redirect_to"`
		}
		if err := p.admin(http.MethodPut, "/admin/oauth2/auth/requests/login/accept"+q, accept, &redirect); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, redirect.To, http.StatusFound)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		var req struct {
			Scopes    []string `json:"requested_scope"`
			Audiences []string `json:"requested_access_token_audience"`
			Context   struct {
				Claims json.RawMessage `json:"claims"`
			} `json:"context"`
		}
		q := "?consent_challenge=" + url.QueryEscape(challenge)
		if err := p.admin(http.MethodGet, "/admin/oauth2/auth/requests/consent"+q, nil, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		claims := req.Context.Claims
		if len(claims) == 0 || string(claims) == "null" {
			claims = json.RawMessage("{}")
		}
		accept := map[string]any{
			"grant_scope":                 nonNil(req.Scopes),
			"grant_access_token_audience": nonNil(req.Audiences),
			"remember":                    false,
			"session":                     map[string]any{"id_token": claims, "access_token": claims},
		}
		var redirect struct {
			To string `json:"redirect_to"`
		}
		if err := p.admin(http.MethodPut, "/admin/oauth2/auth/requests/consent/accept"+q, accept, &redirect); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, redirect.To, http.StatusFound)
	})
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Error(w, fmt.Sprintf("Hydra error %s: %s %s", q.Get("error"), q.Get("error_description"), q.Get("error_hint")), http.StatusBadRequest)
	})
	return mux
}

// CreateClientCredentialsClient registers a confidential client (secret in
// HTTP basic authentication) for the client-credentials grant, allowed the
// given access-token audiences (Options.Audiences when nil) and any scope. An
// empty id lets Hydra choose one. It returns the client's id and secret.
func (p *Provider) CreateClientCredentialsClient(t testing.TB, id string, audience []string) (clientID, secret string) {
	t.Helper()
	if audience == nil {
		audience = p.opts.Audiences
	}
	secret = randomString(24)
	body := map[string]any{
		"client_id":                  id,
		"client_secret":              secret,
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{"token"},
		"token_endpoint_auth_method": "client_secret_basic",
		"audience":                   nonNil(audience),
		"scope":                      "*", // the wildcard strategy: any scope
	}
	var created struct {
		ID string `json:"client_id"`
	}
	if err := p.admin(http.MethodPost, "/admin/clients", body, &created); err != nil {
		p.fatalf(t, "creating client-credentials client %q: %v", id, err)
	}
	return created.ID, secret
}

// ClientCredentialsToken runs the client-credentials grant and returns the
// access token, a JWT signed with the provider's current access-token key.
// The audience and scopes requested must be among those the client may
// request; nil audience requests none, and the token's aud is then empty.
func (p *Provider) ClientCredentialsToken(t testing.TB, clientID, secret string, audience []string, scopes ...string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if len(audience) > 0 {
		form.Set("audience", strings.Join(audience, " "))
	}
	tok := p.token(t, form, clientID, secret)
	return tok.AccessToken
}

// CreatePublicClient registers a public client (token_endpoint_auth_method
// none, so PKCE stands in for the secret) for the authorization-code and
// refresh-token grants, with the given redirect URIs, the scopes
// PublicClientScopes and Options.Scopes, and the audiences Options.Audiences.
// An empty id lets Hydra choose one. It returns the client's id.
func (p *Provider) CreatePublicClient(t testing.TB, id string, redirectURIs []string) string {
	t.Helper()
	body := map[string]any{
		"client_id":                  id,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"redirect_uris":              nonNil(redirectURIs),
		"scope":                      strings.Join(append(slices.Clone(PublicClientScopes), p.opts.Scopes...), " "),
		"audience":                   nonNil(p.opts.Audiences),
	}
	var created struct {
		ID string `json:"client_id"`
	}
	if err := p.admin(http.MethodPost, "/admin/clients", body, &created); err != nil {
		p.fatalf(t, "creating public client %q: %v", id, err)
	}
	return created.ID
}

// SetPostLogoutRedirectURIs sets the URIs a client may ask the provider to
// send the browser back to after RP-initiated logout (OpenID Connect
// RP-Initiated Logout 1.0): without one registered, Hydra refuses a logout
// request that names one.
func (p *Provider) SetPostLogoutRedirectURIs(t testing.TB, clientID string, uris []string) {
	t.Helper()
	patch := []map[string]any{{"op": "replace", "path": "/post_logout_redirect_uris", "value": nonNil(uris)}}
	if err := p.admin(http.MethodPatch, "/admin/clients/"+url.PathEscape(clientID), patch, nil); err != nil {
		p.fatalf(t, "setting the post-logout redirect URIs of client %q: %v", clientID, err)
	}
}

// AuthCodeFlow signs in the user set by SetUser through the
// authorization-code flow with PKCE (S256), as a browser would but with an
// http.Client and a fresh cookie jar: the authorization endpoint, the login
// app, the consent app, then the redirect to redirectURI (not followed: the
// code is read from its Location) and the code's exchange at the token
// endpoint with the verifier. It requests the scopes given (by default
// PublicClientScopes) and the audiences Options.Audiences. The refresh token
// is empty unless offline_access is among the scopes.
func (p *Provider) AuthCodeFlow(t testing.TB, clientID, redirectURI string, scopes ...string) (idToken, accessToken, refreshToken string) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = PublicClientScopes
	}
	redirect, err := url.Parse(redirectURI)
	if err != nil {
		t.Fatalf("idp: redirect URI %q: %v", redirectURI, err)
	}
	verifier := randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomString(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {state},
		"nonce":                 {randomString(16)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if len(p.opts.Audiences) > 0 {
		q.Set("audience", strings.Join(p.opts.Audiences, " "))
	}
	jar, _ := cookiejar.New(nil)
	var hops []string
	browser := &http.Client{
		Jar:     jar,
		Timeout: time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			hops = append(hops, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
			if req.URL.Scheme == redirect.Scheme && req.URL.Host == redirect.Host && req.URL.Path == redirect.Path {
				return http.ErrUseLastResponse
			}
			if len(via) >= 20 {
				return errors.New("more than 20 redirects")
			}
			return nil
		},
	}
	resp, err := browser.Get(p.AuthURL + "?" + q.Encode())
	if err != nil {
		p.fatalf(t, "authorization-code flow for client %q: %v (via %v)", clientID, err, hops)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	loc, _ := resp.Location()
	if loc == nil || loc.Scheme != redirect.Scheme || loc.Host != redirect.Host || loc.Path != redirect.Path {
		p.fatalf(t, "authorization-code flow for client %q ended at %s with %s instead of a redirect to %s (via %v): %s",
			clientID, resp.Request.URL.Redacted(), resp.Status, redirectURI, hops, body)
	}
	got := loc.Query()
	if e := got.Get("error"); e != "" {
		p.fatalf(t, "authorization-code flow for client %q: the provider redirected with error %s: %s %s",
			clientID, e, got.Get("error_description"), got.Get("error_hint"))
	}
	if got.Get("state") != state {
		p.fatalf(t, "authorization-code flow for client %q: state %q came back as %q", clientID, state, got.Get("state"))
	}
	code := got.Get("code")
	if code == "" {
		p.fatalf(t, "authorization-code flow for client %q: no code in %s", clientID, loc.Redacted())
	}
	tok := p.token(t, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"code_verifier": {verifier},
	}, "", "")
	return tok.IDToken, tok.AccessToken, tok.RefreshToken
}

// Refresh exchanges a refresh token of a public client for new tokens. Hydra
// rotates refresh tokens: the one given is spent, and the returned one
// replaces it.
func (p *Provider) Refresh(t testing.TB, clientID, refreshToken string) (idToken, accessToken, newRefreshToken string) {
	t.Helper()
	tok := p.token(t, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {clientID},
	}, "", "")
	return tok.IDToken, tok.AccessToken, tok.RefreshToken
}

// RotateKeys adds a new RS256 key to the access-token and the ID-token key
// sets through the admin API, so that every token issued from now on is
// signed with a new kid. The former keys stay in the sets, in the JWKS, and
// valid. It returns the new kids.
func (p *Provider) RotateKeys(t testing.TB) (accessTokenKID, idTokenKID string) {
	t.Helper()
	return p.rotate(t, AccessTokenKeySet), p.rotate(t, IDTokenKeySet)
}

// rotate adds a key to set and checks that Hydra now signs with it: Hydra
// signs with the set's latest key by creation time, so a key created in the
// same clock tick as the one before may not come first; it is then added
// again.
func (p *Provider) rotate(t testing.TB, set string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		kid := strings.TrimPrefix(set, "hydra.") + "-" + randomString(8)
		body := map[string]string{"alg": "RS256", "use": "sig", "kid": kid}
		if err := p.admin(http.MethodPost, "/admin/keys/"+set, body, nil); err != nil {
			p.fatalf(t, "creating a key in %s: %v", set, err)
		}
		var keys struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := p.admin(http.MethodGet, "/admin/keys/"+set, nil, &keys); err != nil {
			p.fatalf(t, "reading key set %s: %v", set, err)
		}
		if len(keys.Keys) > 0 && keys.Keys[0].KID == kid {
			return kid
		}
		if attempt == 3 {
			p.fatalf(t, "key set %s: the new key %s is not the first of %+v", set, kid, keys.Keys)
		}
		t.Logf("idp: key set %s: the new key %s is not the first of %+v; adding another", set, kid, keys.Keys)
		time.Sleep(time.Second)
	}
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// token posts form to the token endpoint, with HTTP basic authentication
// when clientID and secret are given.
func (p *Provider) token(t testing.TB, form url.Values, clientID, secret string) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		// RFC 6749 2.3.1: both are form-encoded before basic authentication.
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.fatalf(t, "%s grant: %v", form.Get("grant_type"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok tokenResponse
	if resp.StatusCode != http.StatusOK {
		p.fatalf(t, "%s grant: %s: %s", form.Get("grant_type"), resp.Status, body)
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		p.fatalf(t, "%s grant: no access token in %s (%v)", form.Get("grant_type"), body, err)
	}
	return tok
}

// admin calls the admin API: method on path (with its query), body encoded
// as JSON when not nil, and the answer decoded into out when not nil. Any
// status but 200 and 201 is an error quoting Hydra's answer.
func (p *Provider) admin(method, path string, body, out any) error {
	status, text, err := p.do(method, p.AdminURL+path, body, out)
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return fmt.Errorf("%s %s: %d %s", method, path, status, text)
	}
	return nil
}

// do sends a JSON request and decodes a 2xx JSON answer into out; it
// returns the status and, for other statuses, the body.
func (p *Provider) do(method, u string, body, out any) (int, string, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, string(b), nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, string(b), fmt.Errorf("%s %s: decoding %s: %v", method, u, b, err)
		}
	}
	return resp.StatusCode, "", nil
}

// fatalf fails the test, saying whether Hydra is still running.
func (p *Provider) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	select {
	case <-p.done:
		msg += fmt.Sprintf("\n(Hydra %s is not running: %v; its log ends:\n%s)", p.Issuer, p.cmd.ProcessState, tail(p.log.String(), 20))
	default:
	}
	t.Fatalf("idp: %s", msg)
}

// randomString returns n random bytes, hex-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nonNil makes nil slices encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
