package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrk is the efficient load generator of docs/targets.md, P3: Debian's wrk
// (C, epoll, a Lua script per thread), run beside the harness's own Go
// generator because a generator shares the machine's two cores with what it
// measures, and wrk takes a smaller share of them.

// wrkThreads is wrk's -t: one thread per core of the machine.
const wrkThreads = 2

var (
	wrkRate  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2x = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrs  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkResult is one wrk run: requests per second, requests answered, and
// those that were not 2xx or failed on the socket.
type wrkResult struct {
	rate          float64
	total, failed int
}

// wrkScript writes a Lua script for wrk that sends, for each request, one of
// rqs picked at random (GETs with their token and purpose), and returns its
// path.
func wrkScript(dir, name string, rqs []*request) (string, error) {
	var b strings.Builder
	b.WriteString("local reqs = {}\n\nfunction init(args)\n")
	for _, rq := range rqs {
		if rq.method != "GET" || rq.body != nil {
			return "", fmt.Errorf("wrk: only GETs without a body, not %s %s", rq.method, rq.path)
		}
		fmt.Fprintf(&b, "  reqs[#reqs + 1] = wrk.format(\"GET\", %s, {[\"Authorization\"] = %s", luaString(rq.path), luaString("Bearer "+rq.token))
		if rq.purpose != "" {
			fmt.Fprintf(&b, ", [\"Liaison-Purpose\"] = %s", luaString(rq.purpose))
		}
		b.WriteString("})\n")
	}
	b.WriteString("end\n\nfunction request()\n  return reqs[math.random(#reqs)]\nend\n")
	file := filepath.Join(dir, "wrk-"+name+".lua")
	return file, os.WriteFile(file, []byte(b.String()), 0o600)
}

// luaString quotes s for Lua (tokens, paths and purposes are printable ASCII).
func luaString(s string) string { return strconv.Quote(s) }

// runWrk runs wrk's closed loop against base for d with conns connections and
// the script's requests.
func runWrk(ctx context.Context, base, script string, conns int, d time.Duration) (wrkResult, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	s := string(out)
	m := wrkRate.FindStringSubmatch(s)
	n := wrkTotal.FindStringSubmatch(s)
	if m == nil || n == nil {
		return wrkResult{}, fmt.Errorf("wrk: no rate in its output: %s", s)
	}
	var r wrkResult
	r.rate, _ = strconv.ParseFloat(m[1], 64)
	r.total, _ = strconv.Atoi(n[1])
	if m := wrkNon2x.FindStringSubmatch(s); m != nil {
		k, _ := strconv.Atoi(m[1])
		r.failed += k
	}
	if m := wrkErrs.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			k, _ := strconv.Atoi(x)
			r.failed += k
		}
	}
	return r, nil
}

// haveWrk reports whether wrk is on the PATH.
func haveWrk() bool {
	_, err := exec.LookPath("wrk")
	return err == nil
}
