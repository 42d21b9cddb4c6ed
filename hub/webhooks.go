package hub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
)

// Webhooks (docs/api.md, "Webhooks"): a partner that wants its feed pushed
// registers an endpoint; the hub delivers to it what the feed would give the
// registering identity, for the purpose it named, signed per the Standard
// Webhooks specification (webhook-id, webhook-timestamp, webhook-signature),
// retried with exponential backoff, paused after repeated failure, every
// attempt in a delivery log the organisation reads. Each delivery leaves its
// access records (one per case delivered) before its bytes leave the hub.
//
// Subscriptions and their state live in the store's key-value space beside
// the log: on EventStoreDB, that of the replica they were registered on,
// which delivers them (docs/operations.md).

// Subscription is a registered webhook endpoint, as its organisation sees
// it (the secret only once, when it is registered).
type Subscription struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Purpose string `json:"purpose"`
	// Owner is the identity deliveries are made for.
	Owner      Owner  `json:"owner"`
	Status     string `json:"status"`
	CreatedAt  string `json:"created_at"`
	Failures   int    `json:"failures"`
	NextTry    string `json:"next_attempt,omitempty"`
	Secret     string `json:"secret,omitempty"`
	LastResult string `json:"last_result,omitempty"`
}

// Owner is who a subscription delivers for.
type Owner struct {
	Issuer string   `json:"issuer"`
	Agency string   `json:"agency"`
	Sub    string   `json:"sub"`
	Roles  []string `json:"roles"`
}

// Delivery is one attempt to deliver to a subscription's endpoint.
type Delivery struct {
	At        string `json:"at"`
	WebhookID string `json:"webhook_id"`
	Entries   int    `json:"entries"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	OK        bool   `json:"ok"`
}

// Subscription statuses.
const (
	SubscriptionActive = "active"
	SubscriptionPaused = "paused" // after MaxWebhookFailures failures in a row
)

// Delivery policy.
const (
	// MaxWebhookFailures failures in a row pause a subscription.
	MaxWebhookFailures = 10
	// webhookTimeout bounds one delivery.
	webhookTimeout = 10 * time.Second
	// maxWebhookBackoff bounds the wait between two attempts.
	maxWebhookBackoff = time.Hour
	// webhookLog is how many deliveries the log keeps per subscription.
	webhookLog = 100
	// maxSubscriptions bounds the subscriptions of one organisation.
	maxSubscriptions = 20
)

// subscriptionState is what the hub keeps of a subscription.
type subscriptionState struct {
	Subscription
	Secret string `json:"secret"`
	Cursor string `json:"cursor"`
}

// Key-value layout: prefix 'W', then 's' + id for a subscription, 'd' + id +
// sequence for its deliveries.
var (
	kvSubscriptions = []byte("Ws")
	kvDeliveries    = []byte("Wd")
)

func subscriptionKey(id string) []byte { return append(slices.Clone(kvSubscriptions), id...) }

func deliveryPrefix(id string) []byte {
	return append(append(slices.Clone(kvDeliveries), id...), 0)
}

// Subscribe registers a webhook endpoint (body {url, purpose}) delivering the
// caller's feed for purpose. The URL must be https (or http to a loopback
// address, for tests). It returns the subscription with its secret, shown
// this once; KindForbidden for a caller who may not follow a feed for that
// purpose; KindInvalid naming the field at fault; KindConflict when the
// organisation has 20 subscriptions already.
func (s *Service) Subscribe(ctx context.Context, c *Call, body []byte) (Subscription, error) {
	if s.cfg.KV == nil {
		return Subscription{}, domain.Errorf(domain.KindForbidden, "this hub delivers no webhooks")
	}
	var in struct {
		URL     string `json:"url"`
		Purpose string `json:"purpose"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Subscription{}, domain.Invalid("the body must be {url, purpose}", domain.FieldError{Field: "(body)", Message: "must be a JSON object with url and purpose"})
	}
	if in.Purpose == "" {
		in.Purpose = c.Purpose
	}
	// The deliveries are the caller's feed for that purpose: may it follow?
	fc := *c
	fc.Purpose = in.Purpose
	if err := s.service(ctx, &fc, "feed"); err != nil {
		return Subscription{}, err
	}
	c.Record.Reasons = fc.Record.Reasons
	if msg := checkEndpoint(in.URL); msg != "" {
		return Subscription{}, domain.Invalid("invalid url", domain.FieldError{Field: "url", Message: msg})
	}
	mine, err := s.Subscriptions(ctx, c)
	if err != nil {
		return Subscription{}, err
	}
	if len(mine) >= maxSubscriptions {
		return Subscription{}, domain.Errorf(domain.KindConflict, "the organisation has %d subscriptions already", len(mine))
	}
	secret := make([]byte, 24)
	rand.Read(secret)
	st := subscriptionState{
		Subscription: Subscription{
			ID: domain.NewID(), URL: in.URL, Purpose: in.Purpose, Status: SubscriptionActive,
			Owner:     Owner{Issuer: c.Identity.Issuer, Agency: c.Identity.Agency, Sub: c.Identity.Subject, Roles: c.Identity.Roles},
			CreatedAt: domain.FormatTime(c.Now),
		},
		Secret: "whsec_" + base64.StdEncoding.EncodeToString(secret),
	}
	if err := s.saveSubscription(ctx, &st); err != nil {
		return Subscription{}, err
	}
	s.webhooks.wake()
	out := st.Subscription
	out.Secret = st.Secret
	return out, nil
}

