package accesslog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// benchLog is the size of the access log BenchmarkQuery searches: a
// million records, the scale the indexes are for.
const benchLog = 1_000_000

// BenchmarkQuery times one page (100 records) of the auditor's common
// queries over a log of a million records (50 users, 2,000 cases, 0.2 %
// break-glass, two hours of traffic), beside a full scan of the log, which is
// what every query cost before the indexes.
//
// It takes a few minutes: loading and indexing the log, then compacting it.
func BenchmarkQuery(b *testing.B) {
	dir := b.TempDir()
	h := openHub(b, dir, false)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	batch := make([][]byte, 0, 1000)
	for i := range benchLog {
		r := accesslog.Record{
			Time:       base.Add(time.Duration(i) * 15 * time.Millisecond),
			RequestID:  fmt.Sprintf("%024x", i),
			Sub:        fmt.Sprintf("user-%d", rng.IntN(50)),
			Agency:     []string{"prison-service", "probation-service", "municipality", "exit-ngo"}[rng.IntN(4)],
			Roles:      []string{"caseworker"},
			Purpose:    "case-management",
			Action:     "section.read",
			CaseID:     fmt.Sprintf("case-%d", rng.IntN(2000)),
			Section:    "risk",
			Decision:   []string{accesslog.Allow, accesslog.Allow, accesslog.Allow, accesslog.Partial, accesslog.Deny}[rng.IntN(5)],
			BreakGlass: rng.IntN(500) == 0,
		}
		batch = append(batch, r.Encode())
		if len(batch) == cap(batch) {
			if _, err := h.st.AppendRecords(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	start := time.Now()
	if err := h.trees.Close(ctx); err != nil { // takes the log in: tree and indexes
		b.Fatal(err)
	}
	b.Logf("indexed %d records in %v", benchLog, time.Since(start))
	if err := h.st.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	yes := true
	for _, c := range []struct {
		name string
		f    accesslog.Filter
	}{
		{"user", accesslog.Filter{Sub: "user-7"}},
		{"user-denials", accesslog.Filter{Sub: "user-7", Decision: accesslog.Deny}},
		{"case", accesslog.Filter{CaseID: "case-1234"}},
		{"break-glass", accesslog.Filter{BreakGlass: &yes}},
		{"agency-in-an-hour", accesslog.Filter{Agency: "exit-ngo", From: base.Add(time.Hour), To: base.Add(2 * time.Hour)}},
		{"ten-minutes", accesslog.Filter{From: base.Add(time.Hour), To: base.Add(70 * time.Minute)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if _, err := h.svc.Query(ctx, c.f, 0, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("full-scan", func(b *testing.B) {
		for range b.N {
			n := 0
			for _, err := range h.log.Records(ctx, 0) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
	})
}

// BenchmarkAppendFollowed appends access records from 64 goroutines, one
// record per call as the hub's requests do, with the access journal's
// follower taking them into the tree and the query index (17 users, 300 cases: P3's many-identity read),
// and reports the process's CPU time per record, which includes the
// follower's and Pebble's flushes and compactions of what it writes.
func BenchmarkAppendFollowed(b *testing.B) {
	h := newHub(b, true)
	ctx := context.Background()
	var seq atomic.Uint64
	cpu0 := processCPU()
	b.SetParallelism(32) // 64 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			r := accesslog.Record{
				Time:      base.Add(time.Duration(i) * time.Millisecond),
				RequestID: fmt.Sprintf("%024x", i),
				Sub:       fmt.Sprintf("user-%d", i*7%17),
				Agency:    []string{"prison-service", "probation-service", "municipality", "exit-ngo", "intelligence"}[i%5],
				Roles:     []string{"caseworker"},
				Purpose:   "case-management",
				Action:    "section.read",
				CaseID:    fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i*31%300),
				Section:   "risk",
				Decision:  accesslog.Allow,
			}
			if _, err := h.log.Append(ctx, &r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if !h.trees.Access.WaitSize(ctx, seq.Load(), time.Minute) {
		b.Fatal("the follower did not take every record in")
	}
	if cpu1 := processCPU(); cpu1 > 0 {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/record")
	}
}

// benchRecord is the access record of a typical section read.
var benchRecord = accesslog.Record{
	Time:           time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC),
	RequestID:      "0123456789abcdef01234567",
	Sub:            "pc-anna",
	Agency:         "prison-service",
	Roles:          []string{"caseworker", "manager"},
	Purpose:        "case-management",
	Action:         "section.read",
	CaseID:         "c0ffee00-0000-4000-8000-000000000042",
	Section:        "risk",
	Decision:       accesslog.Partial,
	Status:         200,
	Reasons:        []string{"risk summary withheld from civil society"},
	PolicyRevision: "sha256:5d41402abc4b2a76b9719d911017c592",
	Withheld:       2,
}

// BenchmarkEncode encodes one access record, as every API call does once.
func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	r := benchRecord
	for b.Loop() {
		_ = r.Encode()
	}
}

// BenchmarkDecode decodes one access record in Encode's layout, as the
// indexes do once per record and queries for every record they read.
func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	enc := benchRecord.Encode()
	for b.Loop() {
		if _, err := accesslog.Decode(1, enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeOptional is BenchmarkEncode for an erasure request's record,
// which has an issuer, a legal basis and a reference.
func BenchmarkEncodeOptional(b *testing.B) {
	b.ReportAllocs()
	r := benchRecord
	r.Action, r.Section, r.Decision, r.Reasons, r.Withheld = "case.erase", "", accesslog.Allow, []string{}, 0
	r.Issuer, r.LegalBasis, r.Reference = "https://idp.example/realms/liaison", "gdpr-17-1-a", "DPO-2026-0042"
	for b.Loop() {
		_ = r.Encode()
	}
}
