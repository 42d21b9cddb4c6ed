package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// request is one call the load generator makes. Kind groups calls in the
// results ("section", "case", "list", "append").
type request struct {
	kind    string
	method  string
	path    string
	token   string
	purpose string
	body    []byte
	// marker names an append whose answer the feed figure waits to see
	// delivered (feed.go); "" for every other call.
	marker string
}

// picker returns the next request of a worker; r is the worker's own source.
type picker func(r *rand.Rand) *request

// kindStats are the results of one kind of call.
type kindStats struct {
	lat    []time.Duration
	status map[int]int
	errs   int // transport errors
}

// stats are the results of one load run.
type stats struct {
	elapsed time.Duration
	kinds   map[string]*kindStats
}

func newStats() *stats { return &stats{kinds: map[string]*kindStats{}} }

func (s *stats) kind(k string) *kindStats {
	ks := s.kinds[k]
	if ks == nil {
		ks = &kindStats{status: map[int]int{}}
		s.kinds[k] = ks
	}
	return ks
}

func (s *stats) record(k string, status int, err error, d time.Duration) {
	ks := s.kind(k)
	if err != nil {
		ks.errs++
		return
	}
	ks.status[status]++
	ks.lat = append(ks.lat, d)
}

// merge adds o's results to s.
func (s *stats) merge(o *stats) {
	for k, ks := range o.kinds {
		m := s.kind(k)
		m.lat = append(m.lat, ks.lat...)
		m.errs += ks.errs
		for st, n := range ks.status {
			m.status[st] += n
		}
	}
}

// total is the number of answered calls.
func (s *stats) total() int {
	n := 0
	for _, ks := range s.kinds {
		n += len(ks.lat)
	}
	return n
}

// rate is answered calls per second.
func (s *stats) rate() float64 { return float64(s.total()) / s.elapsed.Seconds() }

// all returns the latencies of every kind together.
func (s *stats) all() []time.Duration {
	var out []time.Duration
	for _, ks := range s.kinds {
		out = append(out, ks.lat...)
	}
	return out
}

// pct returns the p-th percentile (0 < p < 100) by nearest rank.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// statusLine lists the statuses of a kind, e.g. "200:9120 403:80".
func (ks *kindStats) statusLine() string {
	var codes []int
	for c := range ks.status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b []byte
	for _, c := range codes {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(ks.status[c]), 10)
	}
	if ks.errs > 0 {
		b = append(b, " transport-errors:"...)
		b = strconv.AppendInt(b, int64(ks.errs), 10)
	}
	return string(b)
}

// newTransport returns a keep-alive transport of at most conns connections.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}
}

// do sends one request and reads the whole answer.
func do(ctx context.Context, c *http.Client, base string, rq *request) (int, error) {
	code, _, err := doBody(ctx, c, base, rq, false)
	return code, err
}

// doBody sends one request and reads the whole answer, which it returns when
// keep is set.
func doBody(ctx context.Context, c *http.Client, base string, rq *request, keep bool) (int, []byte, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, base+rq.path, body)
	if err != nil {
		return 0, nil, err
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	if rq.purpose != "" {
		req.Header.Set("Liaison-Purpose", rq.purpose)
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if keep {
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, err
}

// answered is told of each answer to a marked request (request.marker) of a
// closed loop, with its body and the moment it was read whole.
type answered func(rq *request, status int, body []byte, at time.Time)

// closedLoop runs conns workers, each on its own keep-alive connection,
// sending the next request as soon as the previous answer is read, for d.
// This is the throughput measurement (docs/targets.md, P3).
func closedLoop(ctx context.Context, base string, conns int, d time.Duration, next picker) *stats {
	return closedLoopWith(ctx, base, conns, d, next, nil)
}

// closedLoopWith is closedLoop telling seen (when not nil) of every answer to a
// marked request.
func closedLoopWith(ctx context.Context, base string, conns int, d time.Duration, next picker, seen answered) *stats {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	parts := make([]*stats, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := newTransport(1)
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			st := newStats()
			for ctx.Err() == nil {
				rq := next(r)
				t0 := time.Now()
				keep := seen != nil && rq.marker != ""
				code, body, err := doBody(ctx, c, base, rq, keep)
				at := time.Now()
				if ctx.Err() != nil {
					break // cut off by the end of the run: not a result
				}
				st.record(rq.kind, code, err, at.Sub(t0))
				if keep && err == nil {
					seen(rq, code, body, at)
				}
			}
			parts[w] = st
		}()
	}
	wg.Wait()
	out := newStats()
	out.elapsed = time.Since(start)
	for _, p := range parts {
		out.merge(p)
	}
	return out
}

// openLoop sends rate requests per second for d, whatever the answers do
// (docs/targets.md, P4). Each request's latency runs from the moment it was due
// to be sent (handed to a worker), so time spent waiting for a free worker
// counts: a slow hub cannot hide its queue (no coordinated omission).
func openLoop(ctx context.Context, base string, rate int, d time.Duration, workers int, next picker) *stats {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	type job struct {
		due time.Time
		rq  *request
	}
	jobs := make(chan job, n)
	parts := make([]*stats, workers)
	tr := newTransport(workers)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := newStats()
			for j := range jobs {
				code, err := do(ctx, c, base, j.rq)
				st.record(j.rq.kind, code, err, time.Since(j.due))
			}
			parts[w] = st
		}()
	}
	r := rand.New(rand.NewPCG(uint64(rate), uint64(time.Now().UnixNano())))
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- job{time.Now(), next(r)}
	}
	close(jobs)
	wg.Wait()
	out := newStats()
	out.elapsed = time.Since(start)
	for _, p := range parts {
		out.merge(p)
	}
	return out
}
