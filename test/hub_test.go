package liaison_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/test/proc"
)

// binary is the liaison binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "liaison-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "liaison")
	build := exec.Command("go", "build", "-o", binary, "github.com/liaison-hub/liaison/cmd/liaison")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building liaison:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hub is a running "liaison serve" process on a temporary data directory.
type hub struct {
	*proc.Process
	t      testing.TB
	data   string
	mu     sync.Mutex
	tokens map[string]string
	// peer, when set, serves every GET in this hub's place, waiting for the
	// position of this hub's last append (Liaison-Min-Position): a replica.
	peer    *hub
	lastPos string
}

// startHub starts a hub process and waits until it is ready.
func startHub(t testing.TB, data string, args ...string) *hub {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	// Tests drive the hub harder than any one user would: no rate limit unless
	// the test asks for one.
	base := []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0"}
	p, err := proc.Start("hub", binary, append(base, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{Process: p, t: t, data: data, tokens: map[string]string{}}
	t.Cleanup(h.Stop)
	h.waitReady()
	return h
}

func (h *hub) waitReady() {
	h.t.Helper()
	if _, err := h.WaitReady(60 * time.Second); err != nil {
		h.t.Fatal(err)
	}
}

// identity is who a token speaks for.
type identity struct {
	Agency string   `json:"agency"`
	Roles  []string `json:"roles"`
	Sub    string   `json:"sub"`
}

// token returns a development token for id, minted by "liaison token" on the
// hub's data directory (cached per identity).
func (h *hub) token(id identity) string {
	h.t.Helper()
	key := id.Agency + "|" + strings.Join(id.Roles, ",") + "|" + id.Sub
	h.mu.Lock()
	tok, ok := h.tokens[key]
	h.mu.Unlock()
	if ok {
		return tok
	}
	out, err := exec.Command(binary, "token", "--data", h.data, "--agency", id.Agency, "--roles", strings.Join(id.Roles, ","), "--sub", id.Sub).Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && strings.Contains(string(exit.Stderr), "not "):
		// An organisation or role outside the default protocol, which
		// "liaison token" refuses (a test's own bundle, an attack): sign
		// it with the hub's development key directly.
		tok, err = api.MintDevToken(readDevKey(h.t, h.data), api.TokenRequest{Subject: id.Sub, Agency: id.Agency, Roles: id.Roles, TTL: time.Hour})
		if err != nil {
			h.t.Fatal(err)
		}
	case err != nil:
		h.t.Fatalf("liaison token: %v", err)
	default:
		tok = strings.TrimSpace(string(out))
	}
	h.mu.Lock()
	h.tokens[key] = tok
	h.mu.Unlock()
	return tok
}

// response is an answer of the hub.
type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends one request as id (no token when id is nil) with an optional
// purpose and JSON body.
func (h *hub) do(method, path string, id *identity, purpose string, body any) response {
	h.t.Helper()
	if h.peer != nil && method == http.MethodGet {
		r := h.peer.doWith(method, path, id, purpose, body, map[string]string{"Liaison-Min-Position": h.lastPos})
		return r
	}
	r := h.doWith(method, path, id, purpose, body, nil)
	if h.peer != nil && r.Status/100 == 2 {
		var ans struct {
			Position string `json:"position"`
		}
		if json.Unmarshal(r.Body, &ans) == nil && ans.Position != "" {
			h.lastPos = ans.Position
		}
	}
	return r
}

// doWith is do with extra request headers.
func (h *hub) doWith(method, path string, id *identity, purpose string, body any, headers map[string]string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.Base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != nil {
		req.Header.Set("Authorization", "Bearer "+h.token(*id))
	}
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		if h.Exited() {
			h.t.Fatalf("%s %s: %v; the hub has exited, its last lines:\n%s", method, path, err, h.Tail(40))
		}
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}
