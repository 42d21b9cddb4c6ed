package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/liaison-hub/liaison/domain"
)

// Metrics are the hub's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	Registry  *prometheus.Registry
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	appends   *prometheus.CounterVec
	// calls holds, by callKind, the latency histogram and decision counter
	// of that kind of call: looked up once, not by label values at every
	// call (that lookup was 0.8% of the hub's CPU under wrk's section
	// reads).
	calls sync.Map
}

// callKind is the labels of one call's metrics.
type callKind struct {
	action, decision string
	status           int
}

// callMetrics are the metrics of one callKind.
type callMetrics struct {
	latency  prometheus.Observer
	decision prometheus.Counter
}

// NewMetrics returns the hub's metrics in a fresh registry, with the Go runtime
// and process collectors. Other packages register their own collectors in
// Registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "liaison_http_request_duration_seconds", Help: "API call latency by action and status, access record included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
		}, []string{"action", "status"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "liaison_access_decisions_total", Help: "Access records by action and decision.",
		}, []string{"action", "decision"}),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "liaison_events_appended_total", Help: "Case events appended through the API, by type.",
		}, []string{"type"}),
	}
	reg.MustRegister(m.latency, m.decisions, m.appends)
	return m
}

func (m *Metrics) observe(action string, status int, decision string, d time.Duration) {
	if m == nil {
		return
	}
	k := callKind{action: action, decision: decision, status: status}
	c, ok := m.calls.Load(k)
	if !ok {
		c, _ = m.calls.LoadOrStore(k, &callMetrics{
			latency:  m.latency.WithLabelValues(action, strconv.Itoa(status)),
			decision: m.decisions.WithLabelValues(action, decision),
		})
	}
	cm := c.(*callMetrics)
	cm.latency.Observe(d.Seconds())
	cm.decision.Inc()
}

// Appended counts an event appended (hub.Config.OnAppend).
func (m *Metrics) Appended(t domain.EventType) {
	if m != nil {
		m.appends.WithLabelValues(string(t)).Inc()
	}
}

// AdminHandler returns the admin side: /healthz, /readyz and /metrics. Serve
// it on an address the API's callers cannot reach (loopback by default):
// the metrics count events by type and calls by action.
func (s *Server) AdminHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.echoError
	s.healthRoutes(e)
	s.metricsRoute(e)
	return e
}

// healthRoutes serves liveness and readiness; they say nothing about cases.
func (s *Server) healthRoutes(e *echo.Echo) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		if err := s.cfg.Hub.Storage(); err != nil {
			// The store refuses writes (a full disk): no call could leave its
			// record. It resumes by itself (docs/operations.md, "A full disk").
			c.Response().Header().Set("Retry-After", "5")
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "storage unavailable"})
		}
		if !s.cfg.Hub.Ready() {
			c.Response().Header().Set("Retry-After", "1")
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
}

func (s *Server) metricsRoute(e *echo.Echo) {
	if s.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{})))
	}
}
