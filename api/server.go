// Package api is the hub's HTTP interface (docs/api.md) on Echo: it verifies
// tokens, reads the purpose and the body, calls the hub's use cases (hub),
// and translates their answers and errors (problem+json) back, with one
// durable access record per call before the answer leaves the hub. It is the
// only package that knows Echo and JWT, and it decides nothing of the
// protocol.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/hub"
)

// MaxBodyBytes bounds a request body: 1 MiB.
const MaxBodyBytes = 1 << 20

// PurposeHeader is the header in which a reader states its purpose.
const PurposeHeader = "Liaison-Purpose"

// MinPositionHeader carries the position an append answered (its "position",
// an opaque token): a hub that has not yet applied that position waits for it
// (up to MaxPositionWait) before serving the call, so that a client that wrote
// through one hub replica reads its write through any other. The hub replicas
// share the key that seals it (hub.Config.TokenKey).
const MinPositionHeader = "Liaison-Min-Position"

// MaxPositionWait bounds the wait for MinPositionHeader; past it, 503.
const MaxPositionWait = 5 * time.Second

// CallTimeout bounds one API call. A call runs to its end, access record
// included, whatever its client does meanwhile: a client that goes away must
// not leave an effect without its record.
const CallTimeout = 30 * time.Second

// Config wires a Server. Hub and Verifier are required.
type Config struct {
	// Hub runs the use cases; the API translates HTTP to them and back.
	Hub      *hub.Service
	Verifier *Verifier
	Metrics  *Metrics
	Logger   *slog.Logger
	Clock    func() time.Time
	// AdminRoute serves /metrics on the API handler too. The API handler
	// always serves /healthz and /readyz; /metrics belongs on the admin
	// handler (AdminHandler), away from the API's callers.
	AdminRoute bool
	// Console, when set, serves the web console at / and /ui/*.
	Console http.Handler
	// RateLimit is the requests per second allowed to one identity (0: no
	// limit), with bursts of RateBurst (default twice the rate).
	RateLimit float64
	RateBurst int
	// CORSOrigins lists the origins allowed to call the API from a browser;
	// empty means no cross-origin access at all.
	CORSOrigins []string
	// Demo, when set, serves the demo sign-in (GET /demo/personas, POST
	// /demo/token): development tokens for the demo identities, for the web
	// console in demo mode only.
	Demo *DemoConfig
	// Providers are the identity providers the console offers for sign-in
	// (GET /auth/providers); the Content-Security-Policy lets the console
	// reach their token endpoints.
	Providers []Provider
}

// Server serves the API.
type Server struct {
	unknown echo.HandlerFunc
	cfg     Config
	echo    *echo.Echo
	now     func() time.Time
	log     *slog.Logger
	limiter *limiter
	calls   callContexts // the contexts of the calls but feed.read's
	// securityHeaders are the headers every answer carries (secure). Their
	// values are shared by every answer, which never modifies them in place:
	// net/http copies them as it writes, and a Set replaces a value.
	securityHeaders http.Header
}