// checkEndpoint says what is wrong with a webhook URL, "" when nothing.
func checkEndpoint(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || len(raw) > 2048:
		return "must be an absolute URL"
	case u.User != nil:
		return "must not hold credentials"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must be https (http only to a loopback address)"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Subscriptions answers the subscriptions of the caller's organisation
// (without their secrets).
func (s *Service) Subscriptions(ctx context.Context, c *Call) ([]Subscription, error) {
	if s.cfg.KV == nil {
		return []Subscription{}, nil
	}
	all, err := s.loadSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	out := []Subscription{}
	for _, st := range all {
		if st.Owner.Agency == c.Identity.Agency {
			out = append(out, st.Subscription)
		}
	}
	return out, nil
}

// Deliveries answers the delivery log of one of the caller's organisation's
// subscriptions, newest first; KindNotFound for another's or none.
func (s *Service) Deliveries(ctx context.Context, c *Call, id string) ([]Delivery, error) {
	st, err := s.ownSubscription(ctx, c, id)
	if err != nil {
		return nil, err
	}
	out := []Delivery{}
	for kv, err := range s.cfg.KV.Scan(ctx, deliveryPrefix(st.ID), nil) {
		if err != nil {
			return nil, domain.Internal(err)
		}
		var d Delivery
		if json.Unmarshal(kv.Value, &d) == nil {
			out = append(out, d)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Unsubscribe removes one of the caller's organisation's subscriptions.
func (s *Service) Unsubscribe(ctx context.Context, c *Call, id string) error {
	st, err := s.ownSubscription(ctx, c, id)
	if err != nil {
		return err
	}
	ops := []eventlog.KVOp{{Key: subscriptionKey(st.ID), Delete: true}}
	for kv, err := range s.cfg.KV.Scan(ctx, deliveryPrefix(st.ID), nil) {
		if err != nil {
			return domain.Internal(err)
		}
		ops = append(ops, eventlog.KVOp{Key: kv.Key, Delete: true})
	}
	if err := s.cfg.KV.Write(ctx, true, ops...); err != nil {
		return domain.Internal(err)
	}
	s.webhooks.wake()
	return nil
}

// ResumeSubscription makes a paused subscription of the caller's organisation
// deliver again, at once.
func (s *Service) ResumeSubscription(ctx context.Context, c *Call, id string) (Subscription, error) {
	st, err := s.ownSubscription(ctx, c, id)
	if err != nil {
		return Subscription{}, err
	}
	st.Status, st.Failures, st.NextTry = SubscriptionActive, 0, ""
	if err := s.saveSubscription(ctx, st); err != nil {
		return Subscription{}, err
	}
	s.webhooks.wake()
	return st.Subscription, nil
}

func (s *Service) ownSubscription(ctx context.Context, c *Call, id string) (*subscriptionState, error) {
	if s.cfg.KV == nil || !domain.IsID(id) {
		return nil, domain.Errorf(domain.KindNotFound, "no such subscription")
	}
	b, ok, err := s.cfg.KV.Get(ctx, subscriptionKey(id))
	if err != nil {
		return nil, domain.Internal(err)
	}
	var st subscriptionState
	if !ok || json.Unmarshal(b, &st) != nil || st.Owner.Agency != c.Identity.Agency {
		return nil, domain.Errorf(domain.KindNotFound, "no such subscription")
	}
	return &st, nil
}

func (s *Service) loadSubscriptions(ctx context.Context) ([]*subscriptionState, error) {
	var out []*subscriptionState
	for kv, err := range s.cfg.KV.Scan(ctx, kvSubscriptions, nil) {
		if err != nil {
			return nil, domain.Internal(err)
		}
		var st subscriptionState
		if json.Unmarshal(kv.Value, &st) == nil {
			out = append(out, &st)
		}
	}
	return out, nil
}

func (s *Service) saveSubscription(ctx context.Context, st *subscriptionState, more ...eventlog.KVOp) error {
	b, err := json.Marshal(st)
	if err != nil {
		return domain.Internal(err)
	}
	if err := s.cfg.KV.Write(ctx, true, append(more, eventlog.KVOp{Key: subscriptionKey(st.ID), Value: b})...); err != nil {
		return domain.Internal(err)
	}
	return nil
}

// webhooks is the dispatcher's state: one worker per active subscription.
type webhooks struct {
	mu     sync.Mutex
	kick   chan struct{}
	client *http.Client
}

func (w *webhooks) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kick != nil {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// RunWebhooks delivers to every active subscription until ctx ends: each has
// a worker of its own, so that an endpoint that hangs or fails delays no
// other. A restart resends what was not acknowledged, with the same
// webhook-id.
func (s *Service) RunWebhooks(ctx context.Context) error {
	if s.cfg.KV == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	s.webhooks.mu.Lock()
	s.webhooks.kick = make(chan struct{}, 1)
	if s.webhooks.client == nil {
		s.webhooks.client = &http.Client{
			Timeout: webhookTimeout,
			// A redirect is a failure: the endpoint registered is where the
			// content goes.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	kick := s.webhooks.kick
	s.webhooks.mu.Unlock()
	workers := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		for _, stop := range workers {
			stop()
		}
		wg.Wait()
	}()
	for {
		subs, err := s.loadSubscriptions(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("webhooks: reading the subscriptions", "err", err)
		}
		active := map[string]bool{}
		for _, st := range subs {
			if st.Status != SubscriptionActive {
				continue
			}
			active[st.ID] = true
			if _, ok := workers[st.ID]; ok {
				continue
			}
			wctx, stop := context.WithCancel(ctx)
			workers[st.ID] = stop
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				s.deliverLoop(wctx, id)
			}(st.ID)
		}
		for id, stop := range workers {
			if !active[id] {
				stop()
				delete(workers, id)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		case <-time.After(30 * time.Second):
		}
	}
}

// deliverLoop delivers to one subscription until it is paused, removed or
// ctx ends.
func (s *Service) deliverLoop(ctx context.Context, id string) {
	for ctx.Err() == nil {
		changed := s.FeedChanged()
		wait, stop := s.deliverOnce(ctx, id)
		if stop {
			return
		}
		if wait == deliverAgain {
			continue // a backlog: the next page at once
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			select { // gather a burst
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		case <-time.After(time.Minute):
		}
	}
}

// deliverAgain is deliverOnce's answer when the feed has more to give now.
const deliverAgain = time.Duration(-1)

// deliverOnce makes one attempt: the next page of the subscription's feed,
// if it has entries, posted to its endpoint. It returns how long to wait
// before the next attempt (0: until the views change; deliverAgain: at
// once, the feed has more), and whether the worker must stop (paused or
// gone).
func (s *Service) deliverOnce(ctx context.Context, id string) (time.Duration, bool) {
	b, ok, err := s.cfg.KV.Get(ctx, subscriptionKey(id))
	if err != nil || !ok {
		return 0, true
	}
	var st subscriptionState
	if json.Unmarshal(b, &st) != nil || st.Status != SubscriptionActive {
		return 0, true
	}
	now := s.cfg.Clock()
	if st.NextTry != "" {
		if at, err := time.Parse(time.RFC3339, st.NextTry); err == nil && now.Before(at) {
			return at.Sub(now), false
		}
	}
	id2 := domain.Identity{Issuer: st.Owner.Issuer, Agency: st.Owner.Agency, Subject: st.Owner.Sub, Roles: st.Owner.Roles}
	c := NewCall(id2, st.Purpose, now, "webhook-"+st.ID, "webhook.deliver")
	page, err := s.Feed(ctx, c, FeedQuery{Cursor: st.Cursor})
	if err != nil {
		// The owner may not follow any more (its organisation left the
		// directory, the policy changed): a failure like any other.
		s.Close(ctx, c, s.statusOf(err), err)
		return s.failed(ctx, &st, Delivery{At: domain.FormatTime(now), Error: Reason(err)}), false
	}
	if len(page.Items) == 0 {
		if page.Cursor != "" && page.Cursor != st.Cursor && st.Cursor != "" {
			st.Cursor = page.Cursor
			s.saveSubscription(ctx, &st)
		}
		if page.More {
			return deliverAgain, false
		}
		return 0, false
	}
	// The deliveries' records are durable before any byte leaves.
	if err := s.Close(ctx, c, statusOK, nil); err != nil {
		return time.Second, false
	}
	webhookID := "msg_" + webhookID(st.ID, st.Cursor)
	body, _ := json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp string    `json:"timestamp"`
		Data      *FeedPage `json:"data"`
	}{"liaison.feed", domain.FormatTime(now), page})
	d := Delivery{At: domain.FormatTime(now), WebhookID: webhookID, Entries: len(page.Items)}
	status, err := s.post(ctx, st.URL, st.Secret, webhookID, now, body)
	d.Status = status
	if err != nil || status < 200 || status > 299 {
		if err != nil {
			d.Error = err.Error()
		} else {
			d.Error = "answered " + strconv.Itoa(status)
		}
		return s.failed(ctx, &st, d), false
	}
	d.OK = true
	st.Cursor, st.Failures, st.NextTry, st.LastResult = page.Cursor, 0, "", "delivered"
	s.saveSubscription(ctx, &st, s.logDelivery(&st, d))
	if page.More {
		return deliverAgain, false
	}
	return 0, false
}

// failed notes a failed attempt: the next after an exponential backoff, the
// subscription paused after MaxWebhookFailures in a row.
func (s *Service) failed(ctx context.Context, st *subscriptionState, d Delivery) time.Duration {
	st.Failures++
	st.LastResult = d.Error
	base := s.cfg.WebhookBackoff
	if base <= 0 {
		base = time.Second
	}
	wait := min(time.Duration(1<<min(st.Failures-1, 12))*base, maxWebhookBackoff)
	if st.Failures >= MaxWebhookFailures {
		st.Status = SubscriptionPaused
	}
	st.NextTry = domain.FormatTime(s.cfg.Clock().Add(wait))
	s.saveSubscription(ctx, st, s.logDelivery(st, d))
	return wait
}

// logDelivery returns the write that adds d to the subscription's log, and
// keeps the log at webhookLog entries (the oldest go).
func (s *Service) logDelivery(st *subscriptionState, d Delivery) eventlog.KVOp {
	seq := uint64(s.cfg.Clock().UnixNano())
	b, _ := json.Marshal(d)
	key := binary.BigEndian.AppendUint64(deliveryPrefix(st.ID), seq)
	// Trim: the log is bounded; scanning it is cheap (webhookLog entries).
	var keys [][]byte
	for kv, err := range s.cfg.KV.Scan(context.Background(), deliveryPrefix(st.ID), nil) {
		if err != nil {
			break
		}
		keys = append(keys, kv.Key)
	}
	if len(keys) >= webhookLog {
		_ = s.cfg.KV.Write(context.Background(), false, eventlog.KVOp{Key: keys[0], Delete: true})
	}
	return eventlog.KVOp{Key: key, Value: b}
}

// webhookID names a delivery: the subscription and where its feed stood, so
// that a delivery sent again (a retry, a restart) has the same id.
func webhookID(sub, cursor string) string {
	h := sha256.Sum256([]byte(sub + "\x00" + cursor))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// post delivers body to an endpoint, signed per the Standard Webhooks
// specification. It returns the endpoint's status.
func (s *Service) post(ctx context.Context, endpoint, secret, id string, at time.Time, body []byte) (int, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	sig, err := SignWebhook(secret, id, ts, body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := s.webhooks.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// SignWebhook returns the webhook-signature header of a delivery per the
// Standard Webhooks specification: "v1," and the base64 HMAC-SHA256, under
// the secret's key ("whsec_" and base64), of id, timestamp and body joined by
// dots. It returns an error for a secret of another form.
func SignWebhook(secret, id, timestamp string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return "", fmt.Errorf("hub: not a webhook secret")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
