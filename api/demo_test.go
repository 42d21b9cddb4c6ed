package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
)

var demoPersonas = []api.DemoPersona{
	{Subject: "leon@exit-ngo", Agency: "exit-ngo", Roles: []string{"mentor"}, Label: "Leon — exit worker", Purpose: "reintegration"},
	{Subject: "olaf@oversight-board", Agency: "oversight-board", Roles: []string{"auditor"}, Label: "Olaf — auditor", Purpose: "oversight"},
}

// demoServer returns a server with the demo sign-in on the given key, and
// nothing else configured: the demo endpoints need no log, policy or store.
func demoServer(t *testing.T, demo *api.DemoConfig) http.Handler {
	t.Helper()
	return api.New(api.Config{Demo: demo, Clock: clock}).Handler()
}

func serveDemo(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDemoPersonasListsTheConfiguredIdentities(t *testing.T) {
	h := demoServer(t, &api.DemoConfig{Personas: demoPersonas, Key: devKey(t)})
	rec := serveDemo(h, http.MethodGet, "/demo/personas", "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got []api.DemoPersona
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer is not a list of personas: %v\n%s", err, rec.Body)
	}
	if len(got) != len(demoPersonas) {
		t.Fatalf("got %d personas, want %d", len(got), len(demoPersonas))
	}
	for i := range got {
		if got[i].Subject != demoPersonas[i].Subject || got[i].Label != demoPersonas[i].Label ||
			got[i].Purpose != demoPersonas[i].Purpose || !slices.Equal(got[i].Roles, demoPersonas[i].Roles) {
			t.Errorf("persona %d = %+v, want %+v", i, got[i], demoPersonas[i])
		}
	}
}

func TestDemoTokenMintsAVerifiableTokenForAListedPersona(t *testing.T) {
	key := devKey(t)
	h := demoServer(t, &api.DemoConfig{Personas: demoPersonas, Key: key})
	rec := serveDemo(h, http.MethodPost, "/demo/token", "application/json", `{"sub":"leon@exit-ngo"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
	}
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Token == "" {
		t.Fatalf("answer has no token: %v\n%s", err, rec.Body)
	}
	v := api.NewVerifier(api.DevKeys(key), api.DevIssuer, api.DevAudience, clock)
	c, err := v.Verify(context.Background(), out.Token)
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.Subject != "leon@exit-ngo" || c.Agency != "exit-ngo" || !slices.Equal(c.Roles, []string{"mentor"}) || c.Purpose != "reintegration" {
		t.Errorf("claims = %+v, want leon@exit-ngo of exit-ngo, mentor, purpose reintegration", c)
	}
	if got, want := c.ExpiresAt.Time, now.Add(api.DemoTokenTTL); !got.Equal(want) {
		t.Errorf("token expires %v, want %v (8 hours)", got, want)
	}
	if got, want := out.ExpiresAt, now.Add(8*time.Hour).UTC().Format(time.RFC3339); got != want {
		t.Errorf("expires_at %q, want %q", got, want)
	}
}

func TestDemoTokenRefusesAnythingButAListedPersona(t *testing.T) {
	h := demoServer(t, &api.DemoConfig{Personas: demoPersonas, Key: devKey(t)})
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"unknown subject gets 400", "application/json", `{"sub":"mallory@exit-ngo"}`},
		{"empty subject gets 400", "application/json", `{"sub":""}`},
		{"missing body gets 400", "application/json", ``},
		{"extra claims get 400", "application/json", `{"sub":"leon@exit-ngo","agency":"intelligence-service"}`},
		{"non-JSON body gets 400", "text/plain", `sub=leon@exit-ngo`},
		{"oversized body gets 400", "application/json", `{"sub":"` + strings.Repeat("x", 5000) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serveDemo(h, http.MethodPost, "/demo/token", tc.contentType, tc.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != 400 || p.Detail == "" {
				t.Errorf("not a 400 problem with a detail: %s", rec.Body)
			}
			if strings.Contains(rec.Body.String(), "eyJ") {
				t.Errorf("a refused request got something like a token: %s", rec.Body)
			}
		})
	}
}

func TestDemoRoutesExistOnlyInDemoMode(t *testing.T) {
	h := demoServer(t, nil)
	for _, r := range []struct{ method, path string }{{http.MethodGet, "/demo/personas"}, {http.MethodPost, "/demo/token"}} {
		rec := serveDemo(h, r.method, r.path, "application/json", `{"sub":"leon@exit-ngo"}`)
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s without demo mode: status %d, want 404", r.method, r.path, rec.Code)
		}
	}
}