// New returns a server with every route registered.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, now: cfg.Clock, log: cfg.Logger, limiter: newLimiter(cfg.RateLimit, cfg.RateBurst),
		calls: callContexts{timeout: CallTimeout},
		securityHeaders: http.Header{
			"X-Content-Type-Options":  {"nosniff"},
			"Referrer-Policy":         {"no-referrer"},
			"Cache-Control":           {"no-store"},
			"X-Frame-Options":         {"DENY"},
			"Content-Security-Policy": {contentSecurityPolicy(cfg.Providers)},
		}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.echoError
	e.Use(s.secure)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: cfg.CORSOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete},
			AllowHeaders: []string{"Authorization", "Content-Type", PurposeHeader, MinPositionHeader, IdempotencyHeader},
			MaxAge:       600,
		}))
	}
	s.echo = e
	s.routes()
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes returns "METHOD path" of every registered API route, in Echo's path
// syntax (":id"), for the OpenAPI test; the catch-all that refuses unknown
// routes is not one.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		if r.Path != "/v1/*" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func (s *Server) routes() {
	e := s.echo
	e.POST("/v1/cases", s.route("case.open", false, s.openCase))
	e.GET("/v1/cases", s.route("case.list", true, s.listCases))
	e.GET("/v1/cases/:id", s.route("case.read", true, s.readCase))
	e.GET("/v1/cases/:id/sections/:section", s.route("section.read", true, s.readSection))
	e.GET("/v1/cases/:id/events", s.route("events.read", true, s.readEvents))
	e.GET("/v1/cases/:id/writable", s.route("case.writable", false, s.writable))
	e.GET("/v1/me", s.route("me", false, s.me))
	e.GET("/v1/feed", s.route("feed.read", true, s.readFeed))
	e.POST("/v1/subscriptions", s.route("subscription.create", false, s.createSubscription))
	e.GET("/v1/subscriptions", s.route("subscription.list", false, s.listSubscriptions))
	e.GET("/v1/subscriptions/:sub/deliveries", s.route("subscription.deliveries", false, s.subscriptionDeliveries))
	e.POST("/v1/subscriptions/:sub/resume", s.route("subscription.resume", false, s.resumeSubscription))
	e.DELETE("/v1/subscriptions/:sub", s.route("subscription.delete", false, s.deleteSubscription))
	e.POST("/v1/cases/:id/events", s.route("event.append", false, s.appendEvent))
	e.POST("/v1/cases/:id/break-glass", s.route("break-glass", false, s.breakGlass))
	e.POST("/v1/cases/:id/erase", s.route("case.erase", false, s.requestErasure))
	e.GET("/v1/erasures", s.route("erasure.list", true, s.listErasures))
	e.GET("/v1/erasures/cases", s.route("erasure.lookup", true, s.findErasable))
	e.POST("/v1/erasures/:request/confirm", s.route("erasure.confirm", false, s.confirmErasure))
	e.POST("/v1/erasures/:request/cancel", s.route("erasure.cancel", false, s.cancelErasure))
	e.GET("/v1/audit/records", s.route("audit.records", true, s.auditRecords))
	e.POST("/v1/audit/records/:index/review", s.route("break-glass.review", false, s.reviewBreakGlass))
	e.GET("/v1/audit/break-glass", s.route("audit.break-glass", true, s.breakGlassUses))
	e.GET("/v1/audit/summary", s.route("audit.summary", true, s.auditSummary))
	e.GET("/v1/audit/alerts", s.route("audit.alerts", true, s.auditAlerts))
	e.POST("/v1/audit/alerts/:id/acknowledge", s.route("audit.alert", false, s.acknowledgeAlert))
	e.POST("/v1/audit/alerts/:id/close", s.route("audit.alert", false, s.closeAlert))
	e.GET("/v1/audit/checkpoint", s.route("audit.checkpoint", true, s.auditCheckpoint))
	e.GET("/v1/audit/proofs/inclusion", s.route("audit.proofs", true, s.inclusionProof))
	e.GET("/v1/audit/proofs/consistency", s.route("audit.proofs", true, s.consistencyProof))
	e.GET("/v1/audit/tile/*", s.route("audit.proofs", true, s.auditTile))
	e.GET("/v1/stats/practices", s.route("stats", true, s.statsPractices))
	e.GET("/v1/stats/breakdowns", s.route("stats", true, s.statsBreakdowns))
	e.GET("/v1/stats/cohorts", s.route("stats", true, s.statsCohorts))
	e.GET("/v1/openapi.json", s.openapi)
	e.GET("/auth/providers", s.providers)
	// Anything else under /v1 is refused as an unknown route, with its access
	// record like every other call (echoError sends what Echo itself refuses
	// under /v1 there too).
	s.unknown = s.route("unknown", false, func(*call) (int, any, error) {
		return 0, nil, domain.Errorf(domain.KindNotFound, "no such route")
	})
	e.Any("/v1/*", s.unknown)
	s.healthRoutes(e)
	if s.cfg.AdminRoute {
		s.metricsRoute(e)
	}
	if s.cfg.Console != nil {
		h := echo.WrapHandler(s.cfg.Console)
		e.GET("/", h)
		e.GET("/ui/*", h)
	}
	if s.cfg.Demo != nil {
		s.demoRoutes(e)
	}
}

