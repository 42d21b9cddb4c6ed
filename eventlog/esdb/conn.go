package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/liaison-hub/liaison/eventlog"
)

// This file works around the defects of the Go client v4.2.0 that the
// package comment lists: how every call reaches the client (call), the
// leader header it fails to send (requireLeader), and the client that gives
// up on the cluster for good (renew).

// conn is one client of the cluster, and the calls inside it.
//
// A client is closed only when no call is inside it: closing it under a
// caller makes that caller panic, and is a data race on the client's
// internal channel. A client that gave up on the cluster is retired (renew):
// it is closed once the calls inside it are out. Those that queued on it
// while its discovery failed never come out (nobody reads its channel any
// more): they stay, abandoned by their callers, with the retired client —
// a few per failed discovery, and discovery is made long (Open) so that it
// seldom fails.
type conn struct {
	client *esdb.Client

	mu       sync.Mutex
	inside   int  // calls and streams in the client
	retired  bool // replaced, or the Log closed: no new calls
	isClosed bool
	// gone is closed when c is retired: callers waiting for a call inside it
	// stop waiting (the call may never come out).
	gone chan struct{}
}

// enter counts a call into c; false when c is retired.
func (c *conn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.retired {
		return false
	}
	c.inside++
	return true
}

// leave counts a call out of c, and closes a retired client once nobody is
// inside.
func (c *conn) leave() {
	c.mu.Lock()
	c.inside--
	last := c.retired && c.inside == 0 && !c.isClosed
	if last {
		c.isClosed = true
	}
	c.mu.Unlock()
	if last {
		_ = c.client.Close()
	}
}

// retire takes no new calls into c and closes its client once nobody is
// inside.
func (c *conn) retire() {
	c.mu.Lock()
	if !c.retired {
		close(c.gone)
	}
	c.retired = true
	now := c.inside == 0 && !c.isClosed
	if now {
		c.isClosed = true
	}
	c.mu.Unlock()
	if now {
		_ = c.client.Close()
	}
}

// newConn returns a fresh client with the Log's configuration.
func (l *Log) newConn() (*conn, error) {
	conf := l.conf
	client, err := esdb.NewClient(&conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: new client: %w", err)
	}
	return &conn{client: client, gone: make(chan struct{})}, nil
}

// acquire returns the client calls go to, entered (leave it when done), or
// eventlog.ErrClosed after Close.
func (l *Log) acquire() (*conn, error) {
	for {
		l.mu.Lock()
		closed, c := l.closed, l.cur
		l.mu.Unlock()
		if closed {
			return nil, eventlog.ErrClosed
		}
		if c.enter() {
			return c, nil
		}
		// Retired meanwhile: its successor is in place.
	}
}

// use runs body with the client calls go to, entered, and a context for its
// calls that ends with ctx or when Close starts. It is one attempt of retry.
func (l *Log) use(ctx context.Context, body func(c *conn, op context.Context) (bool, error)) (bool, error) {
	c, err := l.acquire()
	if err != nil {
		return false, err
	}
	defer c.leave()
	op, release := l.opContext(ctx)
	defer release()
	return body(c, op)
}

// renew replaces old, a client that gave up on the cluster (its node
// discovery failed: it answers every call with ErrorCodeConnectionClosed from
// then on), by a new one, and retires old. It does nothing when old was
// replaced already or the Log is closed.
func (l *Log) renew(old *conn) {
	l.mu.Lock()
	if l.closed || l.cur != old {
		l.mu.Unlock()
		return
	}
	c, err := l.newConn()
	if err != nil { // cannot happen: the configuration was valid at Open
		l.mu.Unlock()
		l.log.Error("esdb: cannot replace the client", "err", err)
		return
	}
	l.cur = c
	l.mu.Unlock()
	l.log.Warn("esdb: the client gave up on the cluster (node discovery failed); a new one takes over")
	old.retire()
}

// errPanic marks a call during which the client panicked (it sends on its
// closed channel when it is closed under a caller, see conn.close).
var errPanic = fmt.Errorf("esdb: the client failed (panic): %w", errPanicOrRetired)

