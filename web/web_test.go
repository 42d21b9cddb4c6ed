package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/web"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return answer{rec.Code, rec.Result().Header, string(b)}
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`)

// assets returns the asset paths the page refers to.
func assets(t *testing.T, h http.Handler) []string {
	t.Helper()
	page := get(t, h, "/")
	var out []string
	for _, m := range assetRef.FindAllStringSubmatch(page.body, -1) {
		out = append(out, m[1])
	}
	if len(out) < 3 {
		t.Fatalf("the page refers to %d assets, want the icon, the style sheet and the script:\n%s", len(out), page.body)
	}
	return out
}

func TestPageIsServedAtTheRootAndRevalidated(t *testing.T) {
	h := web.Handler()
	a := get(t, h, "/")
	if a.status != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", a.status)
	}
	if got := a.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/html; charset=utf-8", got)
	}
	if got := a.header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache (the page names this build's assets)", got)
	}
	if a.header.Get("ETag") == "" {
		t.Error("no ETag on the page")
	}
	if !strings.Contains(a.body, `<main id="main"`) || !strings.Contains(a.body, `lang="en"`) {
		t.Errorf("the page is not the console:\n%s", a.body)
	}
	if strings.Contains(a.body, "/ui/ASSETS/") {
		t.Error("the page still names the placeholder asset directory")
	}
	t.Run("an unchanged page answers 304", func(t *testing.T) {
		b := get(t, h, "/", "If-None-Match", a.header.Get("ETag"))
		if b.status != http.StatusNotModified || b.body != "" {
			t.Errorf("status %d with %d bytes, want 304 and no body", b.status, len(b.body))
		}
	})
}

// The identity providers send the browser back to the console's callback:
// it is the page, which completes the sign-in.
func TestCallbackIsThePage(t *testing.T) {
	h := web.Handler()
	page, cb := get(t, h, "/"), get(t, h, web.CallbackPath+"?code=x&state=y")
	if cb.status != http.StatusOK || cb.body != page.body || cb.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET %s = %d (%d bytes, Cache-Control %q), want the page", web.CallbackPath, cb.status, len(cb.body), cb.header.Get("Cache-Control"))
	}
}

func TestAssetsAreServedWithTheirTypeAndCachedByVersion(t *testing.T) {
	h := web.Handler()
	want := map[string]string{
		".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
	}
	for _, p := range assets(t, h) {
		a := get(t, h, p)
		if a.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, a.status)
			continue
		}
		ext := p[strings.LastIndex(p, "."):]
		if got := a.header.Get("Content-Type"); got != want[ext] {
			t.Errorf("%s: Content-Type %q, want %q", p, got, want[ext])
		}
		if got := a.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q, want a year, immutable (the path is versioned)", p, got)
		}
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", p, got)
		}
	}
	t.Run("an asset without its version is revalidated", func(t *testing.T) {
		a := get(t, h, "/ui/app.js")
		if a.status != http.StatusOK || a.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /ui/app.js = %d, Cache-Control %q; want 200, no-cache", a.status, a.header.Get("Cache-Control"))
		}
	})
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	h := web.Handler()
	for _, p := range []string{"/nope", "/ui/", "/ui/nope.js", "/ui/v-000000000000/app.js", "/ui/../web.go", "/static/index.html"} {
		if a := get(t, h, p); a.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, a.status)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", rec.Code)
	}
}

// The hub's Content-Security-Policy is default-src 'self': no inline script,
// no inline style, nothing from elsewhere.
func TestPageHoldsNothingTheContentSecurityPolicyRefuses(t *testing.T) {
	h := web.Handler()
	page := get(t, h, "/").body
	for _, tag := range regexp.MustCompile(`<script[^>]*>[^<]*`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="/ui/`) || !strings.HasSuffix(tag, ">") {
			t.Errorf("inline script %q: the hub's CSP refuses it", tag)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("the page holds %q, which the hub's CSP refuses", m)
		}
	}
}

var importRef = regexp.MustCompile(`(?m)^import\s[^;]*?from\s+'\./([^']+)';`)

// Modules import each other by relative path: every import must be an asset,
// and no module builds markup from strings or evaluates code.
func TestScriptsImportOnlyEmbeddedModulesAndBuildNoMarkupFromStrings(t *testing.T) {
	h := web.Handler()
	seen := map[string]bool{}
	queue := []string{"app.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		a := get(t, h, "/ui/"+name)
		if a.status != http.StatusOK {
			t.Errorf("module %s is imported but not served (%d)", name, a.status)
			continue
		}
		for _, m := range importRef.FindAllStringSubmatch(a.body, -1) {
			queue = append(queue, m[1])
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"} {
			if strings.Contains(a.body, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
		// Lasting storage holds the person's language, and nothing else:
		// never a token, never anything about a case.
		if strings.Contains(a.body, "localStorage") {
			uses := regexp.MustCompile(`localStorage\.(\w+)\(([^,)]*)`).FindAllStringSubmatch(a.body, -1)
			if name != "i18n.js" || len(uses) == 0 || strings.Count(a.body, "localStorage") != len(uses) {
				t.Errorf("%s uses localStorage (only i18n.js may, for the language)", name)
			}
			for _, u := range uses {
				if u[2] != "PREF" {
					t.Errorf("%s: localStorage.%s(%s): only the language (PREF) may be kept", name, u[1], u[2])
				}
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("found %d modules from app.js, want the whole console", len(seen))
	}
}
