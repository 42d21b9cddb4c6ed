package liaison_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/liaison-hub/liaison/test/idp"
)

// TestConsoleSSO signs a prison caseworker in to the web console through her
// organisation's OpenID provider (Ory Hydra) in a headless Chromium: the
// authorization-code flow with PKCE, the console a public client, the token
// in the tab's memory only, refreshed before it expires, a reload asking her
// to sign in again without losing her page, and sign-out at the provider.
func TestConsoleSSO(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	const ttl = 16 * time.Second // short, to see the console refresh it
	f := startFederation(t, idp.Options{AccessTokenTTL: ttl})
	cms := f.prison.ClientCredentialsToken(t, f.cmsID, f.cmsKey, []string{hubAudience})
	a := f.call(t, "POST", "/v1/cases", cms, "", map[string]any{"subject_ref": "P-2026-0815", "target_group": "right-wing", "regime": "dispersion"})
	if a.status != http.StatusCreated {
		t.Fatalf("opening a case: %d %s", a.status, a.body)
	}
	var opened struct {
		CaseID string `json:"case_id"`
	}
	json.Unmarshal(a.body, &opened)
	caseID := opened.CaseID
	f.prison.SetUser("pc-berg", map[string]any{"name": "Anna Berg", "groups": []string{"caseworkers"}})

	b := newBrowser(t, exe)
	tab := b.tab(t)
	casePage := fmt.Sprintf(`main[data-ready="true"][data-route="/cases/%s"]`, caseID)
	provider := chromedp.CSS(`button[data-provider="north-prison"]`)
	signIn := func() {
		t.Helper()
		tab.do(chromedp.WaitVisible(provider), chromedp.SetValue(chromedp.CSS(`#sso-purpose`), "case-management"),
			chromedp.Click(provider), chromedp.WaitVisible(chromedp.CSS(casePage)))
	}

	t.Run("a link followed while signed out leads through the provider to the case", func(t *testing.T) {
		tab.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(f.origin+"/#/cases/"+caseID))
		if got := tab.text("#sso-h"); !strings.Contains(got, "Sign in with your organisation") {
			t.Fatalf("the sign-in page offers no provider: %q", got)
		}
		signIn()
		if got := tab.eval(`location.pathname + location.search + location.hash`); got != "/#/cases/"+caseID {
			t.Errorf("the console is at %q after the sign-in, want the case (and no code in the address)", got)
		}
		if who := tab.text("#who"); !strings.Contains(who, "Anna Berg") || !strings.Contains(who, "Prison service") {
			t.Errorf("the header shows %q, want Anna Berg of the prison service", who)
		}
		if profile := tab.text("#section-profile"); !strings.Contains(profile, "P-2026-0815") {
			t.Errorf("the case's profile does not show its reference:\n%s", profile)
		}
	})

	t.Run("the token is kept in the tab's memory only", func(t *testing.T) {
		// Lasting storage may hold the language chosen, nothing else.
		stored := tab.eval(`JSON.stringify({local: Object.keys(localStorage).filter((k) => k !== 'liaison.lang').length, session: Object.values(sessionStorage).join(' ')})`)
		var s struct {
			Local   int    `json:"local"`
			Session string `json:"session"`
		}
		json.Unmarshal([]byte(stored), &s)
		if s.Local != 0 || strings.Contains(s.Session, "eyJ") {
			t.Errorf("a token is stored: %s", stored)
		}
	})

	t.Run("the console refreshes the token before it expires", func(t *testing.T) {
		before := tokenRequests(f.prison)
		time.Sleep(ttl * 3 / 4) // within the last quarter of its life
		tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/cases"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases"]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[href="#/cases/`+caseID+`"]`)))
		if after := tokenRequests(f.prison); after <= before {
			t.Errorf("%d token requests at the provider before, %d after: no refresh", before, after)
		}
		tab.openCase(caseID)
	})

	t.Run("a reload asks to sign in again and comes back to the same page", func(t *testing.T) {
		tab.do(chromedp.Reload(), chromedp.WaitVisible(provider))
		if notice := tab.text("main"); !strings.Contains(notice, "Your sign-in ended in this tab") {
			t.Errorf("the sign-in page does not say why:\n%s", notice)
		}
		signIn()
	})

	t.Run("signing out ends the session at the provider and comes back to the console", func(t *testing.T) {
		tab.do(chromedp.Click(chromedp.CSS(`#who button`)))
		back := fmt.Sprintf(`location.href.startsWith(%q) && document.querySelector('main[data-route="/signin"]') !== null`, f.origin)
		deadline := time.Now().Add(15 * time.Second)
		for {
			// The page navigates away and back: an evaluation may meet no page.
			if ok, err := chromedp.Run(tab.ctx, chromedp.Evaluate[bool](back)); err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the console's sign-in page did not come back after signing out:\n%s", tab.pageText())
			}
			time.Sleep(100 * time.Millisecond)
		}
		log := f.prison.Log()
		if !strings.Contains(log, "path:/oauth2/sessions/logout") || strings.Contains(log, "Logout failed") {
			t.Error("the provider's end-session endpoint was not called, or refused the logout")
		}
	})
	t.Logf("TestConsoleSSO took %v", time.Since(start).Round(time.Millisecond))
}

// tokenRequests counts the token requests the provider has answered.
func tokenRequests(p *idp.Provider) int {
	n := 0
	for _, line := range strings.Split(p.Log(), "\n") {
		if strings.Contains(line, "completed handling request") && strings.Contains(line, "method:POST path:/oauth2/token") {
			n++
		}
	}
	return n
}
