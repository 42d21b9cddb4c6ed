package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
)

// Discovery is what the hub reads of an OpenID provider's discovery document
// (OpenID Connect Discovery 1.0, section 3).
type Discovery struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// Discover fetches the discovery document at url and checks it: a JSON
// object whose issuer is exactly issuer (section 4.3), with a jwks_uri, and
// every URL in it https (or http on a loopback host). It returns an error
// saying what is wrong.
func Discover(ctx context.Context, client *http.Client, url, issuer string) (*Discovery, error) {
	b, err := fetch(ctx, boundedClient(client), url)
	if err != nil {
		return nil, fmt.Errorf("discovery %s: %w", url, err)
	}
	var d Discovery
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("discovery %s: not a discovery document: %v", url, err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("discovery %s: the document's issuer is %q, not %q", url, clip(d.Issuer), issuer)
	}
	if d.JWKSURI == "" {
		return nil, fmt.Errorf("discovery %s: no jwks_uri", url)
	}
	for name, u := range map[string]string{"jwks_uri": d.JWKSURI, "authorization_endpoint": d.AuthorizationEndpoint,
		"token_endpoint": d.TokenEndpoint, "end_session_endpoint": d.EndSessionEndpoint} {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("discovery %s: %s: %v", url, name, err)
		}
	}
	return &d, nil
}

// Trust is what --trust sets up: the issuers the verifier trusts and the
// providers the console offers.
type Trust struct {
	Issuers   []Issuer
	Providers []Provider
}

// Open makes the trust file's issuers ready: it reads each discovery document
// (Discover), then fetches each key set (RemoteJWKS, kept fresh until ctx
// ends) or reads it (JWKSFile). It returns an error naming the issuer's line
// in the file when a provider's document or keys are bad or cannot be had:
// the hub does not start on a trust it cannot check. client may be nil.
func (t *TrustFile) Open(ctx context.Context, client *http.Client, log *slog.Logger) (*Trust, error) {
	out := &Trust{}
	for i, ti := range t.Issuers {
		fail := func(err error) error {
			return &TrustError{File: t.Name, Line: ti.Line, Field: fmt.Sprintf("issuers[%d] (%s)", i, ti.Alias), Msg: err.Error()}
		}
		iss := Issuer{Issuer: ti.Issuer, Audience: ti.Audience, Mapping: &t.Issuers[i].Mapping}
		var err error
		jwksURL := ti.JWKSURL
		var disc *Discovery
		if ti.Discovery != "" {
			if disc, err = Discover(ctx, client, ti.Discovery, ti.Issuer); err != nil {
				return nil, fail(err)
			}
			jwksURL = disc.JWKSURI
		}
		if ti.JWKSFile != "" {
			iss.Keys, err = JWKSFile(ti.JWKSFile)
		} else {
			iss.Keys, err = RemoteJWKS(ctx, jwksURL, client, log)
		}
		if err != nil {
			return nil, fail(err)
		}
		out.Issuers = append(out.Issuers, iss)
		if ti.ConsoleClientID == "" {
			continue
		}
		if disc.AuthorizationEndpoint == "" || disc.TokenEndpoint == "" {
			return nil, fail(fmt.Errorf("discovery %s: the console needs authorization_endpoint and token_endpoint", ti.Discovery))
		}
		if disc.CodeChallengeMethods != nil && !slices.Contains(disc.CodeChallengeMethods, "S256") {
			return nil, fail(fmt.Errorf("discovery %s: the provider does not support PKCE with S256, which the console needs", ti.Discovery))
		}
		label := ti.Label
		if label == "" {
			label = joinOrgs(ti.Mapping.Organisations)
		}
		out.Providers = append(out.Providers, Provider{
			ID: ti.Alias, Label: label, Organisations: ti.Mapping.Organisations, Issuer: ti.Issuer,
			ClientID: ti.ConsoleClientID, Scope: joinScopes(ti.ConsoleScopes), Audience: ti.Audience,
			AuthorizationEndpoint: disc.AuthorizationEndpoint, TokenEndpoint: disc.TokenEndpoint,
			EndSessionEndpoint: disc.EndSessionEndpoint,
		})
	}
	return out, nil
}
