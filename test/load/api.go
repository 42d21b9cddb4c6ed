package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

var demoLoaded = regexp.MustCompile(`demo data loaded.*events=(\d+).*took=(\S+)`)

// measureAPI starts a hub with the demo data set (loaded through the API) and
// measures P3 (both variants), P4 and the realistic mix.
func measureAPI(ctx context.Context, o options, bin, tmp string, rep *report) error {
	data := filepath.Join(tmp, "demo")
	hub, _, err := startHub(bin, data, "--demo", "--demo-cases", fmt.Sprint(o.cases))
	if err != nil {
		return err
	}
	defer hub.Stop()
	m, err := hub.WaitLine(demoLoaded, 30*time.Minute)
	if err != nil {
		return err
	}
	rep.note("demo data: %d cases, %s events, loaded through the API in %s", o.cases, m[1], m[2])
	f, err := newFixture(bin, data, hub)
	if err != nil {
		return err
	}
	if f.cases, err = f.listCases(f.persona("anna"), o.cases); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	single, err := f.typicalRead()
	if err != nil {
		return err
	}
	many, err := f.allowedReads(r, 2000)
	if err != nil {
		return err
	}
	answers := map[string][]byte{}
	size := 0
	for _, a := range append([]answer{single}, many...) {
		answers[ceilingKey("Bearer "+a.rq.token, a.rq.path)] = a.body
		size += len(a.body)
	}
	ceiling, err := startCeiling(answers, tmp)
	if err != nil {
		return err
	}
	defer ceiling.Stop()
	pickSingle := func(*rand.Rand) *request { return single.rq }
	pickMany := func(r *rand.Rand) *request { return many[r.IntN(len(many))].rq }

	if o.only["p3"] {
		rep.note("P3 single read: %s as %s, answer %d bytes", single.rq.path, f.persona("anna").sub, len(single.body))
		if err := throughput(ctx, o, rep, tmp, "P3 section read, 1 identity × 1 case", hub, ceiling, pickSingle, []*request{single.rq}); err != nil {
			return err
		}
		rep.note("P3 many: %d allowed reads sampled from 2000 random (persona, case, section) over %d personas and %d cases, mean answer %d bytes",
			len(many), len(f.personas), len(f.cases), (size-len(single.body))/len(many))
		rqs := make([]*request, len(many))
		for i, a := range many {
			rqs[i] = a.rq
		}
		if err := throughput(ctx, o, rep, tmp, "P3 section read, many identities × cases", hub, ceiling, pickMany, rqs); err != nil {
			return err
		}
	}
	if o.only["p4"] {
		if err := latencyAtRate(ctx, o, rep, tmp, hub, ceiling, pickSingle); err != nil {
			return err
		}
	}
	if o.only["mix"] {
		if err := f.probeAppends(r, 20); err != nil {
			return err
		}
		rep.note("mix: appends by %d writer personas on %d (writer, case) pairs found by probing", len(writers), len(f.appends))
		if _, err := realisticMix(ctx, o, rep, f, "mix", ceilingRate); err != nil {
			return err
		}
	}
	if o.trace != "" {
		hub.Stop()
		return diagnose(ctx, o, rep, data, single.rq, pickMany)
	}
	return nil
}

// ceilingRate is the median ceiling req/s of the last P3 measurement: the
// mix is reported against it.
var ceilingRate float64

// throughput alternates closed-loop runs against the hub and the ceiling and
// adds the medians and their ratio (P3): with the harness's own generator,
// then with wrk over the same requests rqs when wrk is installed.
func throughput(ctx context.Context, o options, rep *report, tmp, figure string, hub, ceiling *child, next picker, rqs []*request) error {
	warm(ctx, hub.Base, next, 2*time.Second)
	warm(ctx, ceiling.Base, next, 2*time.Second)
	c, err := hubAgainstCeiling(o, rep, figure, fmt.Sprintf("%d conns", o.connections), "server CPU per request", hub, ceiling,
		func(c *child) (float64, int, error) {
			st := closedLoop(ctx, c.Base, o.connections, o.duration, next)
			if n, what := failures(st); n > 0 || st.kinds["section"].status[200] != st.total() {
				return 0, 0, fmt.Errorf("%s on the %s: unexpected answers: %s (%s)", figure, c.Name, what, st.kinds["section"].statusLine())
			}
			return st.rate(), st.total(), nil
		})
	if err != nil {
		return err
	}
	ceilingRate = c
	if !haveWrk() {
		rep.note("%s: wrk is not installed (apt-get install wrk): no figure with it", figure)
		return nil
	}
	script, err := wrkScript(tmp, slug(figure), rqs)
	if err != nil {
		return err
	}
	_, err = hubAgainstCeiling(o, rep, figure, fmt.Sprintf("wrk -t%d -c%d", wrkThreads, o.connections), "wrk, server CPU per request", hub, ceiling,
		func(c *child) (float64, int, error) {
			r, err := runWrk(ctx, c.Base, script, o.connections, o.duration)
			if err == nil && (r.failed > 0 || r.total == 0) {
				err = fmt.Errorf("%s with wrk on the %s: %d of %d answers not 2xx or failed", figure, c.Name, r.failed, r.total)
			}
			return r.rate, r.total, err
		})
	return err
}

