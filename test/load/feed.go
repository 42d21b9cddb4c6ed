package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/domain"
	liaisonhub "github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
)

// P11 (docs/targets.md): the feed. 200 server-sent-event followers and 20
// webhook endpoints follow a hub while the realistic mix runs on it; each
// delivery's latency runs from the moment the harness read the 201 of the
// append that made it to the moment the entry reached the follower or the
// endpoint. Appends are matched to deliveries by a marker: every append of
// the mix carries a unique one in its free text (an InterventionRecorded
// summary, a CounsellingNoteAdded note: every reader who may read the item
// gets those fields whole), and a follower notes the marker of each entry as
// it arrives. An entry's version cannot serve: it numbers the item in its
// reader's own view, not in the case.
//
// The figure set starts a hub with the demo data, probes the mix's appends,
// stops it, and copies its data directory twice: hub A gets the followers
// and the webhooks, hub B none. The same mix runs on each in turn,
// alternating (A first on odd runs), for --duration plus a settle of
// feedSettle during which deliveries finish; the hub's CPU
// (process_cpu_seconds_total) over that window, on A beyond what B spent on
// the same requests, per entry delivered, is the feed's cost. Each run also
// runs the mix on A once more with a few consumers that never read their
// streams (stalled), against the run without them. Then A is restarted at
// rest, and 2,000 streams at the end of their feeds are opened on it: the
// growth of its RSS is their memory.

// Sizes of P11.
const (
	feedFollowers = 200
	feedWebhooks  = 20
	feedIdle      = 2000
	feedStalled   = 5
	// feedSettle follows each run: deliveries of the run's last appends
	// finish, and their CPU counts.
	feedSettle = 2 * time.Second
	// feedHold is how long the idle streams are held open before the hub's
	// memory is read (below the hub's keep-alive interval of 15 s, so that
	// they receive nothing at all).
	feedHold = 5 * time.Second
)

// readerAgencies are the organisations of the demo that read case content
// (docs/protocol.md, "Read access": the profile cell is not "none"); their
// identities, with each purpose of their remit, are the feed's readers.
var readerAgencies = []string{"prison-service", "probation-service", "intelligence-service", "municipality", "exit-ngo", "family-support"}

// ack is when the 201 of a marked append was read, and in which run.
type ack struct {
	at    time.Time
	label string // "feed" (hub A), "bare" (hub B), "stall" (hub A with stalled consumers)
	run   int
}

// feedState is what the figure set shares with its load generator and
// clients.
type feedState struct {
	seq     atomic.Uint64
	entries atomic.Int64 // entries received by every follower and endpoint

	mu    sync.Mutex
	acks  map[string]ack
	label string
	run   int
}

// markedMix is f's mix, each append carrying a fresh marker.
func (fs *feedState) markedMix(f *fixture) picker {
	next := f.mix()
	return func(r *rand.Rand) *request {
		rq := next(r)
		if rq.kind != "append" {
			return rq
		}
		return fs.mark(rq)
	}
}

// mark returns a copy of an append of the mix carrying a new marker.
func (fs *feedState) mark(rq *request) *request {
	var env struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rq.body, &env); err != nil || env.Data == nil {
		panic(fmt.Sprintf("an append of the mix is not {type, data}: %s", rq.body))
	}
	m := fmt.Sprintf("%s%08d", markerPrefix, fs.seq.Add(1))
	switch domain.EventType(env.Type) {
	case domain.InterventionRecorded:
		env.Data["summary"] = "Session held as planned; " + m
	case domain.CounsellingNoteAdded:
		env.Data["note"] = "Conversation noted; " + m
	default:
		panic("the feed figure cannot mark an append of type " + env.Type)
	}
	body, err := json.Marshal(map[string]any{"type": env.Type, "data": env.Data})
	if err != nil {
		panic(err)
	}
	c := *rq
	c.body, c.marker = body, m
	return &c
}

// answered notes the 201 of a marked append.
func (fs *feedState) answered(rq *request, status int, _ []byte, at time.Time) {
	if status != http.StatusCreated {
		return
	}
	fs.mu.Lock()
	fs.acks[rq.marker] = ack{at: at, label: fs.label, run: fs.run}
	fs.mu.Unlock()
}