// call is one API call in flight: the request, and the hub call it makes
// (who calls, for what, and its access record).
type call struct {
	c      echo.Context
	ctx    context.Context
	claims *Claims
	hc     *hub.Call
	rec    *accesslog.Record // hc.Record
	body   []byte
}

// handler serves one call: it returns the status and the body of a successful
// answer (a value to encode, or a hub.Answer), or an error; the hub fills in
// the access record's decision.
type handler func(k *call) (int, any, error)

// route wraps a handler with everything every call gets: request id, body
// limit, token verification, purpose, error mapping and — before the answer is
// written — its access record, made durable. If the record cannot be made
// durable, the caller gets 503 and nothing of the answer. The call runs under
// a context its client cannot cancel (CallTimeout): whatever the client does,
// what the call did has its record.
func (s *Server) route(action string, needPurpose bool, h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		var ctx context.Context
		if action == "feed.read" {
			// A long poll waits MaxFeedWait first.
			fctx, cancel := context.WithTimeout(context.Background(), CallTimeout+MaxFeedWait)
			defer cancel()
			ctx = fctx
		} else {
			ctx = s.calls.get()
		}
		rec := &accesslog.Record{
			Time: start, RequestID: requestID(c), Action: action,
			CaseID: clip(c.Param("id")), Section: clip(c.Param("section")),
			PolicyRevision: s.cfg.Hub.Revision(),
		}
		k := &call{c: c, ctx: ctx, hc: &hub.Call{Now: start, Record: rec}, rec: rec}
		status, body, err := s.serve(k, needPurpose, h)
		if err != nil {
			status = StatusOf(err)
			switch {
			case k.hc.Recorded():
				// The record went with the effect, as the write succeeded; a
				// failure after it (the views not catching up) changes the
				// answer, not what happened.
				s.log.Error("a write was recorded but could not be answered", "action", action, "request_id", rec.RequestID, "err", err)
			case status == http.StatusInternalServerError:
				s.log.Error("request failed", "action", action, "request_id", rec.RequestID, "err", err)
			}
		}
		// The durable record comes first: no answer leaves without it.
		if aerr := s.cfg.Hub.Close(ctx, k.hc, status, err); aerr != nil {
			if !hub.IsStorageUnavailable(aerr) { // a full disk: the store logs it once
				s.log.Error("access record not durable; refusing the answer", "request_id", rec.RequestID, "err", aerr)
			}
			return s.writeProblem(c, problemOf(errStorage))
		}
		s.cfg.Metrics.observe(action, rec.Status, rec.Decision, s.now().Sub(start))
		if c.Response().Committed {
			return nil // the handler answered itself (a stream)
		}
		if err != nil {
			return s.writeProblem(c, problemOf(err))
		}
		return writeJSON(c, status, body)
	}
}

// errStorage answers a call whose access record could not be made durable.
var errStorage = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub cannot record this call now; try again"}

// errUnauthorized marks a refused token; the caller learns nothing more.
var errUnauthorized = errors.New("unauthorized")

