package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// settle is how long after a run of the monitor figure each hub's CPU is
// read.
const settle = 2 * time.Second

// measureMonitor measures the privacy monitor's cost (docs/monitoring.md):
// the realistic mix on two hubs over copies of one demo data directory, one
// with the monitor and one with --monitor=false, side by side (the mix on
// both at once in each round), with the hubs' CPU per request, the monitor's
// own CPU, its lag during the runs and its catch-up after each.
func measureMonitor(ctx context.Context, o options, bin, tmp string, rep *report) error {
	on := filepath.Join(tmp, "monitor-on")
	first, _, err := startHub(bin, on, "--demo", "--demo-cases", fmt.Sprint(o.cases))
	if err != nil {
		return err
	}
	m, err := first.WaitLine(demoLoaded, 30*time.Minute)
	first.Stop()
	if err != nil {
		return err
	}
	rep.note("monitor: demo data: %d cases, %s events, loaded through the API in %s, then copied for the hub without the monitor", o.cases, m[1], m[2])
	off := filepath.Join(tmp, "monitor-off")
	if out, err := exec.Command("cp", "-a", on, off).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the data directory: %v: %s", err, out)
	}
	withMon, _, err := startHub(bin, on)
	if err != nil {
		return err
	}
	defer withMon.Stop()
	without, _, err := startHub(bin, off, "--monitor=false")
	if err != nil {
		return err
	}
	defer without.Stop()
	if _, err := waitLag(ctx, withMon.AdminBase, 10*time.Minute); err != nil {
		return err
	}
	f, err := newFixture(bin, on, withMon)
	if err != nil {
		return err
	}
	if f.cases, err = f.listCases(f.persona("anna"), o.cases); err != nil {
		return err
	}
	if err := f.probeAppends(rand.New(rand.NewPCG(1, 2)), 20); err != nil {
		return err
	}
	// Both hubs warm up with two full runs each (their caches fill, the
	// mix's appends start): throughput climbs over the first runs otherwise.
	for range 2 {
		closedLoop(ctx, withMon.Base, o.connections, o.duration, f.mix())
		closedLoop(ctx, without.Base, o.connections, o.duration, f.mix())
	}
	if _, err := waitLag(ctx, withMon.AdminBase, 10*time.Minute); err != nil {
		return err
	}
	alerts0, _ := metricSum(withMon.AdminBase, "liaison_monitor_alerts_total")
	rates := map[*child][]float64{}
	cpu := map[*child][]float64{}
	var peaks, shares []float64
	var catchUps []time.Duration
	hubs := []*child{withMon, without}
	for range o.runs {
		// Both hubs take the mix at once, each from its own connections:
		// whatever else loads the shared machine then loads both alike.
		var cpu0 [2]time.Duration
		for i, c := range hubs {
			cpu0[i] = c.cpuTime()
		}
		mon0, _ := metricSum(withMon.AdminBase, "liaison_monitor_cpu_seconds_total")
		peak := make(chan float64, 1)
		sctx, stop := context.WithCancel(ctx)
		go func() { peak <- sampleLag(sctx, withMon.AdminBase) }()
		var st [2]*stats
		var wg sync.WaitGroup
		for i, c := range hubs {
			wg.Go(func() { st[i] = closedLoop(ctx, c.Base, o.connections, o.duration, f.mix()) })
		}
		wg.Wait()
		end := time.Now()
		stop()
		peaks = append(peaks, <-peak)
		for i, c := range hubs {
			if n, what := failures(st[i]); n > 0 {
				return fmt.Errorf("monitor figure: %d failures on the %s: %s", n, c.Name, what)
			}
			rates[c] = append(rates[c], st[i].rate())
		}
		// The monitor's catch-up after the run is its own CPU: counted in
		// the hub's CPU per request of the run.
		d, err := waitLag(ctx, withMon.AdminBase, 5*time.Minute)
		if err != nil {
			return err
		}
		catchUps = append(catchUps, d)
		// Both hubs' CPU is read settle after the run's end (the monitor's
		// catch-up, and the work every hub does after a run — the access
		// log's tree and index, the store's compactions — alike for both),
		// or once the monitor has caught up if that takes longer.
		if d := settle - time.Since(end); d > 0 {
			time.Sleep(d)
		}
		for i, c := range hubs {
			used := c.cpuTime() - cpu0[i]
			cpu[c] = append(cpu[c], float64(used.Microseconds())/float64(st[i].total()))
			if c == withMon {
				mon1, _ := metricSum(withMon.AdminBase, "liaison_monitor_cpu_seconds_total")
				shares = append(shares, (mon1-mon0)/used.Seconds())
			}
		}
	}
	alerts1, _ := metricSum(withMon.AdminBase, "liaison_monitor_alerts_total")
	hOn, hOff := median(rates[withMon]), median(rates[without])
	// The runs of one round are at the same time: the median of their ratios
	// is less exposed to the machine's drift than the ratio of the medians.
	var pairs, cpuPairs []float64
	for i := range rates[withMon] {
		pairs = append(pairs, rates[withMon][i]/rates[without][i])
		cpuPairs = append(cpuPairs, cpu[withMon][i]/cpu[without][i])
	}
	rep.add(row{figure: fmt.Sprintf("monitor: realistic mix, %d conns to each hub at once, with the privacy monitor", o.connections), value: fmt.Sprintf("%.0f req/s", hOn),
		ceiling: fmt.Sprintf("%.0f req/s (--monitor=false)", hOff), ratio: fmt.Sprintf("%.1f%% (median of rounds %.1f%%)", 100*hOn/hOff, 100*median(pairs)),
		goal: "≥ 95%", met: yesNo(median(pairs) >= 0.95)})
	rep.add(row{figure: "monitor: server CPU per request, run and the 2 s after it (catch-up included)", value: fmt.Sprintf("%.0f µs", median(cpu[withMon])),
		ceiling: fmt.Sprintf("%.0f µs (--monitor=false)", median(cpu[without])),
		ratio:   fmt.Sprintf("%.1f%% (median of rounds %.1f%%)", 100*median(cpu[withMon])/median(cpu[without]), 100*median(cpuPairs)), goal: "≤ 105%", met: yesNo(median(cpuPairs) <= 1.05)})
	rep.add(row{figure: "monitor: the monitor's own CPU (its thread's clock) over the hub's, run and catch-up", value: fmt.Sprintf("%.1f%%", 100*median(shares)),
		goal: "≤ 5%", met: yesNo(median(shares) <= 0.05)})
	rep.add(row{figure: "monitor: largest lag during a run / catch-up after it (medians)",
		value: fmt.Sprintf("%.0f records / %s", median(peaks), ms(medianDur(catchUps)))})
	rep.note("monitor: req/s per round with %s, without %s (ratios %s); CPU µs per request with %s, without %s (ratios %s); the monitor's share of the hub's CPU %s; lag peaks %s records; catch-ups %s; %.0f alerts raised by the mix (its synthetic users read far more than people do)",
		list(rates[withMon], "%.0f"), list(rates[without], "%.0f"), list(pairs, "%.2f"), list(cpu[withMon], "%.0f"), list(cpu[without], "%.0f"), list(cpuPairs, "%.2f"), list(shares, "%.3f"),
		list(peaks, "%.0f"), durs(catchUps), alerts1-alerts0)
	return nil
}

// waitLag waits until the hub's monitor has evaluated every access record
// and returns how long that took.
func waitLag(ctx context.Context, admin string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < limit {
		if lag, err := metricSum(admin, "liaison_monitor_lag_records"); err == nil && lag == 0 {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("the monitor did not catch up in %v", limit)
}

// sampleLag samples the monitor's lag every second until ctx ends and
// returns the largest (each sample is a scrape of /metrics, which costs the
// hub CPU: a few only).
func sampleLag(ctx context.Context, admin string) float64 {
	peak := 0.0
	for {
		if lag, err := metricSum(admin, "liaison_monitor_lag_records"); err == nil && lag > peak {
			peak = lag
		}
		select {
		case <-ctx.Done():
			return peak
		case <-time.After(time.Second):
		}
	}
}
