package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

// endpoint is a partner's webhook endpoint: it verifies each delivery's
// signature and answers as told.
type endpoint struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []received
	answer func(n int) int // status of the n-th delivery (0-based); 0: hang
	srv    *httptest.Server
	stop   chan struct{} // ends a hanging answer
}

type received struct {
	id      string
	entries int
	valid   bool
}

func newEndpoint(t *testing.T, answer func(n int) int) *endpoint {
	e := &endpoint{t: t, answer: answer, stop: make(chan struct{})}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		want, err := hub.SignWebhook(e.secret, id, ts, body)
		var payload struct {
			Type string `json:"type"`
			Data struct {
				Items []json.RawMessage `json:"items"`
			} `json:"data"`
		}
		json.Unmarshal(body, &payload)
		n := len(e.got)
		e.got = append(e.got, received{id: id, entries: len(payload.Data.Items), valid: err == nil && want == r.Header.Get("webhook-signature") && payload.Type == "liaison.feed"})
		status := e.answer(n)
		e.mu.Unlock()
		if status == 0 {
			select { // hang
			case <-r.Context().Done():
			case <-e.stop:
			}
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { close(e.stop) })
	return e
}

func (e *endpoint) deliveries() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) subscribe(t *testing.T, who domain.Identity, purpose string, e *endpoint) hub.Subscription {
	t.Helper()
	var sub hub.Subscription
	if err := f.call(t, who, purpose, "subscription.create", func(ctx context.Context, c *hub.Call) (err error) {
		sub, err = f.svc.Subscribe(ctx, c, []byte(`{"url":"`+e.srv.URL+`/hook","purpose":"`+purpose+`"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.secret = sub.Secret
	return sub
}

// TestWebhooksDeliverSignedRetryAndPause: deliveries carry what the feed
// gives the subscribing identity, signed per Standard Webhooks; a failing
// endpoint is retried with the same webhook-id and paused after repeated
// failure; one that hangs delays no other subscription; each attempt is in
// the delivery log.
func TestWebhooksDeliverSignedRetryAndPause(t *testing.T) {
	f := newFixture(t, withKV(), withWebhookBackoff(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.RunWebhooks(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	good := newEndpoint(t, func(int) int { return 204 })
	flaky := newEndpoint(t, func(n int) int {
		if n < 3 {
			return 500
		}
		return 200
	})
	hanging := newEndpoint(t, func(int) int { return 0 })
	down := newEndpoint(t, func(int) int { return 503 })
	f.subscribe(t, mentor, "reintegration", good)
	f.subscribe(t, mentor, "reintegration", flaky)
	f.subscribe(t, mentor, "reintegration", hanging)
	paused := f.subscribe(t, mentor, "reintegration", down)

	id := f.open(t, "HOOK-2026-0001")
	f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
	waitUntil(t, "the good endpoint's delivery", func() bool { return len(good.deliveries()) >= 1 })
	if d := good.deliveries()[0]; !d.valid || d.entries != 2 {
		t.Errorf("first delivery: %+v, want a valid signature and the case's two items", d)
	}
	waitUntil(t, "the flaky endpoint's success", func() bool { return len(flaky.deliveries()) >= 4 })
	fd := flaky.deliveries()
	for i := 1; i < len(fd); i++ {
		if fd[i].id != fd[0].id {
			t.Errorf("a retry changed the webhook-id: %q then %q", fd[0].id, fd[i].id)
		}
	}
	waitUntil(t, "the failing endpoint's pause", func() bool {
		var subs []hub.Subscription
		f.call(t, mentor, "reintegration", "subscription.list", func(ctx context.Context, c *hub.Call) (err error) {
			subs, err = f.svc.Subscriptions(ctx, c)
			return err
		})
		for _, s := range subs {
			if s.ID == paused.ID && s.Status == hub.SubscriptionPaused {
				return true
			}
		}
		return false
	})
	if n := len(down.deliveries()); n != hub.MaxWebhookFailures {
		t.Errorf("%d attempts before the pause, want %d", n, hub.MaxWebhookFailures)
	}
	var log []hub.Delivery
	if err := f.call(t, mentor, "reintegration", "subscription.deliveries", func(ctx context.Context, c *hub.Call) (err error) {
		log, err = f.svc.Deliveries(ctx, c, paused.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(log) != hub.MaxWebhookFailures || log[0].OK || log[0].Status != 503 {
		t.Errorf("the paused subscription's log: %+v", log)
	}
	// A new item reaches the good endpoint while the hanging one hangs.
	f.write(t, caseworker, id, `{"type":"FamilyContactRecorded","data":{"date":"2026-03-02"}}`)
	waitUntil(t, "the second delivery", func() bool { return len(good.deliveries()) >= 2 })
	if d := good.deliveries()[1]; !d.valid || d.entries != 1 {
		t.Errorf("second delivery: %+v, want one item", d)
	}
	// Another organisation sees none of it.
	err := f.call(t, mentor, "reintegration", "subscription.deliveries", func(ctx context.Context, c *hub.Call) error {
		c.Identity.Agency = "family-support"
		_, err := f.svc.Deliveries(ctx, c, paused.ID)
		return err
	})
	if domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("another organisation reading the log: %v, want not found", err)
	}
}

// TestAWebhookEndpointMustBeHTTPS: anything but https (or http to loopback)
// is refused, naming the url.
func TestAWebhookEndpointMustBeHTTPS(t *testing.T) {
	f := newFixture(t, withKV())
	for _, u := range []string{"http://partner.example/hook", "ftp://127.0.0.1/x", "https://user:pw@partner.example/", "/relative"} {
		err := f.call(t, mentor, "reintegration", "subscription.create", func(ctx context.Context, c *hub.Call) error {
			_, err := f.svc.Subscribe(ctx, c, []byte(`{"url":"`+u+`","purpose":"reintegration"}`))
			return err
		})
		var e *domain.Error
		if domain.KindOf(err) != domain.KindInvalid || !errorsAs(err, &e) || e.Fields[0].Field != "url" {
			t.Errorf("%s: %v, want invalid naming the url", u, err)
		}
	}
	err := f.call(t, mentor, "research", "subscription.create", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.Subscribe(ctx, c, []byte(`{"url":"https://partner.example/hook","purpose":"research"}`))
		return err
	})
	if domain.KindOf(err) != domain.KindForbidden {
		t.Errorf("a purpose the organisation may not follow: %v, want forbidden", err)
	}
}

// TestAWebhookDeliversABacklogPageAfterPage: a subscription that starts with
// more than a page of entries gets them all, one page after another, with
// nothing appended meanwhile (no page waits for a change of the views).
func TestAWebhookDeliversABacklogPageAfterPage(t *testing.T) {
	f := newFixture(t, withKV())
	id := f.open(t, "HOOK-2026-0100")
	f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
	for n := range hub.DefaultFeedLimit + 20 {
		f.write(t, caseworker, id, fmt.Sprintf(`{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high","note":"n%d"}]}}`, n))
	}
	want := hub.DefaultFeedLimit + 22 // and CaseOpened, ConsentGiven

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.RunWebhooks(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e := newEndpoint(t, func(int) int { return 204 })
	f.subscribe(t, mentor, "reintegration", e)
	total := func() int {
		n := 0
		for _, d := range e.deliveries() {
			n += d.entries
		}
		return n
	}
	waitUntil(t, "the whole backlog", func() bool { return total() >= want })
	if got := total(); got != want || len(e.deliveries()) < 2 {
		t.Errorf("%d entries in %d deliveries, want %d in two pages or more", got, len(e.deliveries()), want)
	}
}