// feedRun is one run of the mix on a hub.
type feedRun struct {
	label      string
	run        int
	st         *stats
	cpu        float64 // hub CPU seconds over the run and its settle
	entries    int64   // entries the clients received meanwhile
	rss        int64   // hub RSS at the end
	send, recv []int64 // the stalled streams' queues at the end (hub side, client side)
}

// mixRun runs the marked mix on hub h for --duration, then waits feedSettle,
// and returns what it measured. The stalled consumers' queues are read at the
// end when there are any.
func (fs *feedState) mixRun(ctx context.Context, o options, h *child, f *fixture, label string, run int, stuck []*stalled) (feedRun, error) {
	fs.mu.Lock()
	fs.label, fs.run = label, run
	fs.mu.Unlock()
	x := feedRun{label: label, run: run}
	m0, err := metrics(h.AdminBase, "process_cpu_seconds_total")
	if err != nil {
		return x, err
	}
	e0 := fs.entries.Load()
	wait := func() {}
	if run == 0 && label == "feed" {
		wait = h.perfRecord(o.perf, "p11-feed", o.duration)
	}
	x.st = closedLoopWith(ctx, h.Base, o.connections, o.duration, fs.markedMix(f), fs.answered)
	wait()
	select {
	case <-time.After(feedSettle):
	case <-ctx.Done():
		return x, ctx.Err()
	}
	m1, err := metrics(h.AdminBase, "process_cpu_seconds_total")
	if err != nil {
		return x, err
	}
	x.cpu = m1["process_cpu_seconds_total"] - m0["process_cpu_seconds_total"]
	x.entries = fs.entries.Load() - e0
	mem, err := h.memory()
	if err != nil {
		return x, err
	}
	x.rss = mem.RSS
	if len(stuck) > 0 {
		_, p, _ := net.SplitHostPort(h.Addr)
		port, _ := strconv.Atoi(p)
		var ports []int
		for _, s := range stuck {
			ports = append(ports, s.port)
		}
		if x.send, x.recv, err = tcpQueues(port, ports); err != nil {
			return x, err
		}
	}
	fmt.Fprintf(os.Stderr, "load: P11 run %d %s: %.0f req/s, append p99 %s, hub CPU %.2f s, %d entries delivered, RSS %s\n",
		run+1, label, x.st.rate(), ms(pct(x.st.kind("append").lat, 99)), x.cpu, x.entries, mib(x.rss))
	return x, nil
}

