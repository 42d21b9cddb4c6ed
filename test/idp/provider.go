// Package idp runs a real OpenID provider, Ory Hydra (HydraVersion), for
// the tests of organisations that sign in through their own providers.
//
// Start builds Hydra once per machine (see Binary), runs it on free loopback
// ports with an in-memory database and JWT access tokens, and serves the
// login and consent app Hydra redirects to, which signs in the user chosen
// with SetUser. The package talks to Hydra over HTTP only and imports nothing
// from it, so the hub's module never carries Hydra's dependencies: those stay
// in the nested module test/idp/hydra.
//
// Set LIAISON_SKIP_IDP=1 to make the tests that use the provider skip (see
// SkipIfDisabled), and LIAISON_HYDRA to a prebuilt binary to skip the build.
package idp

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The key sets whose keys sign Hydra's tokens, the admin API's names for them.
const (
	// AccessTokenKeySet signs JWT access tokens.
	AccessTokenKeySet = "hydra.jwt.access-token"
	// IDTokenKeySet signs OpenID Connect ID tokens.
	IDTokenKeySet = "hydra.openid.id-token"
)

// PublicClientScopes are the scopes a client made by CreatePublicClient may
// request, before Options.Scopes.
var PublicClientScopes = []string{"openid", "offline_access", "profile"}

// DefaultTopLevelClaims are the claims that, when the user set by SetUser has
// them, JWT access tokens carry at the top level (Options.TopLevelClaims
// replaces the list). Hydra puts every other claim of the session only under
// the access token's "ext" claim.
var DefaultTopLevelClaims = []string{
	"groups", "roles", "realm_access", "resource_access",
	"org", "org_id", "organisation", "organization", "tenant",
	"email", "email_verified", "name", "preferred_username",
}

// startTimeout bounds the wait for Hydra's health endpoints.
const startTimeout = time.Minute

// stopGrace is how long Stop waits after an interrupt before killing Hydra.
const stopGrace = 10 * time.Second

// logLimit is how much of Hydra's output a Provider keeps (the latest).
const logLimit = 4 << 20

// SkipIfDisabled skips the test, with a one-line reason, when the environment
// variable LIAISON_SKIP_IDP is 1; otherwise it does nothing and the test
// builds and runs Hydra.
func SkipIfDisabled(t testing.TB) {
	t.Helper()
	if os.Getenv("LIAISON_SKIP_IDP") == "1" {
		t.Skip("LIAISON_SKIP_IDP=1: not building or running the Ory Hydra OpenID provider")
	}
}

// Options configure a provider started by Start. The zero value is a
// provider with Hydra's token lifetimes, no audiences, and
// DefaultTopLevelClaims.
type Options struct {
	// Audiences are the access-token audiences every client the provider
	// creates may request: CreatePublicClient allows them and AuthCodeFlow
	// requests them all, and CreateClientCredentialsClient allows them when
	// its audience argument is nil.
	Audiences []string
	// AccessTokenTTL, IDTokenTTL and RefreshTokenTTL are the tokens'
	// lifetimes, at least a second, or zero for Hydra's defaults (1h, 1h,
	// 720h). The exp claim has a resolution of a second.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL time.Duration
	// TopLevelClaims are the claims of the user's session that JWT access
	// tokens carry at the top level as well as under "ext" (Hydra's
	// oauth2.allowed_top_level_claims); nil means DefaultTopLevelClaims, an
	// empty non-nil slice none. ID tokens carry every claim at the top level
	// anyway.
	TopLevelClaims []string
	// ScopeClaim is how JWT access tokens carry their scopes: "list" (a "scp"
	// array, Hydra's default and the value for ""), "string" (a
	// space-separated "scope") or "both".
	ScopeClaim string
	// Scopes are further scopes, beyond PublicClientScopes, that clients made
	// by CreatePublicClient may request. Clients made by
	// CreateClientCredentialsClient may request any scope.
	Scopes []string
	// Config sets further Hydra configuration keys, dotted
	// ("oauth2.token_hook.url"); they override the harness's own.
	Config map[string]any
}

