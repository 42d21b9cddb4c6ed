package accesslog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// queryActions are the actions fillVaried gives its records.
var queryActions = []string{"section.read", "case.read", "break-glass", "audit.records", "event.append"}

// fillVaried appends n random records in batches of batch, one commit each,
// with varied actions and times a second apart with up to 30 s of jitter, and
// returns them with their indexes.
func (h *hub) fillVaried(t testing.TB, n, batch int, seed uint64) []accesslog.Record {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]accesslog.Record, 0, n)
	for len(out) < n {
		var recs []*accesslog.Record
		for range min(batch, n-len(out)) {
			i := len(out) + len(recs)
			recs = append(recs, &accesslog.Record{
				Time:       base.Add(time.Duration(i)*time.Second - time.Duration(rng.IntN(30))*time.Second),
				RequestID:  fmt.Sprintf("req-%d", i),
				Sub:        fmt.Sprintf("user-%d", rng.IntN(5)),
				Agency:     []string{"prison-service", "municipality", "exit-ngo"}[rng.IntN(3)],
				Roles:      []string{},
				Action:     queryActions[rng.IntN(len(queryActions))],
				CaseID:     fmt.Sprintf("case-%d", rng.IntN(10)),
				Decision:   []string{accesslog.Allow, accesslog.Partial, accesslog.Deny}[rng.IntN(3)],
				Reasons:    []string{},
				BreakGlass: rng.IntN(10) == 0,
			})
		}
		if err := h.log.AppendAll(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, *r)
		}
	}
	return out
}

// randomFilter draws a filter over the fields fillVaried varies, each field
// set or not, with time bounds within the records' times or around them.
func randomFilter(rng *rand.Rand, n int) accesslog.Filter {
	var f accesslog.Filter
	pick := func(values ...string) string {
		if rng.IntN(3) == 0 {
			return values[rng.IntN(len(values))]
		}
		return ""
	}
	f.Sub = pick("user-1", "user-4", "nobody")
	f.CaseID = pick("case-0", "case-7")
	f.Agency = pick("exit-ngo", "municipality")
	f.Decision = pick(accesslog.Allow, accesslog.Partial, accesslog.Deny)
	f.Action = pick(queryActions...)
	if rng.IntN(4) == 0 {
		b := rng.IntN(2) == 0
		f.BreakGlass = &b
	}
	at := func() time.Time { return base.Add(time.Duration(rng.IntN(n+200)-100) * time.Second) }
	if rng.IntN(3) == 0 {
		f.From = at()
	}
	if rng.IntN(3) == 0 {
		f.To = at()
	}
	return f
}

// backwards pages through QueryBefore from before, limit records at a time,
// and checks each page's shape: at most limit records, and a next cursor
// only after a full page, below its last record.
func backwards(t *testing.T, svc *accesslog.Service, f accesslog.Filter, before uint64, limit int) []uint64 {
	t.Helper()
	var got []uint64
	for next := &before; next != nil; {
		p, err := svc.QueryBefore(context.Background(), f, *next, limit)
		switch {
		case err != nil:
			t.Fatal(err)
		case len(p.Records) > limit:
			t.Fatalf("page of %d records, limit %d", len(p.Records), limit)
		case p.Next != nil && (len(p.Records) < limit || *p.Next == 0 || *p.Next > p.Records[len(p.Records)-1].Index):
			t.Fatalf("a short page with a next cursor, or a cursor %d not below the page's last record", *p.Next)
		}
		for _, r := range p.Records {
			got = append(got, r.Index)
		}
		next = p.Next
	}
	return got
}

// reversed returns the indexes of the records of recs below before (all of
// them when before is 0) that match f, newest first: what QueryBefore must
// find.
func reversed(recs []accesslog.Record, f accesslog.Filter, before uint64) []uint64 {
	var want []uint64
	for i := len(recs) - 1; i >= 0; i-- {
		if (before == 0 || recs[i].Index < before) && f.Match(&recs[i]) {
			want = append(want, recs[i].Index)
		}
	}
	return want
}