// requireLeader adds the requires-leader header to the outgoing metadata of
// ctx. The client's own option (RequiresLeader, or NodePreference leader)
// puts it in the incoming metadata (configureGrpcCall calls
// metadata.NewIncomingContext), where gRPC never sends it from; the outgoing
// metadata of the caller's context is kept in the context the client derives
// from it, and is sent.
func requireLeader(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "requires-leader", "true")
}

// call runs fn, one call into the client of c, with the leader header, on a
// goroutine of its own, and waits for it, for ctx, for the Log's end, or for
// c's retirement: the client's calls ignore their context while it
// discovers nodes, and can block for good once it has given up. When the caller stops waiting, what fn
// still returns is released with release (a read stream left open, say).
// A panic in the client becomes errPanic. A client that gave up is replaced
// (renew), and the outcome is noted for LostSince (observe), unless it is the
// caller's context that ended.
func call[T any](l *Log, c *conn, ctx context.Context, fn func(ctx context.Context, c *esdb.Client) (T, error), release func(T)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if !c.enter() {
		return zero, errRetiredCall
	}
	type outcome struct {
		v   T
		err error
	}
	var (
		mu        sync.Mutex
		abandoned bool
	)
	done := make(chan outcome, 1)
	lctx := requireLeader(ctx)
	start := time.Now()
	go func() {
		defer c.leave()
		var o outcome
		func() {
			defer func() {
				if p := recover(); p != nil {
					o.err = fmt.Errorf("%w: %v", errPanic, p)
				}
			}()
			o.v, o.err = fn(lctx, c.client)
		}()
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if o.err == nil && release != nil {
				release(o.v)
			}
			return
		}
		done <- o
	}()
	var err error
	select {
	case o := <-done:
		if ctx.Err() == nil && l.life.Err() == nil {
			if gaveUp(o.err) {
				l.renew(c)
			}
			l.observe(start, o.err)
		}
		return o.v, o.err
	case <-ctx.Done():
		err = ctx.Err()
	case <-l.life.Done():
		err = eventlog.ErrClosed
	case <-c.gone:
		err = errRetiredCall
	}
	mu.Lock()
	abandoned = true
	mu.Unlock()
	select {
	case o := <-done: // it ended meanwhile
		if o.err == nil && release != nil {
			release(o.v)
		}
	default:
	}
	return zero, err
}

// errRetiredCall is a call to a client retired meanwhile (transient: the
// next attempt goes to its successor).
var errRetiredCall = fmt.Errorf("esdb: the client was replaced: %w", errPanicOrRetired)

// errPanicOrRetired groups the errors of call that a retry cures.
var errPanicOrRetired = errors.New("esdb: call not made")

// gaveUp reports whether err says the client has closed itself (after a
// failed node discovery).
func gaveUp(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeConnectionClosed
}

// transient reports whether err may pass if the call is tried again: no
// leader (yet), a node away, a timeout, a client that gave up (replaced), the
// connection closing under the call. Refused credentials, access, a wrong
// expected version, a deleted stream, a malformed request will not.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errPanicOrRetired) {
		return true
	}
	var f final
	if errors.As(err, &f) {
		return false
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case esdb.ErrorCodeNotLeader, esdb.ErrorUnavailable, esdb.ErrorCodeDeadlineExceeded,
		esdb.ErrorCodeConnectionClosed, esdb.ErrorAborted:
		return true
	case esdb.ErrorCodeUnknown:
		// Also the client's failed discovery ("no nodes are eligible") and a
		// connection closed by the client's reconnection (gRPC Canceled).
		switch status.Code(e.Err()) {
		case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.Unimplemented,
			codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists, codes.NotFound:
			return false
		}
		return true
	}
	return false
}

// answered reports whether err (nil included) shows that the cluster
// answered: a success, or a refusal of this call's own (a wrong expected
// version, a stream that does not exist or was deleted), or a follower
// pointing at the leader, which the client reconnects to.
func answered(err error) bool {
	if err == nil || errors.Is(err, io.EOF) {
		return true
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case esdb.ErrorCodeWrongExpectedVersion, esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted, esdb.ErrorCodeNotLeader:
		return true
	}
	return false
}
