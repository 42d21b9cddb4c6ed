package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// fsyncProbe appends 512 bytes and fsyncs them every interval on the hub's
// disk until ctx ends, and returns the latencies: how slow the disk was while a
// figure was measured (the hub makes an access record durable per call).
func fsyncProbe(ctx context.Context, dir string, interval time.Duration) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		var lat []time.Duration
		defer func() { out <- lat }()
		name := filepath.Join(dir, "fsync-probe")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		defer os.Remove(name)
		defer f.Close()
		buf := make([]byte, 512)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			t0 := time.Now()
			if _, err := f.Write(buf); err != nil {
				return
			}
			if err := f.Sync(); err != nil {
				return
			}
			lat = append(lat, time.Since(t0))
		}
	}()
	return out
}

// bucketRE matches one bucket of the hub's latency histogram. Its count is a
// float in Prometheus' text format: from a million on, the client library
// writes it with an exponent (1.234567e+06), which a count of digits alone
// read as 1 (after P3's runs, P4 then found no calls).
var bucketRE = regexp.MustCompile(`^liaison_http_request_duration_seconds_bucket\{action="([^"]+)",status="(\d+)",le="([^"]+)"\} ([0-9.eE+-]+)$`)

// histogram is the hub's own latency histogram of one action: cumulative
// counts by upper bound (seconds), as /metrics shows it.
type histogram map[float64]float64

// serverHistogram reads the hub's latency histogram of action, all statuses.
func serverHistogram(base, action string) (histogram, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	h := histogram{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := bucketRE.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != action {
			continue
		}
		le, err := strconv.ParseFloat(m[3], 64)
		if m[3] == "+Inf" {
			le, err = 1e9, nil
		}
		n, nerr := strconv.ParseFloat(m[4], 64)
		if err == nil && nerr == nil {
			h[le] += n
		}
	}
	return h, sc.Err()
}

// since returns the counts of h minus those of before.
func (h histogram) since(before histogram) histogram {
	out := histogram{}
	for le, n := range h {
		out[le] = n - before[le]
	}
	return out
}

// describe says what share of calls the hub itself took more than limit
// seconds over, and the bucket that holds its p99.
func (h histogram) describe(limit float64) string {
	var les []float64
	for le := range h {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 || h[les[len(les)-1]] == 0 {
		return "no server-side figures"
	}
	total := h[les[len(les)-1]]
	p99 := les[len(les)-1]
	for _, le := range les {
		if h[le] >= 0.99*total {
			p99 = le
			break
		}
	}
	return fmt.Sprintf("%.2f%% of calls took the hub over %.0f ms inside its handler (access record included); its p99 is ≤ %g ms",
		100*(1-h[limit]/total), limit*1000, p99*1000)
}

// over returns the share of lat above d, in percent.
func over(lat []time.Duration, d time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	n := 0
	for _, l := range lat {
		if l > d {
			n++
		}
	}
	return 100 * float64(n) / float64(len(lat))
}

var policyRE = regexp.MustCompile(`^liaison_policy_(decisions|evaluations|evaluation_seconds)_total\{kind="([a-z]+)"\} (\S+)$`)

// policyTotals reads the hub's policy counters: "decisions", "evaluations"
// and "evaluation_seconds" summed over the kinds of decision, and the same
// names followed by "/" and a kind ("evaluations/section") for each.
func policyTotals(base string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := policyRE.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]] += v
			out[m[1]+"/"+m[2]] = v
		}
	}
	return out, sc.Err()
}

var gaugeRE = regexp.MustCompile(`^(go_memstats_[a-z_]+|process_resident_memory_bytes) (\S+)$`)

// goMemory reads the Go runtime's memory gauges from the hub's /metrics.
func goMemory(base string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := gaugeRE.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}