// TestQueryBeforeIsQueryReversed compares QueryBefore, paged at several
// limits and from several starting points, with Query's answer reversed and
// with a scan of the records, over random filters (time bounds and action
// included), on an indexed log and on one the indexes have not taken in.
func TestQueryBeforeIsQueryReversed(t *testing.T) {
	for name, follow := range map[string]bool{"indexed": true, "not yet indexed": false} {
		t.Run(name, func(t *testing.T) {
			h := newHub(t, follow)
			recs := h.fillVaried(t, 700, 50, 3)
			if follow {
				if !h.trees.Access.WaitSize(context.Background(), uint64(len(recs)), 10*time.Second) {
					t.Fatal("the indexes did not take the records in")
				}
			} else {
				h.svc.Wait = time.Microsecond
			}
			rng := rand.New(rand.NewPCG(9, 9))
			for i := range 80 {
				f := randomFilter(rng, len(recs))
				before := []uint64{0, uint64(rng.IntN(len(recs))), uint64(len(recs)), uint64(len(recs) + 5)}[i%4]
				want := reversed(recs, f, min(before, uint64(len(recs))))
				if before == 0 || before >= uint64(len(recs)) {
					asc := all(t, h.svc, f, 1000)
					slices.Reverse(asc)
					if !slices.Equal(asc, want) {
						t.Fatalf("filter %+v: Query reversed gives %v, the scan %v", f, asc, want)
					}
				}
				for _, limit := range []int{1, 7, 1000} {
					if got := backwards(t, h.svc, f, before, limit); !slices.Equal(got, want) {
						t.Fatalf("filter %+v, before %d, limit %d: got %d records %v, want %d %v", f, before, limit, len(got), got, len(want), want)
					}
				}
			}
		})
	}
}

// TestQueryBeforeBeyondTheWidestWindow pages backwards through a log longer
// than several of QueryBefore's widest windows, with filters that match
// rarely (so that windows grow to their cap and several are scanned for one
// page) and often.
func TestQueryBeforeBeyondTheWidestWindow(t *testing.T) {
	h := newHub(t, true)
	recs := h.fillVaried(t, 40_000, 2000, 4)
	if !h.trees.Access.WaitSize(context.Background(), uint64(len(recs)), time.Minute) {
		t.Fatal("the indexes did not take the records in")
	}
	yes := true
	for name, f := range map[string]accesslog.Filter{
		"an action, scanned":                {Action: "break-glass", Decision: accesslog.Deny, Sub: "user-2", Agency: "exit-ngo", CaseID: "case-3", BreakGlass: &yes},
		"nothing":                           {Sub: "nobody"},
		"one case, through its index":       {CaseID: "case-4", Action: "audit.records"},
		"everything in a time window":       {From: base.Add(10_000 * time.Second), To: base.Add(30_000 * time.Second), Action: "case.read", Decision: accesslog.Partial, Sub: "user-0"},
		"everything before a time, scanned": {To: base.Add(20_000 * time.Second), Action: "event.append", Decision: accesslog.Deny, BreakGlass: &yes},
	} {
		t.Run(name, func(t *testing.T) {
			want := reversed(recs, f, 0)
			for _, limit := range []int{2, 1000} {
				if got := backwards(t, h.svc, f, 0, limit); !slices.Equal(got, want) {
					t.Fatalf("limit %d: got %d records, want %d (first got %v, want %v)", limit, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
				}
			}
		})
	}
}

// TestQueryByAction checks the action filter, which no index serves, alone
// and with an indexed field.
func TestQueryByAction(t *testing.T) {
	h := newHub(t, true)
	recs := h.fillVaried(t, 300, 30, 5)
	for _, f := range []accesslog.Filter{{Action: "break-glass"}, {Action: "case.read", Sub: "user-2"}, {Action: "no.such.action"}} {
		var want []uint64
		for i := range recs {
			if recs[i].Action == f.Action && (f.Sub == "" || recs[i].Sub == f.Sub) {
				want = append(want, recs[i].Index)
			}
		}
		if f.Action != "no.such.action" && len(want) == 0 {
			t.Fatalf("the records hold no %s: the test tests nothing", f.Action)
		}
		if got := all(t, h.svc, f, 7); !slices.Equal(got, want) {
			t.Errorf("%+v: got %v, want %v", f, got, want)
		}
	}
}