// parallel calls fn(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// measureFeed measures P11.
func measureFeed(ctx context.Context, o options, bin, tmp string, rep *report) error {
	if n, err := raiseFileLimit(2*feedIdle + 2048); err != nil {
		return fmt.Errorf("raising the limit of open files: %w", err)
	} else if n < feedIdle+1024 {
		return fmt.Errorf("the limit of open files is %d: P11 needs %d streams", n, feedIdle)
	}
	setup := time.Now()
	// The data: the demo through the API, and the mix's appends, on a hub
	// that is then stopped and copied.
	seed := filepath.Join(tmp, "feed-seed")
	h, _, err := startHub(bin, seed, "--demo", "--demo-cases", fmt.Sprint(o.cases))
	if err != nil {
		return err
	}
	m, err := h.WaitLine(demoLoaded, 30*time.Minute)
	if err != nil {
		h.Stop()
		return err
	}
	rep.note("P11: demo data %d cases, %s events, loaded through the API in %s", o.cases, m[1], m[2])
	f, err := newFixture(bin, seed, h)
	if err == nil {
		f.cases, err = f.listCases(f.persona("anna"), o.cases)
	}
	if err == nil {
		err = f.probeAppends(rand.New(rand.NewPCG(11, 12)), 20)
	}
	h.Stop()
	if err != nil {
		return err
	}
	dataA, dataB := filepath.Join(tmp, "feed-a"), filepath.Join(tmp, "feed-b")
	for _, d := range []string{dataA, dataB} {
		if out, err := exec.Command("cp", "-a", seed, d).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the data directory: %v %s", err, out)
		}
	}
	hubA, _, err := startHub(bin, dataA)
	if err != nil {
		return err
	}
	defer func() { hubA.Stop() }()
	hubB, _, err := startHub(bin, dataB)
	if err != nil {
		return err
	}
	defer hubB.Stop()
	fA, fB := *f, *f
	fA.hub, fB.hub = hubA, hubB

	// The readers: every reading identity with every purpose of its remit.
	auth, err := policies.New(ctx, policies.Default(), policies.Options{})
	if err != nil {
		return err
	}
	var bindings []*binding
	for _, p := range f.personas {
		if slices.Contains(readerAgencies, p.agency) {
			for _, pu := range auth.Purposes(p.agency) {
				bindings = append(bindings, &binding{p: p, purpose: pu})
			}
		}
	}
	fs := &feedState{acks: map[string]ack{}}

	// Every reader's feed to its end, in JSON pages: where its followers
	// start.
	client := &http.Client{Timeout: 5 * time.Minute, Transport: newTransport(8)}
	t0 := time.Now()
	if err := parallel(2, len(bindings), func(i int) error {
		b := bindings[i]
		n, _, cur, err := readFeedPages(ctx, client, hubA.Base, b, "")
		b.entries, b.start = n, cur
		return err
	}); err != nil {
		return fmt.Errorf("%w\nhub A's last lines:\n%s", err, hubA.Tail(10))
	}
	var total int
	for _, b := range bindings {
		total += b.entries
	}
	rep.note("P11: %d readers (identity × purpose: %d identities of %s); their feeds read to the end in JSON pages of %d: %d entries in %v",
		len(bindings), len(f.personasOf(readerAgencies)), strings.Join(readerAgencies, ", "), 500, total, time.Since(t0).Round(time.Second))
	// The webhooks, registered once the feeds are read (a page computed
	// while 20 webhooks work through their backlogs can take longer than
	// the hub's 30 s write deadline): their deliveries start from the start
	// of their feeds.
	var eps []*endpoint
	defer func() {
		for _, e := range eps {
			e.srv.Close()
		}
	}()
	for i := range feedWebhooks {
		b := bindings[i*len(bindings)/feedWebhooks]
		e, err := startEndpoint(b, &fs.entries)
		if err != nil {
			return err
		}
		eps = append(eps, e)
		body, _ := json.Marshal(map[string]string{"url": e.url, "purpose": b.purpose})
		code, resp, err := fA.call(&request{method: http.MethodPost, path: "/v1/subscriptions", token: b.p.token, body: body})
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("subscribing as %s: %d %v %s", b, code, err, resp)
		}
		var sub struct{ Secret string }
		if err := json.Unmarshal(resp, &sub); err != nil {
			return err
		}
		e.secret.Store(sub.Secret)
		close(e.ready)
	}
	t1 := time.Now()
	// The webhooks have caught up when each has delivered up to the cursor
	// its reader's JSON pages ended at (cursors are sealed deterministically).
	// A webhook whose last delivery was a full page, with more due, and
	// which has had nothing since for stallAfter, is stalled: the hub waits
	// for the next change of the views (or a minute) before the next page
	// of a backlog (hub/webhooks.go, deliverLoop), which an idle hub never
	// makes. The figure set reports that rather than waiting out a backlog
	// at one page a minute.
	const stallAfter = 45 * time.Second
	for last := time.Now(); ; {
		pending := 0
		var stuck []string
		for _, e := range eps {
			e.mu.Lock()
			if e.cursor != e.b.start && !(e.entries >= e.b.entries && time.Since(e.last) > 5*time.Second) {
				pending++
				if e.lastN == liaisonhub.DefaultFeedLimit && e.entries < e.b.entries && time.Since(e.last) > stallAfter {
					stuck = append(stuck, fmt.Sprintf("%s: %d of %d entries, the last delivery a full page of %d %v ago",
						e.b, e.entries, e.b.entries, e.lastN, time.Since(e.last).Round(time.Second)))
				}
			}
			e.mu.Unlock()
		}
		if pending == 0 {
			break
		}
		if len(stuck) > 0 {
			return fmt.Errorf("P11: hub defect: %d of %d webhooks stalled in their backlog on an idle hub, a full page delivered and nothing since, though their reader's JSON pages hold more (%s); the next page of a backlog waits for another change of the views or a minute (hub/webhooks.go, deliverLoop)",
				len(stuck), len(eps), strings.Join(stuck[:min(len(stuck), 3)], "; "))
		}
		if time.Since(t1) > 20*time.Minute {
			return fmt.Errorf("P11: %d webhooks have not delivered their backlog after %v", pending, time.Since(t1).Round(time.Second))
		}
		if time.Since(last) > 15*time.Second {
			fmt.Fprintf(os.Stderr, "load: P11: %d of %d webhooks still delivering their backlog\n", pending, len(eps))
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var backlog, exact int
	var odd []string
	for _, e := range eps {
		e.mu.Lock()
		backlog += e.entries
		if e.cursor == e.b.start {
			exact++
		}
		if e.entries != e.b.entries {
			odd = append(odd, fmt.Sprintf("%s %d of %d", e.b, e.entries, e.b.entries))
		}
		e.entries = 0
		e.mu.Unlock()
	}
	rep.note("P11: %d webhooks (readers %s) delivered the backlog of their feeds from the start, %d entries, in %v after registering; %d ended at the very cursor of their reader's JSON pages%s",
		len(eps), bindingsOf(eps), backlog, time.Since(t1).Round(time.Second), exact, oddNote(odd))

	// The followers, from the end of their feeds.
	before, err := metrics(hubA.AdminBase, "go_goroutines", "process_open_fds")
	if err != nil {
		return err
	}
	fctx, stopFollowers := context.WithCancel(ctx)
	defer stopFollowers()
	followers := make([]*recipient, feedFollowers)
	dones := make([]<-chan struct{}, feedFollowers)
	sclient := streamClient()
	if err := parallel(16, feedFollowers, func(i int) error {
		r := newRecipient("SSE", bindings[i%len(bindings)])
		done, err := openStream(fctx, sclient, hubA.Base, r, r.b.start, &fs.entries)
		followers[i], dones[i] = r, done
		return err
	}); err != nil {
		return err
	}
	rep.note("P11: %d followers (server-sent events) opened from the end of their feeds, %d–%d per reader (round robin); setup took %v",
		feedFollowers, feedFollowers/len(bindings), (feedFollowers+len(bindings)-1)/len(bindings), time.Since(setup).Round(time.Second))
	warm(ctx, hubA.Base, fA.mix(), 2*time.Second)
	warm(ctx, hubB.Base, fB.mix(), 2*time.Second)
	time.Sleep(feedSettle)

	// The runs: A with followers and B without, alternating; then A with
	// stalled consumers too.
	var stallers []*binding
	for _, b := range bindings {
		if b.p.agency == "prison-service" || b.p.agency == "probation-service" {
			stallers = append(stallers, b)
		}
	}
	var runs []feedRun
	for run := range o.runs {
		order := []string{"feed", "bare"}
		if run%2 == 1 {
			order = []string{"bare", "feed"}
		}
		for _, label := range order {
			hh, ff := hubA, &fA
			if label == "bare" {
				hh, ff = hubB, &fB
			}
			x, err := fs.mixRun(ctx, o, hh, ff, label, run, nil)
			if err != nil {
				return err
			}
			runs = append(runs, x)
		}
		var stuck []*stalled
		for i := range feedStalled {
			b := stallers[(run*feedStalled+i)*7%len(stallers)]
			s, err := openStalled(hubA.Addr, b, b.start)
			if err != nil {
				return err
			}
			stuck = append(stuck, s)
		}
		time.Sleep(time.Second)
		x, err := fs.mixRun(ctx, o, hubA, &fA, "stall", run, stuck)
		for _, s := range stuck {
			s.conn.Close()
		}
		if err != nil {
			return err
		}
		runs = append(runs, x)
	}
	time.Sleep(3 * time.Second)

	// The reference: each reader's feed in JSON pages from where its
	// followers started.
	fs.mu.Lock()
	acks := fs.acks
	fs.mu.Unlock()
	t2 := time.Now()
	if err := parallel(2, len(bindings), func(i int) error {
		b := bindings[i]
		_, got, cur, err := readFeedPages(ctx, client, hubA.Base, b, b.start)
		b.end, b.expected = cur, map[string]bool{}
		for m := range got {
			if a, ok := acks[m]; ok && a.label != "bare" {
				b.expected[m] = true
			}
		}
		return err
	}); err != nil {
		return fmt.Errorf("%w\nhub A's last lines:\n%s", err, hubA.Tail(10))
	}
	var ended []string
	for _, r := range followers {
		r.mu.Lock()
		if r.err != nil {
			ended = append(ended, fmt.Sprintf("%s: %v", r.b, r.err))
		}
		r.mu.Unlock()
	}
	stopFollowers()
	for _, d := range dones {
		<-d
	}
	time.Sleep(2 * time.Second)
	after, err := metrics(hubA.AdminBase, "go_goroutines", "process_open_fds")
	if err != nil {
		return err
	}
	rep.note("P11: reference read (every reader's JSON pages from the followers' start) took %v; hub A's goroutines / open files before the followers %0.f / %.0f, after they closed %.0f / %.0f",
		time.Since(t2).Round(time.Second), before["go_goroutines"], before["process_open_fds"], after["go_goroutines"], after["process_open_fds"])
	if len(ended) > 0 {
		rep.note("P11: **%d followers' streams ended before the harness closed them**: %s", len(ended), strings.Join(ended[:min(len(ended), 5)], "; "))
	}
	hubB.Stop()

	recips := slices.Clone(followers)
	for _, e := range eps {
		recips = append(recips, e.recipient)
		if n := e.bad.Load(); n > 0 {
			rep.note("P11: **webhook %s: %d deliveries with a bad signature or body**", e.b, n)
		}
	}
	reportFeed(o, rep, runs, recips, bindings, acks)

	// Idle streams on A restarted, at rest.
	hubA.Stop()
	if hubA, _, err = startHub(bin, dataA); err != nil {
		return err
	}
	return idleStreams(ctx, rep, hubA, client, bindings)
}

// personasOf returns the personas of the given organisations.
func (f *fixture) personasOf(agencies []string) []persona {
	var out []persona
	for _, p := range f.personas {
		if slices.Contains(agencies, p.agency) {
			out = append(out, p)
		}
	}
	return out
}

func bindingsOf(eps []*endpoint) string {
	var s []string
	for _, e := range eps {
		s = append(s, e.b.String())
	}
	return strings.Join(s, ", ")
}

func oddNote(odd []string) string {
	if len(odd) == 0 {
		return "; each delivered as many entries as its reader's JSON pages held"
	}
	return "; **entries delivered against the JSON pages' count differ**: " + strings.Join(odd, ", ")
}

// latKey groups delivery latencies.
type latKey struct {
	kind, label string
	run         int
}

// reportFeed adds P11's delivery, CPU and stalled-consumer figures.
func reportFeed(o options, rep *report, runs []feedRun, recips []*recipient, bindings []*binding, acks map[string]ack) {
	lat := map[latKey][]time.Duration{}
	byBinding := map[*binding][]time.Duration{}
	missing := map[string]int{}
	pairs := map[string]int{}
	var wrong, dups, early int
	var missed []string
	for _, r := range recips {
		r.mu.Lock()
		dups += r.dups
		for m := range r.b.expected {
			pairs[r.kind]++
			if _, ok := r.got[m]; !ok {
				missing[r.kind]++
				if len(missed) < 5 {
					missed = append(missed, fmt.Sprintf("%s to a %s follower of %s (%s run %d)", m, r.kind, r.b, acks[m].label, acks[m].run+1))
				}
			}
		}
		for m, at := range r.got {
			a, ok := acks[m]
			if !ok || a.label == "bare" {
				continue // made in a warm-up, or its 201 was cut off by the end of a run
			}
			if !r.b.expected[m] {
				wrong++
				continue
			}
			d := at.Sub(a.at)
			if d < 0 {
				early++
				d = 0
			}
			k := latKey{r.kind, a.label, a.run}
			lat[k] = append(lat[k], d)
			if r.kind == "SSE" && a.label == "feed" {
				byBinding[r.b] = append(byBinding[r.b], d)
			}
		}
		r.mu.Unlock()
	}
	byRun := func(kind, label string) (p50, p99 []time.Duration, all []time.Duration) {
		for run := range o.runs {
			l := lat[latKey{kind, label, run}]
			p50, p99 = append(p50, pct(l, 50)), append(p99, pct(l, 99))
			all = append(all, l...)
		}
		return
	}
	for _, kind := range []string{"SSE", "webhook"} {
		p50, p99, all := byRun(kind, "feed")
		who := fmt.Sprintf("%d followers (server-sent events)", feedFollowers)
		if kind == "webhook" {
			who = fmt.Sprintf("%d webhook endpoints", feedWebhooks)
		}
		rep.add(row{figure: "P11 feed during the realistic mix: delivery after the append's 201 to " + who + ", p50 / p99",
			value: ms(medianDur(p50)) + " / " + ms(medianDur(p99)), goal: "p99 ≤ 1 s", met: yesNo(len(all) > 0 && medianDur(p99) <= time.Second)})
		rep.note("P11 %s deliveries in the runs with followers: %d measured; p99 per run %s; all runs together p50 %s, p90 %s, p99 %s, p99.9 %s, max %s, %.2f%% over 1 s",
			kind, len(all), durs(p99), ms(pct(all, 50)), ms(pct(all, 90)), ms(pct(all, 99)), ms(pct(all, 99.9)), ms(pct(all, 100)), over(all, time.Second))
		_, sp99, sall := byRun(kind, "stall")
		rep.note("P11 %s deliveries in the runs with stalled consumers too: %d measured; p99 per run %s; together p50 %s, p99 %s, max %s",
			kind, len(sall), durs(sp99), ms(pct(sall, 50)), ms(pct(sall, 99)), ms(pct(sall, 100)))
	}
	var miss int
	for _, n := range missing {
		miss += n
	}
	rep.add(row{figure: "P11 deliveries measured (SSE; webhooks), (append, recipient that may read it) pairs; missing after the runs",
		value: fmt.Sprintf("%d; %d; missing %d", pairs["SSE"]-missing["SSE"], pairs["webhook"]-missing["webhook"], miss), goal: "0 missing", met: yesNo(miss == 0)})
	rep.note("P11 pairs: an append's marker in the JSON pages of a reader's feed (the reference, read after the runs) names a delivery due to each of the reader's followers and endpoints; missing (SSE %d, webhooks %d)%s; delivered but not in the reference %d; delivered twice %d; arrived before the harness had read the 201 (counted as 0) %d",
		missing["SSE"], missing["webhook"], listNote(missed), wrong, dups, early)
	type slow struct {
		b   *binding
		p99 time.Duration
		n   int
	}
	var slows []slow
	for b, l := range byBinding {
		slows = append(slows, slow{b, pct(l, 99), len(l)})
	}
	sort.Slice(slows, func(i, j int) bool { return slows[i].p99 > slows[j].p99 })
	var sl []string
	for _, s := range slows[:min(len(slows), 5)] {
		sl = append(sl, fmt.Sprintf("%s p99 %s (%d deliveries)", s.b, ms(s.p99), s.n))
	}
	rep.note("P11 SSE readers with the slowest deliveries (runs with followers): %s", strings.Join(sl, "; "))

	// CPU, throughput and the stalled consumers.
	get := func(label string) []feedRun {
		var out []feedRun
		for _, x := range runs {
			if x.label == label {
				out = append(out, x)
			}
		}
		return out
	}
	feed, bare, stall := get("feed"), get("bare"), get("stall")
	var perEntry, raw, rate, bareRate, ap99, bareP99, stallP99, rss, stallRSS, entries []float64
	var cpuNotes []string
	for i := range feed {
		a, b := feed[i], bare[i]
		na, nb := float64(a.st.total()), float64(b.st.total())
		feedCPU := a.cpu - na*b.cpu/nb
		perEntry = append(perEntry, 1e6*feedCPU/float64(a.entries))
		raw = append(raw, 1e6*(a.cpu-b.cpu)/float64(a.entries))
		rate, bareRate = append(rate, a.st.rate()), append(bareRate, b.st.rate())
		ap99 = append(ap99, float64(pct(a.st.kind("append").lat, 99)))
		bareP99 = append(bareP99, float64(pct(b.st.kind("append").lat, 99)))
		rss, entries = append(rss, float64(a.rss)), append(entries, float64(a.entries))
		cpuNotes = append(cpuNotes, fmt.Sprintf("run %d: %.2f s for %.0f calls and %d entries with followers, %.2f s for %.0f calls without",
			i+1, a.cpu, na, a.entries, b.cpu, nb))
	}
	for _, s := range stall {
		stallP99 = append(stallP99, float64(pct(s.st.kind("append").lat, 99)))
		stallRSS = append(stallRSS, float64(s.rss))
	}
	rep.add(row{figure: "P11 hub CPU per feed entry delivered (with followers, beyond the same mix's CPU per call without)",
		value: fmt.Sprintf("%.0f µs (%.0f entries per run)", median(perEntry), median(entries))})
	rep.note("P11 hub CPU (process_cpu_seconds_total over each run and its %v settle): %s; per entry, per run, %s µs; the plain difference of the two runs per entry %s µs (the mix does fewer calls with followers)",
		feedSettle, strings.Join(cpuNotes, "; "), list(perEntry, "%.0f"), list(raw, "%.0f"))
	rep.add(row{figure: fmt.Sprintf("P11 realistic mix, %d conns, with the followers and webhooks", o.connections),
		value: fmt.Sprintf("%.0f req/s", median(rate)), ceiling: fmt.Sprintf("%.0f req/s (the same mix without them)", median(bareRate)),
		ratio: fmt.Sprintf("%.0f%%", 100*median(rate)/median(bareRate))})
	rep.add(row{figure: "P11 append p99 with followers and webhooks / without",
		value: ms(time.Duration(median(ap99))) + " / " + ms(time.Duration(median(bareP99)))})
	rep.note("P11 mix: req/s per run with followers %s, without %s; append p99 per run with %s, without %s",
		list(rate, "%.0f"), list(bareRate, "%.0f"), durs(toDurs(ap99)), durs(toDurs(bareP99)))
	rep.add(row{figure: fmt.Sprintf("P11 %d stalled consumers (streams never read) during the mix: append p99 with them / without", feedStalled),
		value: ms(time.Duration(median(stallP99))) + " / " + ms(time.Duration(median(ap99)))})
	rep.add(row{figure: "P11 hub RSS at the end of the run with stalled consumers / without",
		value: mib(int64(median(stallRSS))) + " / " + mib(int64(median(rss)))})
	var qs []string
	for _, s := range stall {
		var send, recv int64
		for _, n := range s.send {
			send += n
		}
		for _, n := range s.recv {
			recv += n
		}
		qs = append(qs, fmt.Sprintf("run %d: %d of %d connections still open, %s unsent on the hub's side, %s unread on the consumers' (receive buffers of 4 KiB asked)",
			s.run+1, len(s.send), feedStalled, kib(send), kib(recv)))
	}
	rep.note("P11 stalled consumers: %d streams of prison and probation readers opened 1 s before the run from where the followers started (a backlog to send at once) on raw connections that never read; append p99 per run %s; hub RSS at the end per run %s (without: %s); at the end of each run %s",
		feedStalled, durs(toDurs(stallP99)), mibs(stallRSS), mibs(rss), strings.Join(qs, "; "))
	var fails int
	var what []string
	for _, x := range runs {
		if n, w := failures(x.st); n > 0 {
			fails += n
			what = append(what, fmt.Sprintf("%s run %d: %s", x.label, x.run+1, w))
		}
	}
	rep.add(row{figure: "P11 mix failures (non-2xx other than 403/404 on reads, transport errors), every run", value: fmt.Sprint(fails), goal: "0", met: yesNo(fails == 0)})
	if fails > 0 {
		rep.note("P11 failures: %s", strings.Join(what, "; "))
	}
}

func listNote(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return ", e.g. " + strings.Join(xs, "; ")
}

func toDurs(xs []float64) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x)
	}
	return out
}

