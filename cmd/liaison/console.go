package main

import (
	"crypto/ed25519"
	"fmt"
	"net/http"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/web"
)

// consoleKey returns the development token key when the hub accepts it (no
// JWKS configured), for the demo sign-in; nil under a production identity
// provider. It returns an error when the key cannot be read or created.
func (m *Main) consoleKey() (ed25519.PrivateKey, error) {
	if m.production() {
		return nil, nil
	}
	key, err := api.LoadOrCreateDevKey(m.Config.keysDir())
	if err != nil {
		return nil, fmt.Errorf("development key: %w", err)
	}
	return key, nil
}

// consoleConfig returns the web console's handler and, when the hub runs with
// --demo on its development key (key non-nil, no JWKS configured), the demo
// sign-in: the demo identities of domain/demo, offered on the console's sign-in
// page with tokens signed by key. Otherwise the DemoConfig is nil and the
// console offers only the "paste a token" sign-in.
func (m *Main) consoleConfig(key ed25519.PrivateKey) (http.Handler, *api.DemoConfig) {
	console := web.Handler()
	if !m.Config.Demo || key == nil || m.production() {
		return console, nil
	}
	ids := demo.Identities()
	personas := make([]api.DemoPersona, len(ids))
	for i, p := range ids {
		personas[i] = api.DemoPersona{
			Subject: p.Identity.Subject, Agency: p.Identity.Agency, Roles: p.Identity.Roles,
			Label: p.Label, Purpose: string(p.Purpose),
		}
	}
	return console, &api.DemoConfig{Personas: personas, Key: key}
}
