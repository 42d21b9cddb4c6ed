package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/projections"
)

var projectionsReady = regexp.MustCompile(`projections ready.*took=(\S+)`)

// p8Point is what one size of P8 measured.
type p8Point struct {
	events, cases int
	ready         time.Duration
	rebuild       string // the projections' own "took"
	goMem         map[string]float64
	readAlone     time.Duration
	atReady       memory
	warm          memory
	peak          int64 // under load
	hwm           int64 // after the load
	rate          float64
}

// measureP8 seeds one data directory up to each size in turn (offline,
// straight into the embedded store), and at each size starts a hub on it and
// measures its time to ready beside reading the log alone, and its memory at
// ready, after warm-up and under the realistic mix.
func measureP8(ctx context.Context, o options, bin, tmp string, rep *report) error {
	data := filepath.Join(tmp, "p8")
	var points []p8Point
	var s *seeder
	for _, size := range o.p8Sizes {
		var err error
		if s, err = reopen(ctx, data, s); err != nil {
			return err
		}
		rate, err := s.seed(ctx, size, o.seedWorkers)
		if cerr := s.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("seeding %d events: %w", size, err)
		}
		rep.note("P8 seeding: %d events in %d cases (%.0f events/s, %d concurrent cases)", s.events, len(s.cases), rate, o.seedWorkers)
		pt, err := measureSize(ctx, o, bin, data, s)
		if err != nil {
			return err
		}
		points = append(points, pt)
	}
	for _, p := range points {
		tag := fmt.Sprintf("P8 %s events / %s cases", thousands(p.events), thousands(p.cases))
		goal, met := "", ""
		if p.events >= 1_000_000 {
			goal, met = "≤ 10 s", yesNo(p.ready <= 10*time.Second)
		}
		rep.add(row{figure: tag + ": restart, time to ready", value: fmt.Sprintf("%.2f s", p.ready.Seconds()),
			ceiling: fmt.Sprintf("%.2f s (reading the log alone)", p.readAlone.Seconds()),
			ratio:   fmt.Sprintf("%.0f%%", 100*p.readAlone.Seconds()/p.ready.Seconds()), goal: goal, met: met})
		goal, met = "", ""
		if p.events >= 1_000_000 {
			goal, met = "≤ 1 GiB", yesNo(max(p.peak, p.hwm) <= 1<<30)
		}
		rep.add(row{figure: tag + ": RSS at ready / after warm-up / peak under load (VmHWM)",
			value: fmt.Sprintf("%s / %s / %s (%s)", mib(p.atReady.RSS), mib(p.warm.RSS), mib(p.peak), mib(p.hwm)), goal: goal, met: met})
		rep.note("%s after warm-up: Go heap in use %s (objects allocated, garbage not yet collected included: %s), Go runtime total %s, so %s of the RSS is outside the Go runtime (Pebble's cgo block cache and memtables)",
			tag, mib(int64(p.goMem["go_memstats_heap_inuse_bytes"])), mib(int64(p.goMem["go_memstats_heap_alloc_bytes"])),
			mib(int64(p.goMem["go_memstats_sys_bytes"])), mib(p.warm.RSS-int64(p.goMem["go_memstats_sys_bytes"])))
		rep.note("%s: time to ready is from the exec of liaison serve to /readyz answering 200; the projections' catch-up alone took %s; the mix under load ran at %.0f req/s", tag, p.rebuild, p.rate)
	}
	if o.trace != "" && s != nil {
		if err := diagnoseMemory(ctx, o, rep, bin, data, s.cases); err != nil {
			return err
		}
	}
	if o.heapProfile != "" {
		if err := projectionsHeap(ctx, data, o.heapProfile, rep); err != nil {
			return err
		}
	}
	if len(points) >= 2 {
		a, b := points[0], points[len(points)-1]
		per := func(x, y int64) float64 { return float64(y-x) / float64(b.events-a.events) * 100_000 }
		g := per(a.warm.RSS, b.warm.RSS)
		gp := per(max(a.peak, a.hwm), max(b.peak, b.hwm))
		at1M := float64(b.warm.RSS) + g*float64(1_000_000-b.events)/100_000
		at1Mpeak := float64(max(b.peak, b.hwm)) + gp*float64(1_000_000-b.events)/100_000
		rep.add(row{figure: fmt.Sprintf("P8 RSS growth per 100k events, %s → %s events (after warm-up; peak)", thousands(a.events), thousands(b.events)),
			value: fmt.Sprintf("%s; %s", mib(int64(g)), mib(int64(gp)))})
		if b.events < 1_000_000 {
			rep.add(row{figure: "P8 RSS at 1M events, extrapolated (after warm-up; peak)", value: fmt.Sprintf("%s; %s", mib(int64(at1M)), mib(int64(at1Mpeak))),
				goal: "≤ 1 GiB", met: yesNo(at1Mpeak <= 1<<30)})
		}
	}
	return nil
}

