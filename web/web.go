// Package web is the hub's web console: plain HTML, CSS and JavaScript
// modules embedded in the binary and served by the hub at / (the page) and
// /ui/ (its assets). There is no build step: the files under static/ are what
// the browser gets.
//
// The console is a client of the public API like any other: it signs in with a
// bearer token and asks the API for everything it shows. A person signs in at
// their organisation's identity provider (the providers the hub lists at GET
// /auth/providers; OpenID Connect, authorization code with PKCE, the console a
// public client coming back to CallbackPath), and the provider's tokens are
// kept in the tab's memory only; in demo mode, a token minted by POST
// /demo/token for a demo identity, or a pasted one, is kept in sessionStorage
// only. The one thing kept in lasting storage is the language the person
// chose (English, French or German: the catalogues under static/ui/i18n,
// which i18n_test.go keeps complete and in step with the protocol's
// vocabulary). The hub's Content-Security-Policy (default-src 'self', with the
// providers' token endpoints in connect-src) holds: no inline script or style,
// no outside resource.
//
// What the console offers comes from the hub: who the person is and which
// services and purposes are theirs (GET /v1/me), what they may record on a
// case (GET /v1/cases/{id}/writable), and the form of each event type's data
// (the hub's OpenAPI document, the schemas it validates with): the console
// holds no per-type form of its own.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// AssetPrefix is the path under which the console's assets are served.
const AssetPrefix = "/ui/"

// CallbackPath is the console's redirect URI at identity providers (register
// https://HUB/ui/callback): it answers the console's page, which completes the
// sign-in.
const CallbackPath = AssetPrefix + "callback"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// console serves the page and its assets from memory.
type console struct {
	index   asset
	assets  map[string]asset // by path below static/ui
	version string           // the versioned asset directory, "v-" + content hash
}

// Handler returns the console: GET / and GET CallbackPath answer index.html;
// GET /ui/NAME answers the asset NAME with its content type; anything else is
// 404.
//
// The page names its assets under a versioned directory, /ui/v-HASH/, where
// HASH is a digest of every asset: those answers may be cached for a year,
// since a new build gets a new directory. The page itself, and assets asked
// for without the version, must be revalidated on every use (no-cache, with an
// ETag). Every answer carries nosniff.
func Handler() http.Handler {
	c, err := load(static)
	if err != nil {
		panic("web: embedded console is broken: " + err.Error()) // a build error, caught by the tests
	}
	return c
}

// load reads the embedded files once.
func load(fsys fs.FS) (*console, error) {
	c := &console{assets: map[string]asset{}}
	sum := sha256.New()
	err := fs.WalkDir(fsys, "static/ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/ui/")
		sum.Write([]byte(name))
		sum.Write(b)
		c.assets[name] = newAsset(name, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.version = "v-" + hex.EncodeToString(sum.Sum(nil))[:12]
	page, err := fs.ReadFile(fsys, "static/index.html")
	if err != nil {
		return nil, err
	}
	// The page refers to its assets as /ui/ASSETS/…; point it at this build's
	// versioned directory.
	page = bytes.ReplaceAll(page, []byte(AssetPrefix+"ASSETS/"), []byte(AssetPrefix+c.version+"/"))
	c.index = newAsset("index.html", page)
	return c, nil
}

func newAsset(name string, b []byte) asset {
	h := sha256.Sum256(b)
	return asset{body: b, contentType: contentType(name), etag: `"` + hex.EncodeToString(h[:8]) + `"`}
}

// contentType names the types the console uses; anything else is binary.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html" || p == CallbackPath:
		c.serve(w, r, c.index, "no-cache")
	case strings.HasPrefix(p, AssetPrefix):
		name := strings.TrimPrefix(p, AssetPrefix)
		cache := "no-cache"
		if rest, ok := strings.CutPrefix(name, c.version+"/"); ok {
			name, cache = rest, "public, max-age=31536000, immutable"
		}
		a, ok := c.assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		c.serve(w, r, a, cache)
	default:
		http.NotFound(w, r)
	}
}

func (c *console) serve(w http.ResponseWriter, r *http.Request, a asset, cache string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}

// etagMatches reports whether an If-None-Match list names etag (or is "*").
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
