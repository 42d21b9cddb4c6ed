package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	liaisonhub "github.com/liaison-hub/liaison/hub"
)

// The feed's clients of P11 (feed.go): server-sent-event followers, webhook
// endpoints, consumers that stop reading, and idle streams. Each records when
// every marked entry (feed.go, "markers") reached it.

// markerPrefix starts the marker the feed figure writes into the free text of
// each append of the mix (an InterventionRecorded summary, a
// CounsellingNoteAdded note); the marker goes on with 8 decimal digits.
const markerPrefix = "p11-marker-"

// markersIn returns the markers in b.
func markersIn(b []byte) []string {
	var out []string
	for {
		i := bytes.Index(b, []byte(markerPrefix))
		if i < 0 {
			return out
		}
		b = b[i+len(markerPrefix):]
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		out = append(out, markerPrefix+string(b[:n]))
		b = b[n:]
	}
}

// binding is one reader of the feed: a demo identity and a purpose of its
// organisation (a feed cursor is bound to both).
type binding struct {
	p       persona
	purpose string
	// start is the cursor at the end of its feed before the measurement, and
	// entries the number of entries up to it.
	start   string
	entries int
	// end is the cursor at the end of its feed after the measurement, and
	// expected the markers its feed holds between start and end (the JSON
	// pages: the reference a stream and a webhook are checked against).
	end      string
	expected map[string]bool
}

func (b *binding) String() string { return b.p.sub + "/" + b.purpose }

// recipient is one follower or webhook endpoint: when each marker first
// reached it.
type recipient struct {
	kind string // "SSE" or "webhook"
	b    *binding

	mu      sync.Mutex
	got     map[string]time.Time
	dups    int
	entries int
	last    time.Time // the last arrival of anything
	cursor  string    // a webhook's: the cursor of the last delivery
	lastN   int       // a webhook's: the entries of the last delivery
	err     error     // why a stream ended early
}

func newRecipient(kind string, b *binding) *recipient {
	return &recipient{kind: kind, b: b, got: map[string]time.Time{}}
}

// arrived notes entries that reached r at at, with the markers they carry.
func (r *recipient) arrived(markers []string, entries int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries += entries
	r.last = at
	for _, m := range markers {
		if _, ok := r.got[m]; ok {
			r.dups++
			continue
		}
		r.got[m] = at
	}
}

// feedRequest builds GET /v1/feed as b's reader from cursor, as a stream when
// sse.
func feedRequest(ctx context.Context, base string, b *binding, cursor string, limit int, sse bool) (*http.Request, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/feed?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.p.token)
	req.Header.Set("Liaison-Purpose", b.purpose)
	if sse {
		req.Header.Set("Accept", "text/event-stream")
	}
	return req, nil
}