// reopen opens a seeder on data that goes on from where prev (if any) stopped.
func reopen(ctx context.Context, data string, prev *seeder) (*seeder, error) {
	s, err := openSeeder(ctx, data)
	if err != nil || prev == nil {
		return s, err
	}
	s.cases, s.events, s.batch = prev.cases, prev.events, prev.batch
	return s, nil
}

// measureSize runs one P8 point on a seeded (and closed) data directory.
func measureSize(ctx context.Context, o options, bin, data string, s *seeder) (p8Point, error) {
	pt := p8Point{events: s.events, cases: len(s.cases)}
	var err error
	if pt.readAlone, _, err = readLogAlone(ctx, data); err != nil {
		return pt, err
	}
	hub, ready, err := startHub(bin, data)
	if err != nil {
		return pt, err
	}
	defer hub.Stop()
	pt.ready = ready
	if m, err := hub.WaitLine(projectionsReady, time.Second); err == nil {
		pt.rebuild = m[1]
	}
	if pt.atReady, err = hub.memory(); err != nil {
		return pt, err
	}
	f, err := newFixture(bin, data, hub)
	if err != nil {
		return pt, err
	}
	r := rand.New(rand.NewPCG(3, uint64(s.events)))
	for _, i := range r.Perm(len(s.cases))[:min(len(s.cases), 5000)] {
		f.cases = append(f.cases, s.cases[i])
	}
	if err := f.probeAppends(r, 10); err != nil {
		return pt, err
	}
	// Warm-up: the mix for 5 s, then a moment for the collector.
	warm(ctx, hub.Base, f.mix(), 5*time.Second)
	time.Sleep(time.Second)
	if pt.warm, err = hub.memory(); err != nil {
		return pt, err
	}
	pt.goMem = goMemory(hub.AdminBase)
	lctx, cancel := context.WithCancel(ctx)
	peak := hub.sampleRSS(lctx, 100*time.Millisecond)
	st := closedLoop(ctx, hub.Base, o.connections, o.duration, f.mix())
	cancel()
	pt.peak = <-peak
	m, err := hub.memory()
	if err != nil {
		return pt, err
	}
	pt.hwm = m.HWM
	pt.rate = st.rate()
	if n, what := failures(st); n > 0 {
		return pt, fmt.Errorf("P8 mix at %d events: unexpected answers: %s", s.events, what)
	}
	return pt, nil
}

// projectionsHeap rebuilds the projections of a data directory in this
// process, as the hub does at start, with a CPU profile of the rebuild (OUT.cpu),
// and writes a heap profile of what they hold once ready (OUT; go tool pprof
// -sample_index=inuse_space): where P6's and P8's time and memory go,
// measured without touching the hub.
func projectionsHeap(ctx context.Context, data, out string, rep *report) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := embedded.Open(filepath.Join(data, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer st.Close()
	master, err := keystore.LoadMasterKey("", "", filepath.Join(data, "master.key"))
	if err != nil {
		return err
	}
	keys, err := keystore.OpenFileStore(filepath.Join(data, "casekeys"), master)
	if err != nil {
		return err
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	p := projections.New(st, codec.New(keys), quiet)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	cpu, cerr := os.Create(out + ".cpu")
	if cerr == nil {
		cerr = pprof.StartCPUProfile(cpu) // fails when --cpuprofile runs: then none
	}
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	for !p.Ready() {
		select {
		case err := <-done:
			cancel()
			return fmt.Errorf("projections stopped: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	took := time.Since(start)
	if cerr == nil {
		pprof.StopCPUProfile()
		cpu.Close()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	f, err := os.Create(out)
	if err != nil {
		cancel()
		return err
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	events := p.EventsApplied()
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	rep.note("projections alone, rebuilt in-process over %d events / %d cases in %v (%.0f events/s; CPU profile in %s.cpu): %s of live heap (%.0f bytes per event); heap profile in %s",
		events, p.Len(), took.Round(time.Millisecond), float64(events)/took.Seconds(), out, mib(live), float64(live)/float64(events), out)
	runtime.KeepAlive(p)
	cancel()
	<-done
	return err
}

// thousands writes n as "250k" (or as is below 10,000).
func thousands(n int) string {
	if n < 10_000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%dk", n/1000)
}
