package accesslog_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

var (
	scaleRecords = flag.Int("scale.records", 4_000_000, "records BenchmarkAtScale builds")
	scaleQueries = flag.Int("scale.queries", 1000, "random queries of each kind BenchmarkAtScale times")
)

// BenchmarkAtScale builds an access log of -scale.records realistic records
// (traffic: 2,000 officials of 40 organisations, 20,000 cases), appended
// through the journal 1,000 to a commit while the journal's follower takes
// them into the tree and the query index, as a hub's would; then it
// compacts the store and measures, at a quarter of the records and at all
// of them (BENCHMARKS.md, "The access log at scale"): the restart (opening
// the store and the trees on the directory, which is what of a hub's start
// depends on the access log; the case log's projections are P8's); the
// auditor's queries by case, by user and by organisation (the first page of
// 100 in log order, and the latest page, newest first, as the console asks
// it), -scale.queries random ones of each, p50 and p99; audit verify
// (transparency.Verify), records per second; and bytes on disk per record.
// Run it so:
//
//	go test -run '^$' -bench AtScale -benchtime 1x -timeout 2h ./eventlog/accesslog/ -args -scale.records=16000000
func BenchmarkAtScale(b *testing.B) {
	for b.Loop() {
		ctx := context.Background()
		dir := b.TempDir()
		tr := newTraffic(5)
		n := *scaleRecords
		appended := 0
		build := func(upto int, label string) {
			h := openHub(b, dir, true)
			start := time.Now()
			batch := make([][]byte, 0, 1000)
			for appended < upto {
				batch = batch[:0]
				for range min(cap(batch), upto-appended) {
					batch = append(batch, tr.next().Encode())
				}
				if _, err := h.st.AppendRecords(ctx, batch...); err != nil {
					b.Fatal(err)
				}
				appended += len(batch)
			}
			if !h.trees.Access.WaitSize(ctx, uint64(appended), time.Hour) {
				b.Fatal("the follower did not take the records in")
			}
			h.stop()
			scaleLog("%d records appended and taken in: %v", appended, time.Since(start))
			b.ReportMetric(time.Since(start).Seconds(), "build-s-"+label)
			st := reopenStore(b, dir)
			start = time.Now()
			if err := st.Compact(ctx); err != nil {
				b.Fatal(err)
			}
			u, err := st.DiskUsage([]byte("Ta"), []byte("A"))
			if err != nil {
				b.Fatal(err)
			}
			st.Close()
			per := func(x uint64) float64 { return float64(x) / float64(appended) }
			b.ReportMetric(per(u.Files), "bytes/record-"+label)
			scaleLog("%d records: compacted in %v; bytes per record: %.1f on disk (records %.1f, tree %.1f, index %.1f)",
				appended, time.Since(start), per(u.Files), per(u.Journal), per(u.KV["Ta"]), per(u.KV["A"]))
		}
		measure := func(label string) {
			// Restart, five times: the median.
			var opens []time.Duration
			var h *hub
			for range 5 {
				start := time.Now()
				h = openHub(b, dir, false)
				opens = append(opens, time.Since(start))
				if got := h.trees.Access.Size(); got != uint64(appended) {
					b.Fatalf("the reopened tree holds %d records, want %d", got, appended)
				}
				if _, err := h.log.Len(ctx); err != nil {
					b.Fatal(err)
				}
				h.st.Close()
			}
			slices.Sort(opens)
			scaleLog("%s (%d records): restart (store and trees opened) median %v, min %v, max %v", label, appended, opens[2], opens[0], opens[4])
			b.ReportMetric(float64(opens[2].Microseconds())/1e3, "restart-ms-"+label)

			h = openHub(b, dir, false)
			rng := rand.New(rand.NewPCG(9, 9))
			for _, q := range []struct {
				name string
				f    func() accesslog.Filter
			}{
				{"case", func() accesslog.Filter {
					u := &tr.users[rng.IntN(len(tr.users))]
					return accesslog.Filter{CaseID: tr.cases[u.cases[rng.IntN(len(u.cases))]]}
				}},
				{"user", func() accesslog.Filter { return accesslog.Filter{Sub: tr.users[rng.IntN(len(tr.users))].sub} }},
				{"org", func() accesslog.Filter { return accesslog.Filter{Agency: tr.users[rng.IntN(len(tr.users))].agency} }},
			} {
				for _, desc := range []bool{false, true} {
					var took []time.Duration
					found := 0
					for range *scaleQueries {
						f := q.f()
						start := time.Now()
						var p accesslog.Page
						var err error
						if desc {
							p, err = h.svc.QueryBefore(ctx, f, 0, 100)
						} else {
							p, err = h.svc.Query(ctx, f, 0, 100)
						}
						took = append(took, time.Since(start))
						if err != nil {
							b.Fatal(err)
						}
						found += len(p.Records)
					}
					slices.Sort(took)
					order := "first-page"
					if desc {
						order = "latest-page"
					}
					p50, p99 := took[len(took)/2], took[len(took)*99/100]
					scaleLog("%s (%d records): query by %s, %s: p50 %v, p99 %v, max %v (%.1f records a page)",
						label, appended, q.name, order, p50, p99, took[len(took)-1], float64(found)/float64(len(took)))
					b.ReportMetric(float64(p99.Microseconds())/1e3, "p99-ms-"+q.name+"-"+order+"-"+label)
				}
			}
			start := time.Now()
			rep, err := transparency.Verify(ctx, transparency.Sources{Journal: h.st, Events: h.st, KV: h.st}, h.trees.VerifierKeys()...)
			if err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			scaleLog("%s (%d records): audit verify %v, %.0f records/s, %.1f MB/s of leaves", label, appended, took,
				float64(rep.Access.Leaves)/took.Seconds(), float64(rep.Access.Bytes)/took.Seconds()/1e6)
			b.ReportMetric(float64(rep.Access.Leaves)/took.Seconds(), "verify-records/s-"+label)
			h.st.Close()
		}
		build(n/4, "quarter")
		measure("quarter")
		build(n, "full")
		measure("full")
		b.ReportMetric(0, "ns/op")
	}
}

// scaleLog writes a line of BenchmarkAtScale's progress to stderr at once,
// with the time: the benchmark runs for tens of minutes, and the testing
// package keeps only the first ten lines of a benchmark's log.
func scaleLog(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
