package liaison_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/test/proc"
)

// ckSend sends one GET with a raw token ("" for none) and a purpose.
func ckSend(t *testing.T, base, path, token, purpose string) response {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// TestCacheKeyControlCharactersAreRefused is issue 13's decision Misc: a
// token whose sub, or one of whose roles, holds a control character is
// refused like any bad token — a 401 that says nothing more than a missing
// token's — and the refusal is in the access log.
func TestCacheKeyControlCharactersAreRefused(t *testing.T) {
	h := startHub(t, "")
	caseID := openCase(t, h, prisonCaseworker, "CK-2026-0001")
	key := readDevKey(t, h.data)
	kid := kidOf(t, h.token(prisonCaseworker))
	trail := newAccessTrail(t, h, identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ck-auditor"})

	// The control: a token signed here is accepted, so the refusals below
	// are the control characters'.
	plain := dcToken(t, key, kid, "ck-plain", "prison-service", []string{"caseworker"})
	if r := ckSend(t, h.Base, "/v1/cases/"+caseID, plain, "case-management"); r.Status != http.StatusOK {
		t.Fatalf("a token signed by the test is refused: %d %s", r.Status, r.Body)
	}
	bare := ckSend(t, h.Base, "/v1/cases/"+caseID, "", "case-management")
	if bare.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", bare.Status, bare.Body)
	}

	cases := []struct {
		name  string
		sub   string
		roles []string
	}{
		{"sub with NUL and a role name", "x\x00security-officer", []string{}},
		{"sub with NUL, with a role", "x\x00security-officer", []string{"caseworker"}},
		{"sub with a tab", "ck\tanna", []string{"caseworker"}},
		{"sub with a line feed", "ck\nanna", []string{"caseworker"}},
		{"sub with a carriage return", "ck\ranna", []string{"caseworker"}},
		{"sub with an escape sequence", "ck\x1b[31manna", []string{"caseworker"}},
		{"sub with DEL", "ck\x7fanna", []string{"caseworker"}},
		{"sub with a C1 control (NEL)", "ck\u0085anna", []string{"caseworker"}},
		{"role with NUL", "ck-role-nul", []string{"case\x00worker"}},
		{"second role with NUL", "ck-role-nul2", []string{"caseworker", "security-officer\x00"}},
		{"role with a line feed", "ck-role-lf", []string{"case\nworker"}},
	}
	var sent []string
	for _, c := range cases {
		tok := dcToken(t, key, kid, c.sub, "prison-service", c.roles)
		for _, path := range []string{"/v1/cases/" + caseID, "/v1/cases/" + caseID + "/sections/profile", "/v1/cases"} {
			r := ckSend(t, h.Base, path, tok, "case-management")
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s: GET %s: %d, want 401: %.200s", c.name, path, r.Status, r.Body)
				continue
			}
			if !bytes.Equal(r.Body, bare.Body) || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: GET %s: the 401 says %s, a missing token's says %s", c.name, path, r.Body, bare.Body)
			}
			if id := r.Header.Get("X-Request-Id"); id != "" {
				sent = append(sent, id)
			} else {
				t.Errorf("%s: GET %s: no X-Request-Id: no access record can be found", c.name, path)
			}
		}
	}
	recs := map[string]accessRecord{}
	for _, r := range trail.all(t) {
		recs[r.RequestID] = r
	}
	for _, id := range sent {
		r, ok := recs[id]
		switch {
		case !ok:
			t.Errorf("refusal %s has no access record", id)
		case r.Status != http.StatusUnauthorized || r.Decision != "deny":
			t.Errorf("refusal %s is recorded as %s %d", id, r.Decision, r.Status)
		}
	}
}

// TestCacheKeyCollisionGetsNoOtherAnswer is the attack of issue 13: the
// answer cache keyed an identity by its fields joined with NUL, so that a
// security officer "x" and a token whose sub is "x\x00security-officer" with
// no roles had the same key, and the second got the officer's answer — an
// intelligence note it may not read. Whatever the hub does with such a token
// (design: 401), it never serves that answer.
func TestCacheKeyCollisionGetsNoOtherAnswer(t *testing.T) {
	h := startHub(t, "")
	const note = "CK-INTEL-NOTE-SECRET"
	caseID := openCase(t, h, prisonCaseworker, "CK-2026-0002")
	appendOK(t, h, caseID, intelAnalyst, "IntelligenceNoteAdded", map[string]any{"note": note}, nil)
	key := readDevKey(t, h.data)
	kid := kidOf(t, h.token(prisonCaseworker))
	paths := []string{"/v1/cases/" + caseID + "/sections/security", "/v1/cases/" + caseID + "/events", "/v1/cases/" + caseID}

	// A caseworker "x" of the prison does not see the note: the control.
	cw := dcToken(t, key, kid, "x", "prison-service", []string{"caseworker"})
	if r := ckSend(t, h.Base, paths[0], cw, "case-management"); r.Status != http.StatusForbidden {
		t.Fatalf("a prison caseworker reads the security section: %d %s", r.Status, r.Body)
	}
	// Each officer reads first (its answers are then cached); then a token
	// whose sub and roles joined with NUL spell the officer's asks the same.
	for _, c := range []struct {
		name          string
		officerRoles  []string
		attackerRoles []string
	}{
		{"security officer x, then sub x+NUL+security-officer without roles", []string{"security-officer"}, []string{}},
		{"security officer and caseworker x, then caseworker x+NUL+security-officer", []string{"security-officer", "caseworker"}, []string{"caseworker"}},
	} {
		officer := identity{Agency: "prison-service", Roles: c.officerRoles, Sub: "x"}
		officers := map[string][]byte{}
		for _, p := range paths {
			r := askHub(t, h, "GET", p, &officer, "case-management", nil)
			officers[p] = r.Body
			if r.Status != http.StatusOK {
				t.Fatalf("%s: the officer reads %s: %d %s", c.name, p, r.Status, r.Body)
			}
			if p != paths[2] && !strings.Contains(string(r.Body), note) {
				t.Fatalf("%s: the officer does not see the intelligence note in %s: %s", c.name, p, r.Body)
			}
		}
		tok := dcToken(t, key, kid, "x\x00security-officer", "prison-service", c.attackerRoles)
		for _, p := range paths {
			r := ckSend(t, h.Base, p, tok, "case-management")
			switch {
			case bytes.Equal(r.Body, officers[p]) || strings.Contains(string(r.Body), note):
				t.Errorf("%s: GET %s answers %d with the officer's answer: %.300s", c.name, p, r.Status, r.Body)
			case r.Status != http.StatusUnauthorized:
				t.Errorf("%s: GET %s: %d, want 401 (a control character in sub): %.300s", c.name, p, r.Status, r.Body)
			}
		}
	}
}

