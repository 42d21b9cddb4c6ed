package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process of the harness (a hub or the ceiling) whose
// stderr is kept and watched line by line.
type child struct {
	name    string
	cmd     *exec.Cmd
	base    string // http://host:port
	started time.Time
	done    chan struct{}

	mu    sync.Mutex
	lines []string
	added *sync.Cond
}

var listeningRE = regexp.MustCompile(`listening"? addr=(\S+)`)

// startChild starts a process and waits for its "listening … addr=" line.
func startChild(name, bin string, args ...string) (*child, error) {
	c := &child{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.added = sync.NewCond(&c.mu)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.added.Broadcast()
			c.mu.Unlock()
		}
		c.cmd.Wait()
		close(c.done)
		c.mu.Lock()
		c.added.Broadcast()
		c.mu.Unlock()
	}()
	m, err := c.waitLine(listeningRE, 2*time.Minute)
	if err != nil {
		c.kill()
		return nil, err
	}
	c.base = "http://" + m[1]
	return c, nil
}

// waitLine waits for a stderr line matching re and returns its submatches.
func (c *child) waitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.added.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; ; {
		for ; i < len(c.lines); i++ {
			if m := re.FindStringSubmatch(c.lines[i]); m != nil {
				return m, nil
			}
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s exited:\n%s", c.name, c.tailLocked(20))
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no line matching %q after %v:\n%s", c.name, re, timeout, c.tailLocked(20))
		}
		c.added.Wait()
	}
}

func (c *child) tailLocked(n int) string {
	return strings.Join(c.lines[max(0, len(c.lines)-n):], "\n")
}

// waitReady polls /readyz until it answers 200 and returns the time from the
// process start.
func (c *child) waitReady(timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	cl := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := cl.Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(c.started), nil
			}
		}
		select {
		case <-c.done:
			return 0, fmt.Errorf("%s exited before ready", c.name)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("%s not ready after %v", c.name, timeout)
}

// stop ends the process with SIGINT (a clean shutdown), or SIGKILL after 20 s.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.kill()
	}
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// memory is a process's resident set from /proc: now and its high-water mark.
type memory struct {
	RSS, HWM int64 // bytes
}

func (c *child) memory() (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.RSS = kb << 10
		case "VmHWM:":
			m.HWM = kb << 10
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// sampleRSS samples the process's RSS every interval until ctx ends and
// returns the largest sample.
func (c *child) sampleRSS(ctx context.Context, interval time.Duration) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := c.memory(); err == nil {
				peak = max(peak, m.RSS)
			}
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// buildHub builds the liaison binary into dir.
func buildHub(dir string) (string, error) {
	bin := dir + "/liaison"
	cmd := exec.Command("go", "build", "-o", bin, "github.com/liaison-hub/liaison/cmd/liaison")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building liaison: %w", err)
	}
	return bin, nil
}

// startHub starts "liaison serve" on a data directory with no rate limit and
// waits until it is ready; it returns the hub and its time to ready.
func startHub(bin, data string, extra ...string) (*child, time.Duration, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0"}, extra...)
	h, err := startChild("hub", bin, args...)
	if err != nil {
		return nil, 0, err
	}
	ready, err := h.waitReady(10 * time.Minute)
	if err != nil {
		h.kill()
		return nil, 0, err
	}
	return h, ready, nil
}

// mintToken runs "liaison token" on the data directory.
func mintToken(bin, data string, p persona) (string, error) {
	out, err := exec.Command(bin, "token", "--data", data, "--agency", p.agency, "--roles", strings.Join(p.roles, ","),
		"--sub", p.sub, "--ttl", "12h").Output()
	if err != nil {
		return "", fmt.Errorf("liaison token as %s: %w", p.sub, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// perfRecord records a CPU profile of c with perf (call graphs by frame
// pointer, which Go keeps) for d into dir/name.perf when dir is not empty.
// The returned function waits for the recording to end.
func (c *child) perfRecord(dir, name string, d time.Duration) func() {
	if dir == "" {
		return func() {}
	}
	out := filepath.Join(dir, name+".perf")
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(c.cmd.Process.Pid), "-o", out,
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "load: perf record:", err)
		return func() {}
	}
	return func() {
		cmd.Wait()
		fmt.Fprintln(os.Stderr, "load: CPU profile of the hub in", out, "(perf report -i "+out+" --children)")
	}
}

// cpuTime is the CPU time (user + system) the process has used so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func (c *child) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
