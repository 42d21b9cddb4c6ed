package hub_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

// TestIdempotentCallsInFlightAndExpiry: while a call with a key runs, the
// same key is a conflict (another request with it: unprocessable); a failed
// call is not remembered; a successful one is, for IdempotencyTTL, then the
// key is free again and the answer swept.
func TestIdempotentCallsInFlightAndExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	f := newFixture(t, withKV(), func(c *hub.Config) {
		c.Clock = func() time.Time { return time.Unix(0, now.Load()) }
		c.IdempotencyTTL = time.Hour
	})
	ctx := context.Background()
	begin := func(req string) (*hub.Call, *hub.Replay, error) {
		c := hub.NewCall(caseworker, "", time.Unix(0, now.Load()), "req-"+req, "event.append")
		r, err := f.svc.Idempotent(ctx, c, "k-1", []byte(req))
		return c, r, err
	}
	first, r, err := begin("POST /x\n{}")
	if err != nil || r != nil {
		t.Fatalf("the first call: %v, %v; want it to run", r, err)
	}
	if _, _, err := begin("POST /x\n{}"); domain.KindOf(err) != domain.KindConflict {
		t.Errorf("the same request while the first runs: %v, want a conflict", err)
	}
	if _, _, err := begin("POST /x\n{\"other\":1}"); domain.KindOf(err) != domain.KindUnprocessable {
		t.Errorf("another request while the first runs: %v, want unprocessable", err)
	}
	f.svc.FinishIdempotent(ctx, first, 503, nil) // failed: not remembered
	second, r, err := begin("POST /x\n{}")
	if err != nil || r != nil {
		t.Fatalf("after a failed call: %v, %v; want the retry to run", r, err)
	}
	f.svc.FinishIdempotent(ctx, second, 201, []byte(`{"ok":true}`))
	_, r, err = begin("POST /x\n{}")
	if err != nil || r == nil || r.Status != 201 || string(r.Body) != `{"ok":true}` {
		t.Fatalf("after a successful call: %+v, %v; want its answer", r, err)
	}
	if _, _, err := begin("POST /x\n{\"other\":1}"); domain.KindOf(err) != domain.KindUnprocessable {
		t.Errorf("another request with a remembered key: %v, want unprocessable", err)
	}
	if n, err := f.svc.SweepIdempotency(ctx); err != nil || n != 0 {
		t.Errorf("sweep before expiry: %d, %v; want 0", n, err)
	}
	now.Add(int64(time.Hour + time.Second))
	if _, r, err := begin("POST /x\n{\"other\":1}"); err != nil || r != nil {
		t.Errorf("a key past its time: %v, %v; want a fresh call", r, err)
	}
	if n, err := f.svc.SweepIdempotency(ctx); err != nil || n != 1 {
		t.Errorf("sweep after expiry: %d, %v; want 1", n, err)
	}
}
