package api

import (
	"context"
	"sync/atomic"
	"time"
)

// callContexts hands out the contexts calls run under: no client can cancel
// them, and each ends at least CallTimeout after its call started (route).
// The calls that start within callShare of each other share one, so that a
// call does not create and stop a timer of its own: under wrk's section
// reads, context.WithTimeout and its cancel were 2.3% of the hub's CPU. A
// shared context is never cancelled but by its deadline (at most callShare
// later than a call's own would be), and its timer then frees it.
type callContexts struct {
	timeout time.Duration
	cur     atomic.Pointer[sharedCall]
}

// callShare is how long one context serves the calls that start.
const callShare = 10 * time.Millisecond

type sharedCall struct {
	ctx    context.Context
	cancel context.CancelFunc // kept for vet: the deadline cancels it
	start  time.Time
}

// get returns a context that ends no earlier than timeout from now.
func (c *callContexts) get() context.Context {
	now := time.Now()
	if p := c.cur.Load(); p != nil {
		if age := now.Sub(p.start); age >= 0 && age < callShare {
			return p.ctx
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(c.timeout+callShare))
	c.cur.Store(&sharedCall{ctx: ctx, cancel: cancel, start: now})
	return ctx
}
