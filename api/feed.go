package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

// The feed over HTTP (docs/api.md, "The feed"): GET /v1/feed answers a page
// as JSON, long-polling up to ?wait= seconds for something new; with Accept:
// text/event-stream it streams the same entries as server-sent events, each
// with the cursor after it as its id, so that Last-Event-ID resumes.

// MaxFeedWait bounds ?wait= of GET /v1/feed.
const MaxFeedWait = 60 * time.Second

// Stream timing: how long a stream gathers changes after a wake-up before it
// looks (so that a burst of appends costs one look), and how often it sends a
// comment to keep an idle connection open.
const (
	feedSettle    = 50 * time.Millisecond
	feedKeepAlive = 15 * time.Second
)

func (s *Server) readFeed(k *call) (int, any, error) {
	q := hub.FeedQuery{Cursor: k.c.QueryParam("cursor")}
	var problems []domain.FieldError
	if l := k.c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > hub.MaxFeedLimit {
			problems = append(problems, domain.FieldError{Field: "limit", Message: "must be an integer from 1 to " + strconv.Itoa(hub.MaxFeedLimit)})
		}
		q.Limit = n
	}
	var wait time.Duration
	if w := k.c.QueryParam("wait"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || time.Duration(n)*time.Second > MaxFeedWait {
			problems = append(problems, domain.FieldError{Field: "wait", Message: "must be a number of seconds from 0 to 60"})
		}
		wait = time.Duration(n) * time.Second
	}
	if len(problems) > 0 {
		return 0, nil, domain.Invalid("invalid query", problems...)
	}
	if streaming(k.c.Request()) {
		if id := k.c.Request().Header.Get("Last-Event-ID"); id != "" {
			q.Cursor = id
		}
		return s.streamFeed(k, q)
	}
	// Long-poll: look, and while the page is empty and time is left, wait for
	// the views to change and look again. A client that goes away ends the
	// wait (the call still leaves its record).
	client := k.c.Request().Context()
	deadline := time.Now().Add(wait)
	_ = http.NewResponseController(k.c.Response().Writer).SetWriteDeadline(deadline.Add(CallTimeout))
	for {
		changed := s.cfg.Hub.FeedChanged()
		page, err := s.cfg.Hub.Feed(k.ctx, k.hc, q)
		if err != nil || len(page.Items) > 0 || !time.Now().Before(deadline) {
			return http.StatusOK, page, err
		}
		if page.More {
			// The scan stopped short of the views' end with nothing new so
			// far: look on at once, from where it stopped.
			q.Cursor = page.Cursor
			k.hc.Now = s.now()
			continue
		}
		if !waitChange(client, changed, time.Until(deadline)) {
			return http.StatusOK, page, nil
		}
		k.hc.Now = s.now()
	}
}

// streaming says whether the client asks for server-sent events.
func streaming(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, _ := strings.Cut(strings.TrimSpace(a), ";"); mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// waitChange waits for changed, then a moment more to gather a burst; it
// returns false when d passes or ctx ends first.
func waitChange(ctx context.Context, changed <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-time.After(feedSettle):
		return true
	case <-ctx.Done():
		return false
	}
}

