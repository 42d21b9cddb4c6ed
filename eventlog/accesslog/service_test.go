package accesslog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/follow"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// hub is an access log with its audit service over an embedded store.
type hub struct {
	st    *embedded.Store
	log   *accesslog.Log
	trees *transparency.Trees
	svc   *accesslog.Service
	stop  func() // ends the follower, if any, and closes the store
}

// newHub opens a store in a temporary directory; with follow, the trees
// follow the log (else the indexes stay empty and queries scan).
func newHub(t testing.TB, follow bool) *hub {
	t.Helper()
	return openHub(t, t.TempDir(), follow)
}

// openHub is newHub on the data directory dir.
func openHub(t testing.TB, dir string, follow bool) *hub {
	t.Helper()
	return openHubIndexed(t, dir, follow, new(accesslog.QueryIndex))
}

// openHubIndexed is openHub with the query index idx.
func openHubIndexed(t testing.TB, dir string, following bool, idx follow.Consumer) *hub {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The hub's settings (cmd/liaison, serve).
	st, err := embedded.Open(dir+"/log", embedded.Options{Logger: quiet, KVSpans: transparency.TableSpan})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	trees, err := transparency.Open(context.Background(), transparency.Config{
		KV: st, Journal: st, Events: st, Key: key, JournalConsumers: []follow.Consumer{idx}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{st: st, log: accesslog.New(st), trees: trees, stop: func() { st.Close() }}
	h.svc = accesslog.NewService(h.log, st, trees)
	if following {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { trees.Run(ctx); close(done) }()
		h.stop = sync.OnceFunc(func() {
			cancel()
			<-done
			if err := trees.Close(context.Background()); err != nil {
				t.Error(err)
			}
			st.Close()
		})
		t.Cleanup(h.stop)
	}
	return h
}

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fill appends n random records, a second apart with up to 30 s of jitter
// (calls stamped at their start, appended at their end), in both stored
// layouts (with and without the optional fields), and returns them.
func (h *hub) fill(t testing.TB, n int, seed uint64) []accesslog.Record {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]accesslog.Record, n)
	for i := range out {
		r := accesslog.Record{
			Time:       base.Add(time.Duration(i)*time.Second - time.Duration(rng.IntN(30))*time.Second),
			RequestID:  fmt.Sprintf("req-%d", i),
			Sub:        fmt.Sprintf("user-%d", rng.IntN(5)),
			Agency:     []string{"prison-service", "municipality", "exit-ngo"}[rng.IntN(3)],
			Action:     "section.read",
			CaseID:     fmt.Sprintf("case-%d", rng.IntN(10)),
			Decision:   []string{accesslog.Allow, accesslog.Partial, accesslog.Deny}[rng.IntN(3)],
			BreakGlass: rng.IntN(10) == 0,
			Issuer:     []string{"liaison-dev", "https://idp.example", ""}[i%3], // "": no token accepted
		}
		if r.BreakGlass {
			r.Justification = fmt.Sprintf("imminent risk, call %d", i)
		}
		if i%7 == 0 {
			r.LegalBasis, r.Reference = "gdpr-17-1-a", fmt.Sprintf("DPO-%d", i)
		}
		if _, err := h.log.Append(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

// all pages through a query, limit records at a time.
func all(t *testing.T, svc *accesslog.Service, f accesslog.Filter, limit int) []uint64 {
	t.Helper()
	var got []uint64
	from := uint64(0)
	for {
		p, err := svc.Query(context.Background(), f, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) > limit {
			t.Fatalf("page of %d records, limit %d", len(p.Records), limit)
		}
		for _, r := range p.Records {
			got = append(got, r.Index)
		}
		if p.Next == nil {
			return got
		}
		if len(p.Records) < limit || *p.Next < from {
			t.Fatalf("short page with a next cursor, or a cursor going back")
		}
		from = *p.Next
	}
}

func filters() map[string]accesslog.Filter {
	yes, no := true, false
	return map[string]accesslog.Filter{
		"everything":                   {},
		"one user":                     {Sub: "user-3"},
		"one user's denials":           {Sub: "user-3", Decision: accesslog.Deny},
		"one case":                     {CaseID: "case-7"},
		"one case for one agency":      {CaseID: "case-7", Agency: "exit-ngo"},
		"break-glass use":              {BreakGlass: &yes},
		"no break-glass":               {BreakGlass: &no, Agency: "municipality"},
		"one agency":                   {Agency: "municipality"},
		"partial answers":              {Decision: accesslog.Partial},
		"allowed answers":              {Decision: accesslog.Allow},
		"allowed answers to an agency": {Decision: accesslog.Allow, Agency: "exit-ngo"},
		"a time window":                {From: base.Add(100 * time.Second), To: base.Add(250 * time.Second)},
		"a user since a time":          {Sub: "user-1", From: base.Add(300 * time.Second)},
		"a case until a time":          {CaseID: "case-2", To: base.Add(120 * time.Second)},
		"an unknown user":              {Sub: "nobody"},
		"a window after every record":  {From: base.Add(time.Hour)},
		"a window before every record": {To: base.Add(-time.Hour)},
	}
}

func TestQueryFindsWhatAScanFinds(t *testing.T) {
	for name, follow := range map[string]bool{"indexed": true, "not yet indexed": false} {
		h := newHub(t, follow)
		recs := h.fill(t, 500, 7)
		if !follow {
			h.svc.Wait = time.Millisecond
		}
		for fname, f := range filters() {
			t.Run(name+": "+fname+" matches the scan", func(t *testing.T) {
				var want []uint64
				for i := range recs {
					if f.Match(&recs[i]) {
						want = append(want, recs[i].Index)
					}
				}
				for _, limit := range []int{1, 7, 1000} {
					if got := all(t, h.svc, f, limit); !slices.Equal(got, want) {
						t.Fatalf("limit %d: got %d records %v, want %d %v", limit, len(got), got, len(want), want)
					}
				}
			})
		}
	}
}

// TestQueryAfterTheTreeIsRebuilt drops the access tree's state, so that the
// reopened hub rebuilds the tree and its indexes from the log in other
// batches than the appends made: the index keys of the first batching must
// go, or queries would list records twice.
func TestQueryAfterTheTreeIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	h := openHub(t, dir, true)
	recs := h.fill(t, 300, 11)
	if !h.trees.Access.WaitSize(context.Background(), uint64(len(recs)), 10*time.Second) {
		t.Fatal("the tree did not take the records in")
	}
	h.stop()
	st, err := embedded.Open(dir+"/log", embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The access journal follower's state ('T' 'a' 's', the transparency
	// package's key schema): without it the tree and the index are rebuilt.
	if err := st.Write(context.Background(), true, eventlog.KVOp{Key: []byte("Tas"), Delete: true}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h = openHub(t, dir, true)
	for fname, f := range filters() {
		var want []uint64
		for i := range recs {
			if f.Match(&recs[i]) {
				want = append(want, recs[i].Index)
			}
		}
		if got := all(t, h.svc, f, 1000); !slices.Equal(got, want) {
			t.Errorf("%s: got %d records %v, want %d %v", fname, len(got), got, len(want), want)
		}
	}
}

// firstLayout indexes the records below n as the first stores did, one key
// with an empty value per record and field (a list of one, as QueryIndex
// writes it), and the others in batches.
type firstLayout struct {
	accesslog.QueryIndex
	n uint64
}

func (f *firstLayout) Append(ops []eventlog.KVOp, batch []eventlog.Entry) ([]eventlog.KVOp, error) {
	var later []eventlog.Entry
	for _, e := range batch {
		if e.Index >= f.n {
			later = append(later, e)
			continue
		}
		var one accesslog.QueryIndex
		ops, _ = one.Append(ops, []eventlog.Entry{e})
	}
	return f.QueryIndex.Append(ops, later)
}

// TestQueryReadsBothIndexLayouts queries a log indexed one key per record up
// to a point and in batches after it, as a store of the first layout goes on
// under the second.
func TestQueryReadsBothIndexLayouts(t *testing.T) {
	h := openHubIndexed(t, t.TempDir(), true, &firstLayout{n: 170})
	recs := h.fill(t, 400, 5)
	for fname, f := range filters() {
		var want []uint64
		for i := range recs {
			if f.Match(&recs[i]) {
				want = append(want, recs[i].Index)
			}
		}
		for _, limit := range []int{3, 1000} {
			if got := all(t, h.svc, f, limit); !slices.Equal(got, want) {
				t.Errorf("%s, limit %d: got %d records %v, want %d %v", fname, limit, len(got), got, len(want), want)
			}
		}
	}
}

func TestQuerySeesEveryRecordAppendedBefore(t *testing.T) {
	h := newHub(t, true)
	ctx := context.Background()
	for i := range 200 {
		r := accesslog.Record{Time: base, RequestID: fmt.Sprint(i), Sub: "eve", Decision: accesslog.Deny}
		if _, err := h.log.Append(ctx, &r); err != nil {
			t.Fatal(err)
		}
		p, err := h.svc.Query(ctx, accesslog.Filter{Sub: "eve"}, r.Index, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 1 || p.Records[0].RequestID != r.RequestID {
			t.Fatalf("record %d not found right after its append: %+v", i, p.Records)
		}
	}
}

func TestProofsThroughTheService(t *testing.T) {
	h := newHub(t, true)
	recs := h.fill(t, 40, 3)
	ctx := context.Background()
	if !h.trees.Access.WaitSize(ctx, uint64(len(recs)), time.Minute) {
		t.Fatal("the tree did not take the records in")
	}
	cp, err := h.svc.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transparency.OpenCheckpoint([]byte(cp.Note), cp.VerifierKey); err != nil || cp.Size == 0 {
		t.Fatalf("checkpoint %+v: %v", cp, err)
	}

	t.Run("an inclusion proof verifies against the checkpoint", func(t *testing.T) {
		i := cp.Size / 2
		v, err := h.svc.Inclusion(ctx, i, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		p := v
		leaf := rfc6962.DefaultHasher.HashLeaf(recs[i].Encode())
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, leaf, p.Hashes, cp.RootHash); err != nil {
			t.Error(err)
		}
	})
	t.Run("a consistency proof verifies between two roots", func(t *testing.T) {
		v, err := h.svc.Consistency(ctx, 5, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		small, err := h.svc.Inclusion(ctx, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		root5 := small.RootHash
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, cp.Size, v.Hashes, root5, cp.RootHash); err != nil {
			t.Error(err)
		}
	})
	t.Run("arguments out of range are invalid and name the field", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			err   error
			field string
		}{
			{"size beyond the log", second(h.svc.Inclusion(ctx, 0, 1000)), "size"},
			{"index at size", second(h.svc.Inclusion(ctx, 10, 10)), "index"},
			{"to beyond the log", second(h.svc.Consistency(ctx, 1, 1000)), "to"},
			{"from above to", second(h.svc.Consistency(ctx, 9, 8)), "from"},
		} {
			var de *domain.Error
			if !errors.As(c.err, &de) || de.Kind != domain.KindInvalid || len(de.Fields) != 1 || de.Fields[0].Field != c.field {
				t.Errorf("%s: %v, want invalid %s", c.name, c.err, c.field)
			}
		}
	})
}

func second(_ any, err error) error { return err }
