package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestServerHistogramReadsExponentCounts checks that the hub's histogram is
// read whatever notation Prometheus' client writes its counts in: from a
// million calls on, it writes them with an exponent.
func TestServerHistogramReadsExponentCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `liaison_http_request_duration_seconds_bucket{action="section.read",status="200",le="0.01"} 1.2345e+06
liaison_http_request_duration_seconds_bucket{action="section.read",status="200",le="+Inf"} 1.234567e+06
liaison_http_request_duration_seconds_bucket{action="case.read",status="200",le="+Inf"} 7
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
