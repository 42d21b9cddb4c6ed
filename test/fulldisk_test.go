package liaison_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a directory of the test's own
// and unmounts it when the test ends; it skips the test, saying why, where
// mounting is not permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the full-disk test mounts a tmpfs: Linux only")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small file system to fill (this test needs root, or CAP_SYS_ADMIN): %v %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system refuses (ENOSPC) and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				// The last bytes, a page at a time.
				small := chunk[:4096]
				for {
					if _, err := f.Write(small); err != nil {
						return p
					}
				}
			}
			t.Fatal(err)
		}
	}
}

// A full disk (docs/operations.md, "A full disk"): under load, the file
// system of the data and key directories is filled, and then filled again
// once the store has released its reserve. Appends and reads answer 503 with
// Retry-After, /readyz turns 503, the hub says why once; when the space is
// freed it takes writes again by itself; nothing acknowledged is lost, and
// audit verify passes.
func TestAFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, 128<<20)
	data, keys := filepath.Join(mnt, "data"), filepath.Join(mnt, "keys")
	h := startKeyedHub(t, data, keys, "--disk-reserve-mb", "16")
	cl := newCrashLoad(t, h)

	var (
		mu        sync.Mutex
		acked     int
		full503   atomic.Int64 // 503s with Retry-After
		bad       atomic.Int64 // 503s without it, or other statuses
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		lastError atomic.Value
	)
	for w := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []*crashCase
			for _, c := range cl.cases {
				if c.writer == w {
					mine = append(mine, c)
				}
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c := mine[n%len(mine)]
				marker := fmt.Sprintf("full disk marker w%d n%d", w, n)
				body, _ := json.Marshal(map[string]any{"type": "InterventionRecorded", "expected_version": c.version,
					"data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker}})
				status, hdr, b, err := cl.send(h, "POST", "/v1/cases/"+c.id+"/events", cl.writers[w], "", body)
				switch {
				case err != nil:
					lastError.Store(err.Error())
					bad.Add(1)
				case status == http.StatusCreated:
					var out struct {
						Version uint64 `json:"version"`
					}
					if json.Unmarshal(b, &out) != nil || out.Version != c.version+1 {
						t.Errorf("append to %s at %d: %s", c.id, c.version, b)
						return
					}
					mu.Lock()
					c.version = out.Version
					c.markers[out.Version] = marker
					acked++
					mu.Unlock()
				case status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
					full503.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					lastError.Store(fmt.Sprintf("%d %s", status, b))
					bad.Add(1)
				}
			}
		}()
	}
	readerStatus := make(chan int, 1024)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := cl.cases[i%len(cl.cases)]
			status, hdr, _, err := cl.send(h, "GET", "/v1/cases/"+c.id+"/sections/profile", cl.readers[0], crashReaders[0].purpose, nil)
			if err == nil && (status == http.StatusOK || status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "") {
				select {
				case readerStatus <- status:
				default:
				}
			} else {
				bad.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	readyz := func() (int, string) {
		resp, err := http.Get(h.Base + "/readyz")
		if err != nil {
			return 0, ""
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; hub:\n%s", what, h.Tail(20))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("appends under load", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return acked > 100 })

	filler := fill(t, mnt)
	waitFor("/readyz to turn 503", 5*time.Second, func() bool { s, ra := readyz(); return s == http.StatusServiceUnavailable && ra != "" })
	full503.Store(0)
	mu.Lock()
	ackedAtFull := acked
	mu.Unlock()
	waitFor("appends answered 503 with Retry-After", 5*time.Second, func() bool { return full503.Load() > 200 })
	readsRefused := false
	for len(readerStatus) > 0 {
		<-readerStatus
	}
	waitFor("a read answered 503", 5*time.Second, func() bool {
		select {
		case s := <-readerStatus:
			readsRefused = readsRefused || s == http.StatusServiceUnavailable
		default:
		}
		return readsRefused
	})
	mu.Lock()
	ackedWhileFull := acked - ackedAtFull
	mu.Unlock()
	if ackedWhileFull > 8*2 { // at most the appends in flight when it filled
		t.Errorf("%d appends were acknowledged while the disk was full", ackedWhileFull)
	}
	out := h.Output()
	if n := strings.Count(out, "DISK FULL"); n != 1 {
		t.Errorf("the full disk was logged %d times; want once", n)
	}
	for _, perCall := range []string{"access record not durable", "request failed"} {
		if strings.Contains(out, perCall) {
			t.Errorf("the hub logged %q for a call refused on the full disk", perCall)
		}
	}

	// A runaway writer takes the reserve the store released too: the hub
	// stays as it is, refusing, and says nothing more.
	first := filepath.Join(mnt, "filler-1")
	if err := os.Rename(filler, first); err != nil {
		t.Fatal(err)
	}
	second := fill(t, mnt)
	full503.Store(0)
	waitFor("appends still answered 503", 5*time.Second, func() bool { return full503.Load() > 100 })
	if s, _ := readyz(); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d once the reserve was taken too", s)
	}
	if n := strings.Count(h.Output(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines once the reserve was taken too; want the one DISK FULL:\n%s", n, h.Tail(20))
	}

	for _, f := range []string{second, first} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("/readyz to turn 200 again", 10*time.Second, func() bool { s, _ := readyz(); return s == http.StatusOK })
	mu.Lock()
	ackedAtRoom := acked
	mu.Unlock()
	waitFor("appends acknowledged again", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return acked > ackedAtRoom+50 })
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d answers were neither a success nor a 503 with Retry-After (last: %v)", n, lastError.Load())
	}
	out = h.Output()
	if n := strings.Count(out, "disk has room again"); n != 1 {
		t.Errorf("the recovery was logged %d times; want once", n)
	}
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Errorf("%d error lines in the hub's log: a full disk must be said once, not per call:\n%s", n, h.Tail(30))
	}
	checked := cl.checkEvents(h)
	h.Stop()
	if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--keys", keys); code != 0 {
		t.Fatalf("audit verify after the full disk: exit %d\n%s", code, out)
	}
	t.Logf("%d appends acknowledged and found; %d refused with 503 while the disk was full", checked, full503.Load())
}
