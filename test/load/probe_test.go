package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestServerHistogramReadsExponentCounts checks that the hub's histogram is
// read whatever notation Prometheus' client writes its counts in: from a
// million calls on, it writes them with an exponent.
func TestServerHistogramReadsExponentCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP liaison_http_request_duration_seconds Time to answer a call.
# TYPE liaison_http_request_duration_seconds histogram
liaison_http_request_duration_seconds_bucket{action="section.read",status="200",le="0.01"} 1.2345e+06
liaison_http_request_duration_seconds_bucket{action="section.read",status="200",le="+Inf"} 1.234567e+06
liaison_http_request_duration_seconds_sum{action="section.read",status="200"} 2000.5
liaison_http_request_duration_seconds_count{action="section.read",status="200"} 1.234567e+06
liaison_http_request_duration_seconds_bucket{action="case.read",status="200",le="+Inf"} 7
liaison_http_request_duration_seconds_sum{action="case.read",status="200"} 0.01
liaison_http_request_duration_seconds_count{action="case.read",status="200"} 7
`)
	}))
	defer srv.Close()
	h, err := serverHistogram(srv.URL, "section.read")
	if err != nil {
		t.Fatal(err)
	}
	if h[0.01] != 1234500 || h[1e9] != 1234567 || len(h) != 2 {
		t.Fatalf("histogram %v, want 0.01 → 1234500 and +Inf → 1234567", h)
	}
	if got := h.since(histogram{0.01: 1234000, 1e9: 1234000}).describe(0.01); got == "no server-side figures" {
		t.Fatalf("describe: %s", got)
	}
}

// TestScrapeReadsTheClientLibrary reads what Prometheus' client library
// serves: the policy counters by kind, a gauge, the sum of a metric's series.
func TestScrapeReadsTheClientLibrary(t *testing.T) {
	reg := prometheus.NewRegistry()
	evals := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "liaison_policy_evaluations_total"}, []string{"kind"})
	lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: "liaison_monitor_lag_records"})
	rss := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_resident_memory_bytes"})
	reg.MustRegister(evals, lag, rss)
	evals.WithLabelValues("section").Add(3)
	evals.WithLabelValues("item").Add(2e6)
	lag.Set(42)
	rss.Set(1 << 30)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	p, err := policyTotals(srv.URL)
	if err != nil || p["evaluations"] != 2e6+3 || p["evaluations/section"] != 3 || p["evaluations/item"] != 2e6 || p["decisions"] != 0 {
		t.Fatalf("policyTotals: %v, %v", p, err)
	}
	if n, err := metricSum(srv.URL, "liaison_policy_evaluations_total"); err != nil || n != 2e6+3 {
		t.Fatalf("metricSum: %v, %v", n, err)
	}
	if n, err := metricSum(srv.URL, "liaison_monitor_lag_records"); err != nil || n != 42 {
		t.Fatalf("metricSum of a gauge: %v, %v", n, err)
	}
	if _, err := metricSum(srv.URL, "liaison_no_such_metric"); err == nil {
		t.Fatal("metricSum of a metric the hub does not have: no error")
	}
	if m := goMemory(srv.URL); m["process_resident_memory_bytes"] != 1<<30 || len(m) != 1 {
		t.Fatalf("goMemory: %v", m)
	}
}
