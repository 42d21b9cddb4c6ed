package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
