package liaison_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
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
	t      testing.TB
	data   string
	base   string
	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	tokens map[string]string
	logs   *bytes.Buffer
	// peer, when set, serves every GET in this hub's place, waiting for the
	// position of this hub's last append (Liaison-Min-Position): a replica.
	peer    *hub
	lastPos string
}

var listening = regexp.MustCompile(`liaison hub listening"? addr=(\S+)`)

// startHub starts a hub process and waits until it is ready.
func startHub(t testing.TB, data string, args ...string) *hub {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	h := &hub{t: t, data: data, tokens: map[string]string{}, done: make(chan struct{}), logs: &bytes.Buffer{}}
	// Tests drive the hub harder than any one user would: no rate limit unless
	// the test asks for one.
	base := []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0"}
	h.cmd = exec.Command(binary, append(base, args...)...)
	stderr, err := h.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			h.mu.Lock()
			h.logs.WriteString(line + "\n")
			h.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	go func() { h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() { h.stop() })
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("hub exited before listening:\n%s", h.output())
		}
		h.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("hub did not start:\n%s", h.output())
	}
	h.waitReady()
	return h
}

func (h *hub) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

func (h *hub) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(h.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("hub not ready:\n%s", h.output())
}

// stop ends the hub with SIGTERM (a clean shutdown) and waits for it.
func (h *hub) stop() {
	select {
	case <-h.done:
		return
	default:
	}
	h.cmd.Process.Signal(os.Interrupt)
	select {
	case <-h.done:
	case <-time.After(15 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
}

// kill ends the hub with SIGKILL.
func (h *hub) kill() {
	h.cmd.Process.Kill()
	<-h.done
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
	if err != nil {
		h.t.Fatalf("liaison token: %v", err)
	}
	tok = strings.TrimSpace(string(out))
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
			Position json.Number `json:"position"`
		}
		if json.Unmarshal(r.Body, &ans) == nil && ans.Position != "" {
			h.lastPos = ans.Position.String()
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
	req, err := http.NewRequestWithContext(context.Background(), method, h.base+path, rd)
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
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}