// readFeedPages pages b's feed with JSON pages of 500 from cursor to its end
// and returns the entries, the markers they carry, and the cursor at the end.
func readFeedPages(ctx context.Context, client *http.Client, base string, b *binding, cursor string) (int, map[string]bool, string, error) {
	markers := map[string]bool{}
	n := 0
	for {
		req, err := feedRequest(ctx, base, b, cursor, liaisonhub.MaxFeedLimit, false)
		if err != nil {
			return n, nil, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return n, nil, "", err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return n, nil, "", err
		}
		if resp.StatusCode != http.StatusOK {
			return n, nil, "", fmt.Errorf("feed of %s: %s %s", b, resp.Status, body)
		}
		var page struct {
			Items  []json.RawMessage `json:"items"`
			Cursor string            `json:"cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return n, nil, "", fmt.Errorf("feed of %s: %w", b, err)
		}
		for _, it := range page.Items {
			for _, m := range markersIn(it) {
				markers[m] = true
			}
		}
		n += len(page.Items)
		if len(page.Items) == 0 {
			return n, markers, page.Cursor, nil
		}
		cursor = page.Cursor
	}
}

// streamClient is the HTTP client of the harness's streams: as many
// connections as asked for, no overall timeout.
func streamClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableCompression: true, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute,
		ResponseHeaderTimeout: 5 * time.Minute,
	}}
}

// openStream opens b's feed as server-sent events from cursor and returns
// once the hub has answered 200; the stream is then read until ctx ends,
// each entry noted in r (and counted in entries) as its data line arrives.
// done is closed when the stream has ended.
func openStream(ctx context.Context, client *http.Client, base string, r *recipient, cursor string, entries *atomic.Int64) (done <-chan struct{}, err error) {
	req, err := feedRequest(ctx, base, r.b, cursor, 0, true)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("stream of %s: %s %s", r.b, resp.Status, b)
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) {
				continue
			}
			at := time.Now()
			r.arrived(markersIn(line), 1, at)
			if entries != nil {
				entries.Add(1)
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
		} else if ctx.Err() == nil {
			r.mu.Lock()
			r.err = io.ErrUnexpectedEOF // the hub ended the stream
			r.mu.Unlock()
		}
	}()
	return ch, nil
}

// endpoint is a webhook endpoint of the harness: an HTTP server on loopback
// that notes what each delivery carries and checks its signature.
type endpoint struct {
	*recipient
	url    string
	srv    *http.Server
	secret atomic.Value // string, once registered
	ready  chan struct{}
	bad    atomic.Int64 // deliveries with a bad signature or body
	posts  atomic.Int64
	count  *atomic.Int64 // entries received by every client
}

func startEndpoint(b *binding, entries *atomic.Int64) (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &endpoint{recipient: newRecipient("webhook", b), url: "http://" + ln.Addr().String() + "/liaison", ready: make(chan struct{}), count: entries}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serve), ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	return e, nil
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		e.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	select {
	case <-e.ready:
	case <-time.After(30 * time.Second):
	}
	e.posts.Add(1)
	secret, _ := e.secret.Load().(string)
	want, err := liaisonhub.SignWebhook(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
	var d struct {
		Type string `json:"type"`
		Data struct {
			Items  []json.RawMessage `json:"items"`
			Cursor string            `json:"cursor"`
		} `json:"data"`
	}
	if err != nil || r.Header.Get("webhook-signature") != want || json.Unmarshal(body, &d) != nil || d.Type != "liaison.feed" {
		e.bad.Add(1)
	}
	var ms []string
	for _, it := range d.Data.Items {
		ms = append(ms, markersIn(it)...)
	}
	e.arrived(ms, len(d.Data.Items), at)
	e.mu.Lock()
	e.cursor, e.lastN = d.Data.Cursor, len(d.Data.Items)
	e.mu.Unlock()
	e.count.Add(int64(len(d.Data.Items)))
	w.WriteHeader(http.StatusNoContent)
}

// stalled is a consumer that opened a stream and never reads from its socket:
// a raw TCP connection with a small receive buffer, so that the hub's writes
// to it block soon.
type stalled struct {
	conn net.Conn
	port int // its local port
}

// openStalled opens b's feed as server-sent events from cursor on a raw
// connection to addr, sends the request and reads nothing, ever.
func openStalled(addr string, b *binding, cursor string) (*stalled, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	q := url.Values{"cursor": {cursor}}
	_, err = fmt.Fprintf(conn, "GET /v1/feed?%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nLiaison-Purpose: %s\r\nAccept: text/event-stream\r\n\r\n",
		q.Encode(), addr, b.p.token, b.purpose)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &stalled{conn: conn, port: conn.LocalAddr().(*net.TCPAddr).Port}, nil
}

// tcpQueues reads /proc/net/tcp: for each connection between the local port
// server and one of the ports clients, the bytes the server side has not had
// acknowledged (its send queue) and the bytes the client side has not read
// (its receive queue).
func tcpQueues(server int, clients []int) (send, recv []int64, err error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, nil, err
	}
	want := map[int]bool{}
	for _, c := range clients {
		want[c] = true
	}
	port := func(addr string) int {
		_, p, ok := strings.Cut(addr, ":")
		if !ok {
			return -1
		}
		n, err := strconv.ParseInt(p, 16, 32)
		if err != nil {
			return -1
		}
		return int(n)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		local, remote := port(f[1]), port(f[2])
		tx, rx, _ := strings.Cut(f[4], ":")
		txn, _ := strconv.ParseInt(tx, 16, 64)
		rxn, _ := strconv.ParseInt(rx, 16, 64)
		switch {
		case local == server && want[remote]:
			send = append(send, txn)
		case want[local] && remote == server:
			recv = append(recv, rxn)
		}
	}
	return send, recv, nil
}

// raiseFileLimit raises this process's soft limit of open files to at least
// n (up to the hard limit); the hubs it starts inherit it.
func raiseFileLimit(n uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur >= n {
		return rl.Cur, nil
	}
	rl.Cur = min(max(n, rl.Cur), rl.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// metrics reads the named gauges and counters (no labels) of a hub's /metrics.
func metrics(base string, names ...string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && want[name] {
			x, err := strconv.ParseFloat(v, 64)
			if err == nil {
				out[name] = x
			}
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok && sc.Err() == nil {
			return out, fmt.Errorf("no %s in %s/metrics", n, base)
		}
	}
	return out, sc.Err()
}
