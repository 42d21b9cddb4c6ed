package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Provider is what the web console needs to sign a person in at an
// organisation's identity provider, and nothing more: the console is a public
// client (authorization code with PKCE), so no secret is ever among it.
type Provider struct {
	// ID is the issuer's alias in the trust file.
	ID string `json:"id"`
	// Label is what the sign-in page shows; Organisations the organisations
	// the issuer may assert.
	Label         string   `json:"label"`
	Organisations []string `json:"organisations"`
	Issuer        string   `json:"issuer"`
	// ClientID is the console's public client at the provider; Scope the
	// scopes it asks for (space-separated); Audience the audience it asks
	// its access tokens for (the hub's).
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Audience string `json:"audience"`
	// The endpoints of the provider's discovery document.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint,omitempty"`
}

// providers answers GET /auth/providers: the identity providers the console
// offers, for anyone (the console asks before anyone is signed in). It
// touches no case data and leaves no access record.
func (s *Server) providers(c echo.Context) error {
	out := s.cfg.Providers
	if out == nil {
		out = []Provider{}
	}
	return writeJSON(c, http.StatusOK, struct {
		Providers []Provider `json:"providers"`
	}{out})
}

// contentSecurityPolicy is the policy every answer carries: the console's
// own origin only, except that it may fetch the token endpoints of the
// configured providers (a cross-origin POST of the authorization code and of
// refresh tokens).
func contentSecurityPolicy(providers []Provider) string {
	csp := "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	var origins []string
	for _, p := range providers {
		u, err := url.Parse(p.TokenEndpoint)
		if err != nil || u.Host == "" {
			continue
		}
		o := u.Scheme + "://" + u.Host
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if len(origins) > 0 {
		csp += "; connect-src 'self' " + strings.Join(origins, " ")
	}
	return csp
}

func joinOrgs(orgs []string) string { return strings.Join(orgs, ", ") }

func joinScopes(scopes []string) string { return strings.Join(scopes, " ") }
