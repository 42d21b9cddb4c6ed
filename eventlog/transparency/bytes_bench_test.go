package transparency_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/embedded"
)

var treeRecords = flag.Int("tree.records", 200_000, "records BenchmarkTreeBytes appends")

// BenchmarkTreeBytes measures the access tree's bytes on disk per record
// (BENCHMARKS.md, "Access log bytes"): -tree.records records appended in
// commits of 1,000, taken in by the tree's follower, the store compacted and
// the tree's key range ('T' 'a': its nodes, follower state and checkpoints)
// measured.
//
//	go test -run '^$' -bench TreeBytes -benchtime 1x ./eventlog/transparency/
func BenchmarkTreeBytes(b *testing.B) {
	for b.Loop() {
		ctx := context.Background()
		dir := b.TempDir()
		st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		trees := openTrees(b, st, dir, nil)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- trees.Run(runCtx) }()
		n := *treeRecords
		for i := 0; i < n; i += 1000 {
			appendRecords(b, st, min(1000, n-i))
			trees.NotifyAccess()
			if !trees.Access.WaitSize(ctx, uint64(min(i+1000, n)), time.Minute) {
				b.Fatal("the follower did not take the records in")
			}
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if err := trees.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := st.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		u, err := st.DiskUsage([]byte("Ta"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(u.KV["Ta"])/float64(n), "tree-B/record")
		b.ReportMetric(0, "ns/op")
		st.Close()
	}
}

// BenchmarkProofsFromTiles measures an inclusion proof and a consistency
// proof in a tree of 100,000 records, whose nodes between the tile levels
// are computed from the stored ones below them.
func BenchmarkProofsFromTiles(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const n = 100_000
	appendRecords(b, st, n)
	trees := openTrees(b, st, dir, nil)
	if err := trees.Close(ctx); err != nil {
		b.Fatal(err)
	}
	i := uint64(0)
	for b.Loop() {
		i = (i*7919 + 104729) % n
		if _, err := trees.Access.Inclusion(ctx, i, n); err != nil {
			b.Fatal(err)
		}
		if _, err := trees.Access.Consistency(ctx, i+1, n); err != nil {
			b.Fatal(err)
		}
	}
}