// Provider is a running Hydra with its login and consent app.
type Provider struct {
	// Issuer is the issuer of the provider's tokens and discovery document,
	// as Hydra writes it: "http://127.0.0.1:PORT", with no trailing slash.
	// It is also the base of the public API.
	Issuer string
	// AdminURL is the base of the admin API, "http://127.0.0.1:PORT".
	AdminURL string
	// DiscoveryURL is the OpenID discovery document's URL.
	DiscoveryURL string
	// JWKSURL is the URL of the key set that verifies both ID tokens and
	// access tokens (the discovery document's jwks_uri).
	JWKSURL string
	// AuthURL and TokenURL are the OAuth 2.0 authorization and token
	// endpoints.
	AuthURL, TokenURL string
	// LoginConsentURL is the base URL of the harness's login and consent app.
	LoginConsentURL string

	opts   Options
	client *http.Client
	app    *httptest.Server
	cmd    *exec.Cmd
	done   chan struct{}
	log    logBuffer
	config string

	mu      sync.Mutex
	subject string
	claims  json.RawMessage

	stopOnce sync.Once
}

// Start starts Hydra (Binary builds it) and its login and consent app, waits
// until Hydra's health endpoints answer, and stops both when the test ends.
// Hydra runs "serve all --dev" (plain HTTP) on two free ports of 127.0.0.1,
// with an in-memory SQLite database, a random system secret, JWT (RS256)
// access tokens and the wildcard scope strategy. Several providers may run at
// once; each has its own keys, clients and issuer.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	bin := Binary(t)
	p := &Provider{opts: opts, client: &http.Client{Timeout: time.Minute}}
	p.app = httptest.NewServer(p.loginConsentApp())
	p.LoginConsentURL = p.app.URL
	t.Cleanup(p.app.Close)
	for attempt := 1; ; attempt++ {
		msg, retry := p.launch(t, bin)
		if msg == "" {
			break
		}
		if !retry || attempt == 3 {
			t.Fatal(msg)
		}
		t.Logf("idp: %s; trying other ports", firstLine(msg))
		p.log.reset()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("idp: the last lines of Hydra %s's log:\n%s", p.Issuer, tail(p.log.String(), 60))
		}
		p.Stop(t)
	})
	return p
}

// launch runs Hydra once. It returns "" once Hydra is ready, or a message and
// whether trying other ports may help.
func (p *Provider) launch(t testing.TB, bin string) (msg string, retry bool) {
	t.Helper()
	ports, err := freePorts(2)
	if err != nil {
		return "idp: " + err.Error(), false
	}
	public := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	admin := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cfg, err := p.hydraConfig(ports[0], ports[1], public)
	if err != nil {
		return "idp: " + err.Error(), false
	}
	p.config = filepath.Join(t.TempDir(), "hydra.json")
	if err := os.WriteFile(p.config, cfg, 0o600); err != nil {
		return "idp: " + err.Error(), false
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "--config", p.config)
	// Only the configuration file configures Hydra: any environment variable
	// named like a configuration key (DSN, LOG_LEVEL, SERVE_PUBLIC_PORT...)
	// would override it.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Sprintf("idp: starting %s: %v", bin, err), false
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	check := &http.Client{Timeout: 2 * time.Second}
	for _, u := range []string{admin + "/health/ready", public + "/health/ready"} {
		for {
			resp, err := check.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-done:
				out := p.log.String()
				return fmt.Sprintf("idp: Hydra exited before it was ready (%v); its log ends:\n%s", cmd.ProcessState, tail(out, 30)),
					strings.Contains(out, "address already in use")
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				p.kill()
				return fmt.Sprintf("idp: %s did not answer within %v; Hydra's log ends:\n%s", u, startTimeout, tail(p.log.String(), 30)), false
			}
		}
	}

	var disc struct {
		Issuer   string `json:"issuer"`
		JWKSURI  string `json:"jwks_uri"`
		Auth     string `json:"authorization_endpoint"`
		Token    string `json:"token_endpoint"`
		Userinfo string `json:"userinfo_endpoint"`
	}
	discovery := public + "/.well-known/openid-configuration"
	if status, body, err := p.do(http.MethodGet, discovery, nil, &disc); err != nil || status != http.StatusOK {
		p.kill()
		return fmt.Sprintf("idp: GET %s: %d %v %s", discovery, status, err, body), false
	}
	if disc.Issuer != public {
		p.kill()
		return fmt.Sprintf("idp: Hydra's discovery document says issuer %q, configured %q", disc.Issuer, public), false
	}
	// Hydra generates its first keys (RSA 4096) when they are first needed;
	// asking for the JWKS has it generate both sets' keys here rather than in
	// the first test that fetches keys or tokens (a second or more each).
	if status, body, err := p.do(http.MethodGet, disc.JWKSURI, nil, nil); err != nil || status != http.StatusOK {
		p.kill()
		return fmt.Sprintf("idp: GET %s: %d %v %s", disc.JWKSURI, status, err, body), false
	}
	p.Issuer, p.AdminURL, p.DiscoveryURL = disc.Issuer, admin, discovery
	p.JWKSURL, p.AuthURL, p.TokenURL = disc.JWKSURI, disc.Auth, disc.Token
	return "", false
}

