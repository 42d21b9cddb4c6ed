package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/test/proc"
)

// child is a server process of the harness (a hub or the ceiling), with
// what the harness measures of it.
type child struct{ *proc.Process }

// startChild starts a process and waits for its "listening … addr=" line.
func startChild(name, bin string, args ...string) (*child, error) {
	p, err := proc.Start(name, bin, args...)
	if err != nil {
		return nil, err
	}
	return &child{p}, nil
}

// memory is a process's resident set from /proc: now and its high-water mark.
type memory struct {
	RSS, HWM int64 // bytes
}

func (c *child) memory() (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
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
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", data, "--rate-limit", "0"}, extra...)
	h, err := startChild("hub", bin, args...)
	if err != nil {
		return nil, 0, err
	}
	ready, err := h.WaitReady(10 * time.Minute)
	if err != nil {
		h.Kill()
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
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(c.Pid()), "-o", out,
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "load: perf record:", err)
		return func() {}
	}
	return func() {
		if err := cmd.Wait(); err != nil {
			fmt.Fprintf(os.Stderr, "load: perf record: %v: %s\n", err, bytes.TrimSpace(stderr.Bytes()))
			return
		}
		fmt.Fprintln(os.Stderr, "load: CPU profile of the hub in", out, "(perf report -i "+out+" --children)")
	}
}

// cpuTime is the CPU time (user + system) the process has used so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func (c *child) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Pid()))
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