// streamFeed streams the caller's feed as server-sent events until the
// client goes away. The stream's own access record is made durable when it
// opens; each page with entries has its records (one per case) made durable
// before its bytes are written. A first page that is refused (a bad cursor,
// a caller who may not follow) is answered as a problem, like any call.
func (s *Server) streamFeed(k *call, q hub.FeedQuery) (int, any, error) {
	client := k.c.Request().Context()
	changed := s.cfg.Hub.FeedChanged()
	first, err := apart(func() (*hub.FeedPage, error) { return s.cfg.Hub.Feed(k.ctx, k.hc, q) })
	if err != nil {
		return 0, nil, err
	}
	k.hc.Record.Reasons = append(k.hc.Record.Reasons, "stream opened")
	if err := s.cfg.Hub.Close(k.ctx, k.hc, http.StatusOK, nil); err != nil {
		return 0, nil, errStorage
	}
	w := k.c.Response()
	rc := http.NewResponseController(w.Writer)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(page *hub.FeedPage) bool {
		// A stalled client holds no more than this write: past its deadline
		// the stream ends, and the client resumes from its last id.
		_ = rc.SetWriteDeadline(time.Now().Add(feedKeepAlive))
		for i, e := range page.Items {
			b, err := json.Marshal(e)
			if err != nil {
				return false
			}
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", page.Cursors[i], e.Kind, b); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !write(first) {
		return 0, nil, nil
	}
	q.Cursor = first.Cursor
	more := first.More
	keepAlive := time.NewTicker(feedKeepAlive)
	defer keepAlive.Stop()
	for {
		if more {
			// A backlog: the next page now, without waiting for a change.
			page, err := s.feedPage(k, q)
			if err != nil {
				s.log.Error("feed stream stopped", "request_id", k.hc.Record.RequestID, "err", err)
				return 0, nil, nil
			}
			if len(page.Items) > 0 && !write(page) {
				return 0, nil, nil
			}
			q.Cursor, more = page.Cursor, page.More
			if client.Err() != nil {
				return 0, nil, nil
			}
			continue
		}
		select {
		case <-client.Done():
			return 0, nil, nil
		case <-keepAlive.C:
			_ = rc.SetWriteDeadline(time.Now().Add(feedKeepAlive))
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return 0, nil, nil
			}
			continue
		case <-changed:
		}
		select {
		case <-time.After(feedSettle):
		case <-client.Done():
			return 0, nil, nil
		}
		changed = s.cfg.Hub.FeedChanged()
		page, err := s.feedPage(k, q)
		if err != nil {
			s.log.Error("feed stream stopped", "request_id", k.hc.Record.RequestID, "err", err)
			return 0, nil, nil
		}
		more = page.More
		if len(page.Items) == 0 {
			q.Cursor = page.Cursor
			continue
		}
		if !write(page) {
			return 0, nil, nil
		}
		q.Cursor = page.Cursor
	}
}

// feedPage reads one page of a stream as a call of its own, whose records
// are durable before the page is returned. A page with nothing leaves no
// record: nothing was delivered.
func (s *Server) feedPage(k *call, q hub.FeedQuery) (*hub.FeedPage, error) {
	return apart(func() (*hub.FeedPage, error) {
		c := hub.NewCall(k.hc.Identity, k.hc.Purpose, s.now(), k.hc.Record.RequestID, "feed.read")
		ctx, cancel := context.WithTimeout(context.WithoutCancel(k.ctx), CallTimeout)
		defer cancel()
		page, err := s.cfg.Hub.Feed(ctx, c, q)
		if err != nil || len(page.Items) == 0 {
			return page, err
		}
		if err := s.cfg.Hub.Close(ctx, c, http.StatusOK, nil); err != nil {
			return nil, err
		}
		return page, nil
	})
}

// apart runs fn on a goroutine of its own and waits for its result. A page
// grows a deep stack (the policy's evaluation); a stream then waits, maybe
// for hours, for the next change: computed apart, that stack goes with its
// goroutine, and the waiting stream keeps only its own small one (an idle
// stream costs about half the memory so). A panic in fn is fn's error.
func apart[T any](fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("feed page: panic: %v", p)
			}
			ch <- r
		}()
		r.v, r.err = fn()
	}()
	r := <-ch
	return r.v, r.err
}

func (s *Server) createSubscription(k *call) (int, any, error) {
	sub, err := s.cfg.Hub.Subscribe(k.ctx, k.hc, k.body)
	return http.StatusCreated, sub, err
}

func (s *Server) listSubscriptions(k *call) (int, any, error) {
	subs, err := s.cfg.Hub.Subscriptions(k.ctx, k.hc)
	return http.StatusOK, struct {
		Items []hub.Subscription `json:"items"`
	}{subs}, err
}

func (s *Server) subscriptionDeliveries(k *call) (int, any, error) {
	log, err := s.cfg.Hub.Deliveries(k.ctx, k.hc, k.c.Param("sub"))
	return http.StatusOK, struct {
		Items []hub.Delivery `json:"items"`
	}{log}, err
}

func (s *Server) resumeSubscription(k *call) (int, any, error) {
	sub, err := s.cfg.Hub.ResumeSubscription(k.ctx, k.hc, k.c.Param("sub"))
	return http.StatusOK, sub, err
}

func (s *Server) deleteSubscription(k *call) (int, any, error) {
	return http.StatusNoContent, nil, s.cfg.Hub.Unsubscribe(k.ctx, k.hc, k.c.Param("sub"))
}
