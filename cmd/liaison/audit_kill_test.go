package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

const childHubEnv = "LIAISON_TEST_CHILD_HUB_DIR"

// TestChildHub is not a test: it is the hub process of
// TestKilledHubKeepsEveryAnsweredAccess, which runs this test binary again.
func TestChildHub(t *testing.T) {
	dir := os.Getenv(childHubEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestKilledHubKeepsEveryAnsweredAccess")
	}
	m := &Main{Config: Config{Addr: "127.0.0.1:0", DataDir: dir}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for !m.Projector.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	os.Stdout.WriteString("ADDR " + m.Addr() + "\n")
	select {} // until killed
}

// startChildHub runs a hub in a child process on dir and returns its base URL.
func startChildHub(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildHub$")
	cmd.Env = append(os.Environ(), childHubEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go io.Copy(io.Discard, out)
			return cmd, "http://" + addr
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("the child hub did not start")
	return nil, ""
}

// TestKilledHubKeepsEveryAnsweredAccess kills the hub with SIGKILL while reads
// are in flight, right after a burst of answered reads, three times: every
// answered read's access record (by its X-Request-Id) is in the access log
// after the crash, and the logs verify after every crash.
func TestKilledHubKeepsEveryAnsweredAccess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts hub processes")
	}
	dir := t.TempDir()
	var caseID string
	answered := map[string]bool{}
	for round := range 3 {
		cmd, base := startChildHub(t, dir)
		tok := token(t, dir, caseworker)
		if caseID == "" {
			a := call(t, base, "POST", "/v1/cases", tok, "", map[string]any{"subject_ref": "P-KILL-1", "target_group": "returnee"})
			if a.status != http.StatusCreated {
				t.Fatalf("open case: %d %s", a.status, a.body)
			}
			var out struct {
				CaseID string `json:"case_id"`
			}
			a.decode(t, &out)
			caseID = out.CaseID
		}
		path := base + "/v1/cases/" + caseID + "/sections/profile"
		var mu sync.Mutex
		read := func() bool {
			req, _ := http.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Liaison-Purpose", "case-management")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false // the hub is gone: not answered
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				mu.Lock()
				answered[resp.Header.Get("X-Request-Id")] = true
				mu.Unlock()
			}
			return true
		}
		// A burst of reads, all answered, then more in flight while the hub is
		// killed.
		var burst, inflight sync.WaitGroup
		stop := make(chan struct{})
		for range 8 {
			burst.Add(1)
			inflight.Add(1)
			go func() {
				for range 25 {
					read()
				}
				burst.Done()
				defer inflight.Done()
				for {
					select {
					case <-stop:
						return
					default:
						if !read() {
							return
						}
					}
				}
			}()
		}
		burst.Wait()
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		close(stop)
		inflight.Wait()

		t.Run(fmt.Sprintf("crash %d: every answered read is in the access log", round+1), func(t *testing.T) {
			logged := loggedRequests(t, dir)
			missing := 0
			for id := range answered {
				if !logged[id] {
					missing++
				}
			}
			if missing > 0 || len(answered) < 200*(round+1) {
				t.Errorf("round %d: %d of %d answered reads have no access record", round, missing, len(answered))
			}
		})
		t.Run(fmt.Sprintf("crash %d: the logs verify", round+1), func(t *testing.T) {
			if code, out := verifyExit(t, dir); code != 0 {
				t.Errorf("round %d: exit %d:\n%s", round, code, out)
			}
		})
	}
}

// loggedRequests returns the request ids in the access log of dir.
func loggedRequests(t *testing.T, dir string) map[string]bool {
	t.Helper()
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := map[string]bool{}
	for r, err := range accesslog.New(st).Records(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		ids[r.RequestID] = true
	}
	return ids
}
