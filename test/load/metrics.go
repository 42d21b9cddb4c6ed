package main

import (
	"fmt"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the hub's /metrics at base with Prometheus' own parser of its
// text format: metric families by name. Counts come as the client library
// writes them, which from a million on is with an exponent (1.234567e+06).
func scrape(base string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sampleValue is the value of a counter, gauge or untyped sample (the others
// are zero).
func sampleValue(m *dto.Metric) float64 {
	return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
}

// labelValue returns the value of the label name of m, "" without it.
func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// histogram is the hub's own latency histogram of one action: cumulative
// counts by upper bound (seconds), as /metrics shows it, +Inf as 1e9.
type histogram map[float64]float64

// serverHistogram reads the hub's latency histogram of action, all statuses.
func serverHistogram(base, action string) (histogram, error) {
	mfs, err := scrape(base)
	if err != nil {
		return nil, err
	}
	h := histogram{}
	for _, m := range mfs["liaison_http_request_duration_seconds"].GetMetric() {
		if labelValue(m, "action") != action {
			continue
		}
		for _, b := range m.GetHistogram().GetBucket() {
			le := min(b.GetUpperBound(), 1e9) // +Inf
			// One of the two is set: integer counts, or float ones.
			h[le] += float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
		}
	}
	return h, nil
}

// policyTotals reads the hub's policy counters: "decisions", "evaluations"
// and "evaluation_seconds" summed over the kinds of decision, and the same
// names followed by "/" and a kind ("evaluations/section") for each.
func policyTotals(base string) (map[string]float64, error) {
	mfs, err := scrape(base)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, name := range []string{"decisions", "evaluations", "evaluation_seconds"} {
		for _, m := range mfs["liaison_policy_"+name+"_total"].GetMetric() {
			v := sampleValue(m)
			out[name] += v
			out[name+"/"+labelValue(m, "kind")] = v
		}
	}
	return out, nil
}

// goMemory reads the Go runtime's memory figures (go_memstats_*) and the
// resident set size from the hub's /metrics; none when they cannot be read.
func goMemory(base string) map[string]float64 {
	out := map[string]float64{}
	mfs, err := scrape(base)
	if err != nil {
		return out
	}
	for name, mf := range mfs {
		if ms := mf.GetMetric(); len(ms) == 1 && (strings.HasPrefix(name, "go_memstats_") || name == "process_resident_memory_bytes") {
			out[name] = sampleValue(ms[0])
		}
	}
	return out
}

// metricSum sums the samples of a metric on the hub's /metrics.
func metricSum(admin, name string) (float64, error) {
	mfs, err := scrape(admin)
	if err != nil {
		return 0, err
	}
	mf, ok := mfs[name]
	if !ok {
		return 0, fmt.Errorf("no %s on %s/metrics", name, admin)
	}
	sum := 0.0
	for _, m := range mf.GetMetric() {
		sum += sampleValue(m)
	}
	return sum, nil
}