func mibs(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = mib(int64(x))
	}
	return strings.Join(parts, ", ")
}

func kib(n int64) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

// idleStreams opens feedIdle streams at the end of their feeds on a hub at
// rest and reports the growth of its RSS.
func idleStreams(ctx context.Context, rep *report, h *child, client *http.Client, bindings []*binding) error {
	// One look from each reader's end first: the hub's caches of the views
	// are then as a reader's first stream leaves them.
	for _, b := range bindings {
		n, _, _, err := readFeedPages(ctx, client, h.Base, b, b.end)
		if err != nil {
			return err
		}
		if n > 0 {
			rep.note("P11 idle streams: **the feed of %s had %d entries after the cursor it ended at before the restart**", b, n)
		}
	}
	time.Sleep(3 * time.Second)
	names := []string{"go_goroutines", "process_open_fds", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes"}
	m0, err := h.memory()
	if err != nil {
		return err
	}
	g0, err := metrics(h.AdminBase, names...)
	if err != nil {
		return err
	}
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	var got atomic.Int64
	sclient := streamClient()
	rs := make([]*recipient, feedIdle)
	dones := make([]<-chan struct{}, feedIdle)
	t0 := time.Now()
	if err := parallel(32, feedIdle, func(i int) error {
		r := newRecipient("idle", bindings[i%len(bindings)])
		done, err := openStream(ictx, sclient, h.Base, r, r.b.end, &got)
		rs[i], dones[i] = r, done
		return err
	}); err != nil {
		stop()
		for _, d := range dones {
			if d != nil {
				<-d
			}
		}
		return err
	}
	opened := time.Since(t0)
	time.Sleep(feedHold)
	m1, err := h.memory()
	if err != nil {
		return err
	}
	g1, err := metrics(h.AdminBase, names...)
	if err != nil {
		return err
	}
	var ended int
	for _, r := range rs {
		r.mu.Lock()
		if r.err != nil {
			ended++
		}
		r.mu.Unlock()
	}
	stop()
	for _, d := range dones {
		<-d
	}
	time.Sleep(3 * time.Second)
	m2, err := h.memory()
	if err != nil {
		return err
	}
	g2, err := metrics(h.AdminBase, names...)
	if err != nil {
		return err
	}
	grow := m1.RSS - m0.RSS
	rep.add(row{figure: fmt.Sprintf("P11 %d idle streams (at the end of their feeds, hub at rest): growth of the hub's RSS", feedIdle),
		value: fmt.Sprintf("%s (%.0f KiB per stream)", mib(grow), float64(grow)/1024/feedIdle), goal: "≤ 100 MiB", met: yesNo(grow <= 100<<20)})
	rep.note("P11 idle streams: %d opened in %v over the %d readers (round robin), held %v; hub RSS %s before, %s while open, %s 3 s after they closed; Go heap in use %s → %s, Go runtime total %s → %s; goroutines %.0f → %.0f → %.0f; open files %.0f → %.0f → %.0f; entries received meanwhile %d (0 expected); streams the hub ended %d",
		feedIdle, opened.Round(time.Millisecond), len(bindings), feedHold, mib(m0.RSS), mib(m1.RSS), mib(m2.RSS),
		mib(int64(g0["go_memstats_heap_inuse_bytes"])), mib(int64(g1["go_memstats_heap_inuse_bytes"])),
		mib(int64(g0["go_memstats_sys_bytes"])), mib(int64(g1["go_memstats_sys_bytes"])),
		g0["go_goroutines"], g1["go_goroutines"], g2["go_goroutines"], g0["process_open_fds"], g1["process_open_fds"], g2["process_open_fds"], got.Load(), ended)
	return nil
}