// hydraConfig returns Hydra's configuration file (JSON).
func (p *Provider) hydraConfig(publicPort, adminPort int, public string) ([]byte, error) {
	secret := randomString(24)
	top := p.opts.TopLevelClaims
	if top == nil {
		top = DefaultTopLevelClaims
	}
	ttl := map[string]any{}
	for key, d := range map[string]time.Duration{
		"access_token":  p.opts.AccessTokenTTL,
		"id_token":      p.opts.IDTokenTTL,
		"refresh_token": p.opts.RefreshTokenTTL,
	} {
		switch {
		case d == 0:
		case d < time.Second:
			return nil, fmt.Errorf("Options: a %s lifetime of %v is under a second", key, d)
		case d%time.Second == 0:
			ttl[key] = fmt.Sprintf("%ds", d/time.Second)
		default:
			ttl[key] = fmt.Sprintf("%dms", d.Milliseconds())
		}
	}
	scopeClaim := p.opts.ScopeClaim
	if scopeClaim == "" {
		scopeClaim = "list"
	}
	listen := func(port int) map[string]any {
		return map[string]any{"host": "127.0.0.1", "port": port, "request_log": map[string]any{"disable_for_health": true}}
	}
	cfg := map[string]any{
		"dev":   true,
		"dsn":   "memory",
		"log":   map[string]any{"level": "info", "format": "text"},
		"serve": map[string]any{"public": listen(publicPort), "admin": listen(adminPort)},
		"urls": map[string]any{
			"self":    map[string]any{"issuer": public, "public": public},
			"login":   p.app.URL + "/login",
			"consent": p.app.URL + "/consent",
			"error":   p.app.URL + "/error",
		},
		"secrets": map[string]any{"system": []string{secret}},
		"strategies": map[string]any{
			"access_token": "jwt",
			"scope":        "wildcard",
			"jwt":          map[string]any{"scope_claim": scopeClaim},
		},
		"oauth2": map[string]any{
			"allowed_top_level_claims": top,
			"mirror_top_level_claims":  true,
			// Hashing client secrets costs 25,000 PBKDF2 rounds at every
			// token request by default; tests need no such cost.
			"hashers": map[string]any{"algorithm": "pbkdf2", "pbkdf2": map[string]any{"iterations": 1}},
		},
		"ttl": ttl,
		"sqa": map[string]any{"opt_out": true},
	}
	for key, v := range p.opts.Config {
		m := cfg
		parts := strings.Split(key, ".")
		for _, part := range parts[:len(parts)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// Stop stops Hydra (an interrupt, then a kill after 10 s) and waits for it to
// exit. Tokens already issued stay verifiable with keys fetched before;
// the provider's URLs stop answering. Stop is idempotent, and Start's cleanup
// calls it.
func (p *Provider) Stop(t testing.TB) {
	t.Helper()
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if runtime.GOOS == "windows" || p.cmd.Process.Signal(os.Interrupt) != nil {
			p.kill()
			return
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			t.Logf("idp: Hydra %s ignored the interrupt for %v; killing it", p.Issuer, stopGrace)
			p.kill()
		}
	})
}

// kill kills Hydra and waits for it.
func (p *Provider) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Log returns Hydra's output so far (its latest 4 MiB).
func (p *Provider) Log() string { return p.log.String() }

// ConfigFile returns the path of the configuration file Hydra runs with.
func (p *Provider) ConfigFile() string { return p.config }

// freePorts returns n distinct free TCP ports of 127.0.0.1. Another process
// may take one before Hydra listens on it: Start then tries again.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// logBuffer keeps the latest logLimit bytes written to it; it is safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > logLimit {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-logLimit/2:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *logBuffer) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
