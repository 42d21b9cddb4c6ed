package api

import (
	"context"
	"testing"
	"time"
)

func TestCallContextsLastAtLeastTheTimeoutAndAreShared(t *testing.T) {
	c := callContexts{timeout: time.Hour}
	distinct := map[context.Context]bool{}
	for range 1000 {
		before := time.Now()
		ctx := c.get()
		d, ok := ctx.Deadline()
		if !ok || d.Before(before.Add(time.Hour)) {
			t.Fatalf("deadline %v, want at least %v", d, before.Add(time.Hour))
		}
		if ctx.Err() != nil {
			t.Fatalf("a fresh call's context is done: %v", ctx.Err())
		}
		distinct[ctx] = true
	}
	if len(distinct) > 500 {
		t.Errorf("%d contexts for 1,000 calls in a row: not shared", len(distinct))
	}
}

func TestCallContextsEndAtTheirDeadline(t *testing.T) {
	c := callContexts{timeout: 20 * time.Millisecond}
	ctx := c.get()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context did not end at its deadline")
	}
	if next := c.get(); next == ctx || next.Err() != nil {
		t.Errorf("after the deadline, a call got an ended context")
	}
}
