package transparency_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// The P7 data set: realistic access records (~400 bytes) and sealed events
// (~700 bytes), with a checkpoint every fifth of the way.
const (
	benchRecords = 200_000
	benchEvents  = 100_000
	benchRounds  = 5
)

var bench struct {
	once   sync.Once
	dir    string
	vkey   string
	leaves [][]byte // every leaf's bytes as hashed, for the SHA-256 ceiling
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchData builds the P7 data set once per test binary.
func benchData(b *testing.B) (dir, vkey string, leaves [][]byte) {
	b.Helper()
	bench.once.Do(func() { bench.err = buildBenchData() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.dir, bench.vkey, bench.leaves
}

func buildBenchData() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "liaison-verify-bench-")
	if err != nil {
		return err
	}
	bench.dir = dir
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet()})
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		return err
	}
	bench.vkey = key.VerifierKey
	rec := accesslog.Record{
		Time: time.Now().UTC(), Sub: "pc-anna@prison-service", Agency: "prison-service",
		Roles: []string{"caseworker"}, Purpose: "case-management", Action: "section.read",
		CaseID: "2f1c9a4e-8b7d-4c3e-9f10-5a6b7c8d9e0f", Section: "risk", Decision: accesslog.Partial, Status: 200,
		Reasons:        []string{"prison-service reads risk under its mandate", "classification TLP:AMBER applies"},
		PolicyRevision: "6f2866106a4017d2", Withheld: 2,
	}
	data := make([]byte, 560) // an event's sealed data
	rand.Read(data)
	meta := []byte(`{"schema":1,"originator":"prison-service","author":"pp-ben","classification":"TLP:AMBER","share_with":["probation-service"],"correlation_id":"c7d2"}`)
	for round := range benchRounds {
		records := make([][]byte, 0, 1000)
		for i := round * benchRecords / benchRounds; i < (round+1)*benchRecords/benchRounds; i++ {
			rec.RequestID = fmt.Sprintf("%024x", i)
			records = append(records, rec.Encode())
			if len(records) == cap(records) {
				if _, err := st.AppendRecords(ctx, records...); err != nil {
					return err
				}
				records = records[:0]
			}
		}
		if _, err := st.AppendRecords(ctx, records...); err != nil {
			return err
		}
		events := make([]eventlog.Event, 0, 100)
		for i := round * benchEvents / benchRounds; i < (round+1)*benchEvents/benchRounds; i++ {
			e := eventlog.Event{Type: "InterventionRecorded", Metadata: meta, Data: bytes.Clone(data)}
			rand.Read(e.ID[:])
			events = append(events, e)
			if len(events) == cap(events) {
				if _, err := st.Append(ctx, fmt.Sprintf("case-%d", i/100), eventlog.AnyVersion, events...); err != nil {
					return err
				}
				events = events[:0]
			}
		}
		trees, err := transparency.Open(ctx, transparency.Config{KV: st, Journal: st, Events: st, Key: key, Logger: quiet()})
		if err != nil {
			return err
		}
		if err := trees.Close(ctx); err != nil { // catches up and signs a checkpoint
			return err
		}
	}
	for e, err := range st.ReadRecords(ctx, 0) {
		if err != nil {
			return err
		}
		bench.leaves = append(bench.leaves, e.Data)
	}
	for r, err := range st.ReadAll(ctx, eventlog.Position{}) {
		if err != nil {
			return err
		}
		bench.leaves = append(bench.leaves, transparency.EventLeaf(&r))
	}
	// Compacted, so that the benchmark does not race the compactions its own
	// loading started (a hub's store at rest is compacted).
	if err := st.Compact(ctx); err != nil {
		return err
	}
	return st.Close()
}

// sha256Rate hashes every leaf once and returns the leaves hashed per second.
func sha256Rate(leaves [][]byte) float64 {
	start := time.Now()
	for _, l := range leaves {
		sha256.Sum256(l)
	}
	return float64(len(leaves)) / time.Since(start).Seconds()
}

// BenchmarkVerify is P7: "liaison audit verify" over 200k access records and
// 100k events, in records (records and events) per second, beside the
// SHA-256 ceiling over the same bytes measured in the same run (once per leaf,
// one core) and their ratio.
func BenchmarkVerify(b *testing.B) {
	dir, vkey, leaves := benchData(b)
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rep, err := transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, vkey)
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n := rep.Access.Leaves + rep.Cases.Leaves; n != uint64(len(leaves)) || rep.Access.Checkpoints != benchRounds {
			b.Fatalf("verified %d leaves and %d checkpoints", n, rep.Access.Checkpoints)
		}
	}
	b.StopTimer()
	rate := float64(len(leaves)*b.N) / total.Seconds()
	ceiling := max(sha256Rate(leaves), sha256Rate(leaves))
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(ceiling, "sha256-records/s")
	b.ReportMetric(rate/ceiling, "ratio")
}

// BenchmarkSHA256SameBytes is P7's ceiling: SHA-256 over the bytes that
// BenchmarkVerify hashes as leaves, once each, in records per second.
func BenchmarkSHA256SameBytes(b *testing.B) {
	_, _, leaves := benchData(b)
	var size int
	for _, l := range leaves {
		size += len(l)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, l := range leaves {
			sha256.Sum256(l)
		}
	}
	b.ReportMetric(float64(len(leaves)*b.N)/time.Since(start).Seconds(), "records/s")
}