// hubAgainstCeiling alternates runs of load (which returns the run's
// requests per second and requests answered) against the hub and the
// ceiling, reads each one's CPU per request from /proc, and adds the medians
// and their ratios as the rows "figure, label" and "figure, cpuLabel". It
// returns the ceiling's median rate.
func hubAgainstCeiling(o options, rep *report, figure, label, cpuLabel string, hub, ceiling *child, load func(c *child) (float64, int, error)) (float64, error) {
	var hubRates, ceilRates, hubCPU, ceilCPU []float64
	err := alternately(o, hub, ceiling, slug(figure+" "+label), o.duration, func(c *child) error {
		cpu0 := c.cpuTime()
		rate, total, err := load(c)
		if err != nil {
			return err
		}
		perReq := float64(c.cpuTime()-cpu0) / float64(time.Microsecond) / float64(total)
		if c == hub {
			hubRates, hubCPU = append(hubRates, rate), append(hubCPU, perReq)
		} else {
			ceilRates, ceilCPU = append(ceilRates, rate), append(ceilCPU, perReq)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	h, c := median(hubRates), median(ceilRates)
	rep.add(row{figure: figure + ", " + label, value: fmt.Sprintf("%.0f req/s", h),
		ceiling: fmt.Sprintf("%.0f req/s (bare Echo)", c), ratio: fmt.Sprintf("%.0f%%", 100*h/c), goal: "≥ 50%", met: yesNo(h/c >= 0.5)})
	hc, cc := median(hubCPU), median(ceilCPU)
	rep.add(row{figure: figure + ", " + cpuLabel, value: fmt.Sprintf("%.0f µs", hc), ceiling: fmt.Sprintf("%.0f µs (bare Echo)", cc),
		ratio: fmt.Sprintf("%.0f%%", 100*cc/hc)})
	rep.note("%s, %s: hub req/s per run %s; ceiling %s; CPU µs per request, hub %s, ceiling %s (from /proc/<pid>/stat, 10 ms ticks)",
		figure, label, list(hubRates, "%.0f"), list(ceilRates, "%.0f"), list(hubCPU, "%.0f"), list(ceilCPU, "%.0f"))
	return c, nil
}

// latencyAtRate runs P4: the single read at a constant rate, hub and ceiling
// alternating; the ceiling's latency is shown for reference only.
func latencyAtRate(ctx context.Context, o options, rep *report, tmp string, hub, ceiling *child, next picker) error {
	var p50, p99, cp50, cp99, fp50, fp99 []time.Duration
	var fover []float64
	var server []string
	var rates []float64
	err := alternately(o, hub, ceiling, "p4", o.p4Duration, func(c *child) error {
		before, _ := serverHistogram(hub.AdminBase, "section.read")
		pctx, stopProbe := context.WithCancel(ctx)
		probe := fsyncProbe(pctx, tmp, 20*time.Millisecond)
		st := openLoop(ctx, c.Base, o.rate, o.p4Duration, 256, next)
		stopProbe()
		disk := <-probe
		if n, what := failures(st); n > 0 {
			return fmt.Errorf("P4 on the %s: unexpected answers: %s", c.Name, what)
		}
		lat := st.all()
		if c == hub {
			after, _ := serverHistogram(hub.AdminBase, "section.read")
			server = append(server, after.since(before).describe(0.01))
			fp50, fp99 = append(fp50, pct(disk, 50)), append(fp99, pct(disk, 99))
			fover = append(fover, over(disk, 10*time.Millisecond))
			p50, p99 = append(p50, pct(lat, 50)), append(p99, pct(lat, 99))
			rates = append(rates, st.rate())
		} else {
			cp50, cp99 = append(cp50, pct(lat, 50)), append(cp99, pct(lat, 99))
		}
		return nil
	})
	if err != nil {
		return err
	}
	fig := fmt.Sprintf("P4 section read at %d req/s", o.rate)
	rep.add(row{figure: fig + ", p50", value: ms(medianDur(p50)), ceiling: ms(medianDur(cp50)) + " (bare Echo, reference)"})
	rep.add(row{figure: fig + ", p99", value: ms(medianDur(p99)), ceiling: ms(medianDur(cp99)) + " (bare Echo, reference)",
		goal: "≤ 10 ms", met: yesNo(medianDur(p99) <= 10*time.Millisecond)})
	rep.note("P4: %d runs of %v each, latency from the moment each request was due (queueing included); hub p99 per run %s; achieved req/s %s",
		o.runs, o.p4Duration, durs(p99), list(rates, "%.0f"))
	rep.add(row{figure: "P4 disk meanwhile: raw write+fsync of 512 B every 20 ms, p50 / p99 (share over 10 ms)",
		value: fmt.Sprintf("%s / %s (%.1f%%)", ms(medianDur(fp50)), ms(medianDur(fp99)), median(fover))})
	for i, s := range server {
		rep.note("P4 run %d, the hub's own histogram (/metrics): %s", i+1, s)
	}
	return nil
}

// alternately calls measure for the hub and the ceiling in each of o.runs
// runs, the hub first on odd runs and the ceiling first on even ones, and
// records a perf profile of the hub (named name, for d) during its first run
// when o.perf asks for it.
func alternately(o options, hub, ceiling *child, name string, d time.Duration, measure func(c *child) error) error {
	for run := range o.runs {
		order := []*child{hub, ceiling}
		if run%2 == 1 {
			order = []*child{ceiling, hub}
		}
		for _, c := range order {
			wait := func() {}
			if c == hub && run == 0 {
				wait = hub.perfRecord(o.perf, name, d)
			}
			err := measure(c)
			wait()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func durs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = ms(d)
	}
	return strings.Join(parts, ", ")
}

// realisticMix runs the mix on f's hub, closed loop, o.runs times, and adds
// its throughput (against the P3 ceiling) and its latencies by call kind. It
// returns the merged results.
func realisticMix(ctx context.Context, o options, rep *report, f *fixture, label string, ceiling float64) (*stats, error) {
	warm(ctx, f.hub.Base, f.mix(), 2*time.Second)
	all := newStats()
	var rates []float64
	policyBefore, perr := policyTotals(f.hub.AdminBase)
	for run := range o.runs {
		wait := func() {}
		if run == 0 {
			wait = f.hub.perfRecord(o.perf, slug(label), o.duration)
		}
		st := closedLoop(ctx, f.hub.Base, o.connections, o.duration, f.mix())
		wait()
		rates = append(rates, st.rate())
		all.merge(st)
		all.elapsed += st.elapsed
	}
	h := median(rates)
	x := row{figure: fmt.Sprintf("%s: realistic mix, %d conns", label, o.connections), value: fmt.Sprintf("%.0f req/s", h)}
	if ceiling > 0 {
		x.ceiling, x.ratio = fmt.Sprintf("%.0f req/s (bare Echo, P3)", ceiling), fmt.Sprintf("%.0f%%", 100*h/ceiling)
	}
	rep.add(x)
	var kinds []string
	for k := range all.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		ks := all.kinds[k]
		rep.add(row{figure: fmt.Sprintf("%s: %s p50 / p99", label, k), value: ms(pct(ks.lat, 50)) + " / " + ms(pct(ks.lat, 99))})
		rep.note("%s %s: %d calls (%.0f%%), status %s", label, k, len(ks.lat)+ks.errs, 100*float64(len(ks.lat))/float64(all.total()), ks.statusLine())
	}
	n, what := failures(all)
	rep.add(row{figure: label + ": failures (non-2xx other than 403/404 on reads, transport errors)", value: fmt.Sprint(n), goal: "0", met: yesNo(n == 0)})
	if n > 0 {
		rep.note("%s failures: %s", label, what)
	}
	rep.note("%s: req/s per run %s", label, list(rates, "%.0f"))
	policyAfter, err := policyTotals(f.hub.AdminBase)
	if err = errors.Join(perr, err); err != nil {
		return nil, fmt.Errorf("policy metrics: %w", err)
	}
	decisions := policyAfter["decisions"] - policyBefore["decisions"]
	evals := policyAfter["evaluations"] - policyBefore["evaluations"]
	secs := policyAfter["evaluation_seconds"] - policyBefore["evaluation_seconds"]
	if decisions > 0 && evals > 0 {
		rep.add(row{figure: label + ": policy evaluation time per decision (cache hits and misses)",
			value: fmt.Sprintf("%.1f µs (%.1f%% of %.0f decisions evaluated, %.0f µs each)", 1e6*secs/decisions, 100*evals/decisions, decisions, 1e6*secs/evals)})
		var byKind []string
		for _, k := range []string{"case", "section", "item", "append", "service"} {
			d := policyAfter["decisions/"+k] - policyBefore["decisions/"+k]
			e := policyAfter["evaluations/"+k] - policyBefore["evaluations/"+k]
			if d > 0 {
				byKind = append(byKind, fmt.Sprintf("%s %.0f (%.0f%% evaluated)", k, d, 100*e/d))
			}
		}
		rep.note("%s: %.2f policy decisions per call (the hub's /metrics): %s; a repeated read of a case version takes none (answer cache), and a decision alike to one already made is not evaluated (decision cache)",
			label, decisions/float64(all.total()), strings.Join(byKind, ", "))
	}
	return all, nil
}

// slug makes a file name of a figure's name.
func slug(s string) string {
	var b []byte
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, byte(c))
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return strings.Trim(string(b), "-")
}