// TestCacheKeyAdminSurface is issue 13's decision Misc on the admin side:
// /metrics is served only on the admin address, never on the API address
// (there: a 404 or 401 problem, with no metric in it); /healthz and /readyz
// answer on both without a token, saying only ok or ready.
func TestCacheKeyAdminSurface(t *testing.T) {
	t.Run("by default /metrics is not on the API address", func(t *testing.T) {
		h := startHub(t, "")
		caseID := openCase(t, h, prisonCaseworker, "CK-2026-0003")
		for _, tok := range []string{"", h.token(auditor), h.token(prisonCaseworker)} {
			r := ckSend(t, h.Base, "/metrics", tok, "oversight")
			if r.Status != http.StatusNotFound && r.Status != http.StatusUnauthorized {
				t.Errorf("GET /metrics on the API address (token: %v): %d, want 404 or 401", tok != "", r.Status)
			}
			if ckMetric.Match(r.Body) {
				t.Errorf("GET /metrics on the API address (token: %v) serves metrics: %.300s", tok != "", r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("GET /metrics on the API address: Content-Type %q, want a problem", ct)
			}
		}
		ckHealth(t, h.Base, caseID)
		h.Stop()
	})

	t.Run("with an admin address, /metrics is there and only there", func(t *testing.T) {
		admin := ckFreeAddr(t)
		p := ckStart(t, "--admin-addr", admin)
		if p == nil {
			return
		}
		defer p.Stop()
		ckWaitReady(t, "http://"+admin)
		if r := ckSend(t, p.Base, "/readyz", "", ""); r.Status != http.StatusOK {
			t.Errorf("/readyz on the API address with an admin address: %d, want 200 (on both)", r.Status)
		}
		if r := ckSend(t, "http://"+admin, "/metrics", "", ""); r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte("liaison_")) {
			t.Errorf("/metrics on the admin address: %d %.200s", r.Status, r.Body)
		}
		if r := ckSend(t, p.Base, "/metrics", "", ""); ckMetric.Match(r.Body) || r.Status == http.StatusOK {
			t.Errorf("/metrics on the API address with an admin address: %d %.200s", r.Status, r.Body)
		}
		ckHealth(t, p.Base, "")
		ckHealth(t, "http://"+admin, "")
	})

	t.Run("--admin-addr off: no metrics anywhere, health on the API address", func(t *testing.T) {
		p := ckStart(t, "--admin-addr", "off")
		if p == nil {
			return
		}
		defer p.Stop()
		ckWaitReady(t, p.Base)
		if r := ckSend(t, p.Base, "/metrics", "", ""); ckMetric.Match(r.Body) || r.Status == http.StatusOK {
			t.Errorf("/metrics with --admin-addr off: %d %.200s", r.Status, r.Body)
		}
		ckHealth(t, p.Base, "")
	})
}

// ckMetric matches a Prometheus exposition of the hub's or Go's metrics.
var ckMetric = regexp.MustCompile(`(?m)^(# (HELP|TYPE) )?(liaison_|go_|process_)[a-z_]+`)

// ckHealth checks that /healthz and /readyz answer without a token and say
// only ok or ready: nothing about cases.
func ckHealth(t *testing.T, base, caseID string) {
	t.Helper()
	for path, word := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		r := ckSend(t, base, path, "", "")
		if r.Status != http.StatusOK {
			t.Errorf("%s%s without a token: %d, want 200: %s", base, path, r.Status, r.Body)
			continue
		}
		body := strings.TrimSpace(string(r.Body))
		var obj map[string]any
		onlyWord := body == word
		if !onlyWord && json.Unmarshal(r.Body, &obj) == nil {
			onlyWord = len(obj) == 1 && obj["status"] == word
		}
		if !onlyWord || caseID != "" && strings.Contains(body, caseID) {
			t.Errorf("%s%s says more than %q: %s", base, path, word, body)
		}
	}
}

// ckFreeAddr returns a loopback address nobody listens on now.
func ckFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ckStart starts a hub with extra flags without waiting for /readyz on its
// API address (startHub does, and would wait its full minute on a hub that
// does not serve it there); it fails t and returns nil if the hub does not
// start.
func ckStart(t *testing.T, args ...string) *proc.Process {
	t.Helper()
	base := []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--rate-limit", "0"}
	p, err := proc.Start("hub", binary, append(base, args...)...)
	if err != nil {
		t.Errorf("the hub does not start with %v: %v", args, err)
		return nil
	}
	t.Cleanup(p.Stop)
	return p
}

// ckWaitReady waits up to 20 s for base's /readyz.
func ckWaitReady(t *testing.T, base string) {
	t.Helper()
	cl := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := cl.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready after 20 s (%v)", base, fmt.Sprint(err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
