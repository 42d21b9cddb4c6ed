package liaison_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// BenchmarkWitnessRoundTrip measures the witness's round trip: from a
// checkpoint of the access log signed and stored to its cosignature by a
// local litewitness (a separate process, its key in an SSH agent, its state
// in SQLite) checked and stored durably by the hub — one access record and
// one checkpoint per operation. It reports the median and the 90th
// percentile (BENCHMARKS.md, "Witness cosigning").
func BenchmarkWitnessRoundTrip(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		b.Fatal(err)
	}
	w := newWitness(b, key.VerifierKey)
	trees, err := transparency.Open(ctx, transparency.Config{KV: st, Journal: st, Events: st, Key: key, Every: 1 << 40, Interval: time.Hour, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	wit, err := transparency.ParseWitness(w.flag())
	if err != nil {
		b.Fatal(err)
	}
	if err := trees.SetWitnesses(ctx, transparency.WitnessConfig{Witnesses: []transparency.Witness{wit}, Interval: time.Hour}); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- trees.Run(ctx) }()
	var took []time.Duration
	n := uint64(0)
	for b.Loop() {
		b.StopTimer()
		rec := fmt.Appendf(nil, `{"time":"2026-01-01T00:00:00Z","request_id":"r%d","sub":"bench","decision":"allow"}`, n)
		if _, err := st.AppendRecords(ctx, rec); err != nil {
			b.Fatal(err)
		}
		n++
		trees.NotifyAccess()
		if !trees.Access.WaitSize(ctx, n, 5*time.Second) {
			b.Fatalf("the tree does not reach %d", n)
		}
		if err := trees.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if trees.Cosign(ctx) != 1 {
			b.Fatalf("not cosigned: %+v", trees.Witnesses())
		}
		took = append(took, time.Since(start))
	}
	cancel()
	<-done
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(took[len(took)*9/10].Microseconds())/1000, "p90-ms")
}