func (s *Server) serve(k *call, needPurpose bool, h handler) (int, any, error) {
	req, rec := k.c.Request(), k.rec
	token, ok := bearer(req)
	if !ok {
		rec.Reasons = []string{"token: missing"}
		return 0, nil, &domain.Error{Kind: domain.KindUnauthorized, Message: "unauthorized", Err: errUnauthorized}
	}
	claims, err := s.cfg.Verifier.Verify(k.ctx, token)
	if err == nil {
		if _, known := s.cfg.Hub.Directory().TypeOf(claims.Agency); !known {
			err = errors.New("agency is not in the directory")
		}
	}
	if err != nil {
		if u := s.cfg.Verifier.Claimed(token); u != nil {
			rec.Issuer, rec.Sub, rec.Agency, rec.Roles = clip(u.Issuer), clip(u.Subject), clip(u.Agency), clipAll(u.Roles)
		}
		rec.Reasons = []string{"token refused: " + clip(err.Error()), "identity unverified"}
		return 0, nil, &domain.Error{Kind: domain.KindUnauthorized, Message: "unauthorized", Err: err}
	}
	k.claims = claims
	id := domain.Identity{Issuer: claims.Issuer, Subject: claims.Subject, Agency: claims.Agency, Roles: claims.Roles}
	k.hc.Identity = id
	rec.Issuer, rec.Sub, rec.Agency, rec.Roles = id.Issuer, id.Subject, id.Agency, id.Roles
	if !s.limiter.allow(id.Issuer, id.Agency, id.Subject) {
		rec.Reasons = []string{"rate limit"}
		return 0, nil, errTooMany
	}
	purpose := req.Header.Get(PurposeHeader)
	if purpose == "" {
		purpose = claims.Purpose
	}
	k.hc.Purpose, rec.Purpose = purpose, clip(purpose)
	if v := req.Header.Get(MinPositionHeader); v != "" {
		wait, cancel := context.WithTimeout(k.ctx, MaxPositionWait)
		err := s.cfg.Hub.WaitFor(wait, v, MinPositionHeader)
		cancel()
		if err != nil {
			if domain.KindOf(err) == domain.KindUnavailable {
				rec.Reasons = []string{"not yet at the position asked for"}
			}
			return 0, nil, err
		}
	}
	if needPurpose && purpose == "" {
		return 0, nil, domain.Invalid("a purpose is required", domain.FieldError{Field: PurposeHeader, Message: "state the purpose of this read in the Liaison-Purpose header"})
	}
	if req.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
		if err != nil {
			return 0, nil, domain.Invalid("the body could not be read")
		}
		if len(body) > MaxBodyBytes {
			return 0, nil, &domain.Error{Kind: domain.KindTooLarge, Message: "the body exceeds 1 MiB"}
		}
		if ct := req.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				return 0, nil, domain.Invalid("the body must be JSON", domain.FieldError{Field: "Content-Type", Message: "must be application/json"})
			}
		}
		k.body = body
	}
	return s.idempotent(k, h) // api/idempotency.go
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

func requestID(c echo.Context) string {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return id
	}
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Response().Header().Set(echo.HeaderXRequestID, id)
	return id
}

// clip bounds what an untrusted caller can put into an access record.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

func clipAll(ss []string) []string {
	if len(ss) > 16 {
		ss = ss[:16]
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clip(s)
	}
	return out
}

func writeJSON(c echo.Context, status int, body any) error {
	if status == http.StatusNoContent {
		return c.NoContent(status)
	}
	var b []byte
	switch v := body.(type) {
	case *hub.Answer:
		b = v.JSON
	case []byte:
		b = v
	case json.RawMessage:
		b = v
	case rawBody:
		return c.Blob(status, v.contentType, v.data)
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b = buf.Bytes()
	}
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

// writeProblem writes a problem answer, with the headers its status calls
// for: Retry-After on 429 and 503, WWW-Authenticate on 401.
func (s *Server) writeProblem(c echo.Context, p Problem) error {
	h := c.Response().Header()
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="liaison"`)
	}
	return c.Blob(p.Status, "application/problem+json", p.body())
}

// echoError answers what Echo itself refuses (unknown route, wrong method) as a
// problem, never with internal text.
func (s *Server) echoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	if errors.As(err, &he) {
		status = he.Code
	}
	if p := c.Request().URL.Path; (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && (p == "/v1" || strings.HasPrefix(p, "/v1/")) {
		// An unknown method or route of the API: refused like any call, with
		// its access record.
		_ = s.unknown(c)
		return
	}
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	if status == http.StatusInternalServerError {
		s.log.Error("unhandled error", "err", err)
	}
	_ = s.writeProblem(c, p)
}

// secure sets the headers every answer carries and recovers from panics as a
// bare 500 problem. Setting them shares their values (securityHeaders)
// instead of allocating five for every call.
func (s *Server) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		h := c.Response().Header()
		for k, v := range s.securityHeaders {
			h[k] = v
		}
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic", "panic", r, "path", c.Path())
				if !c.Response().Committed {
					err = s.writeProblem(c, Problem{Type: "about:blank", Title: "Internal error", Status: http.StatusInternalServerError})
				}
			}
		}()
		return next(c)
	}
}
