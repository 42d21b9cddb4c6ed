package accesslog_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

var (
	bytesRecords = flag.Int("bytes.records", 200_000, "records BenchmarkBytesPerRecord writes")
	bytesBatch   = flag.Int("bytes.batch", 16, "records per follower batch in BenchmarkBytesPerRecord")
)

// traffic makes realistic access records, as the API writes them: a
// national hub's 40 organisations (five kinds in eight regions) and 2,000
// officials, each working on some 30 of 20,000 cases, reading sections most
// of the time, at about 100 calls a second; 15 % of the answers partial and
// 5 % refused, with the policy's reasons.
type traffic struct {
	rng   *rand.Rand
	now   time.Time
	users []trafficUser
	cases []string
}

type trafficUser struct {
	sub, agency, purpose string
	roles                []string
	cases                []int
}

var (
	trafficKinds = []struct {
		agency, purpose string
		roles           []string
	}{
		{"prison-service", "case-management", []string{"prison-case-officer"}},
		{"probation-service", "risk-management", []string{"probation-officer", "risk-assessor"}},
		{"municipality", "reintegration", []string{"municipality-coordinator"}},
		{"exit-ngo", "reintegration", []string{"family-support-counsellor"}},
		{"police", "risk-management", []string{"police-liaison-officer"}},
	}
	trafficRegions = []string{"north", "south", "east", "west", "central", "capital", "coast", "islands"}
	trafficActions = []struct {
		action string
		weight int
	}{{"section.read", 70}, {"case.read", 12}, {"events.read", 5}, {"feed.read", 4}, {"case.list", 3}, {"event.append", 4}, {"case.writable", 2}}
	trafficSections = []string{"profile", "consent", "risk", "needs", "plan", "interventions", "counselling", "conferences", "security", "family", "transition", "outcomes"}
	trafficReasons  = []string{
		"risk summary withheld from civil society",
		"section risk opens to probation from stage transition on",
		"the case does not exist for the caller",
		"no consent on record for this purpose",
		"field withheld by the sharing label",
	}
)

func newTraffic(seed uint64) *traffic {
	t := &traffic{rng: rand.New(rand.NewPCG(seed, 7)), now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	for range 20_000 {
		t.cases = append(t.cases, fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", t.rng.Uint32(), t.rng.IntN(1<<16), t.rng.IntN(1<<12), t.rng.IntN(1<<12), t.rng.Uint64()&(1<<48-1)))
	}
	for i := range 2_000 {
		k := trafficKinds[i%len(trafficKinds)]
		u := trafficUser{
			sub:     fmt.Sprintf("%s-%s-%04d", k.agency[:3], trafficRegions[i/len(trafficKinds)%len(trafficRegions)], i),
			agency:  k.agency + "-" + trafficRegions[i/len(trafficKinds)%len(trafficRegions)],
			purpose: k.purpose,
			roles:   k.roles,
		}
		for range 30 {
			u.cases = append(u.cases, t.rng.IntN(len(t.cases)))
		}
		t.users = append(t.users, u)
	}
	return t
}

// next returns the next record.
func (t *traffic) next() *accesslog.Record {
	t.now = t.now.Add(time.Duration(t.rng.ExpFloat64() * float64(10*time.Millisecond)))
	u := &t.users[t.rng.IntN(len(t.users))]
	w := t.rng.IntN(100)
	action := trafficActions[0].action
	for _, a := range trafficActions {
		if w < a.weight {
			action = a.action
			break
		}
		w -= a.weight
	}
	r := &accesslog.Record{
		Time:           t.now,
		RequestID:      fmt.Sprintf("%016x%08x", t.rng.Uint64(), t.rng.Uint32()),
		Sub:            u.sub,
		Agency:         u.agency,
		Roles:          u.roles,
		Purpose:        u.purpose,
		Action:         action,
		Decision:       accesslog.Allow,
		Status:         200,
		Reasons:        []string{},
		PolicyRevision: "3f9a1c07d2b4e618",
		Issuer:         "https://idp.example/realms/liaison",
	}
	if action != "case.list" && action != "feed.read" {
		r.CaseID = t.cases[u.cases[t.rng.IntN(len(u.cases))]]
	}
	if action == "section.read" {
		r.Section = trafficSections[t.rng.IntN(len(trafficSections))]
	}
	switch d := t.rng.IntN(100); {
	case d < 5:
		r.Decision, r.Status, r.Reasons = accesslog.Deny, 403, []string{trafficReasons[t.rng.IntN(len(trafficReasons))]}
	case d < 20:
		r.Decision, r.Reasons, r.Withheld = accesslog.Partial, []string{trafficReasons[t.rng.IntN(2)]}, 1+t.rng.IntN(4)
	}
	return r
}

// BenchmarkBytesPerRecord measures the access log's bytes on disk per
// record (BENCHMARKS.md, "Access log bytes"): it appends -bytes.records
// realistic records (traffic) through the journal, as the hub does, in
// commits of -bytes.batch records each taken in by the journal's follower
// (the Merkle tree and the query index) before the next, compacts the
// store, and reports the bytes per record of the records, the tree, the
// index and the rest of the store's files (its overhead), and of the
// records' encoded bytes before they are stored.
//
//	go test -run '^$' -bench BytesPerRecord -benchtime 1x ./eventlog/accesslog/
func BenchmarkBytesPerRecord(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		h := openHub(b, dir, true)
		ctx := context.Background()
		tr := newTraffic(1)
		n, per := *bytesRecords, *bytesBatch
		var encoded int
		recs := make([]*accesslog.Record, 0, per)
		for i := 0; i < n; i += per {
			recs = recs[:0]
			for j := i; j < min(i+per, n); j++ {
				r := tr.next()
				encoded += len(r.Encode())
				recs = append(recs, r)
			}
			if err := h.log.AppendAll(ctx, recs); err != nil {
				b.Fatal(err)
			}
			if !h.trees.Access.WaitSize(ctx, uint64(i+len(recs)), time.Minute) {
				b.Fatal("the follower did not take the records in")
			}
		}
		h.stop()
		st := reopenStore(b, dir)
		if err := st.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		u, err := st.DiskUsage([]byte("Ta"), []byte("A"))
		if err != nil {
			b.Fatal(err)
		}
		rec, tree, index := u.Journal, u.KV["Ta"], u.KV["A"]
		per1 := func(x uint64) float64 { return float64(x) / float64(n) }
		b.ReportMetric(per1(u.Files), "disk-B/record")
		b.ReportMetric(per1(rec), "record-B/record")
		b.ReportMetric(per1(tree), "tree-B/record")
		b.ReportMetric(per1(index), "index-B/record")
		b.ReportMetric(per1(u.Files-min(u.Files, rec+tree+index)), "rest-B/record")
		b.ReportMetric(float64(encoded)/float64(n), "encoded-B/record")
		b.ReportMetric(0, "ns/op")
		st.Close()
	}
}

// reopenStore opens the store of the data directory dir of openHub alone.
func reopenStore(t testing.TB, dir string) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(dir+"/log", embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), KVSpans: transparency.TableSpan})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
