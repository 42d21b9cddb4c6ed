package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/projections"
)

// fixture is a store, a codec and the ids of the cases written to it.
type fixture struct {
	store *embedded.Store
	codec *codec.Codec
	keys  *keystore.FileStore
	cases []string
	// copied hides the store's borrowing scan from the projector, which then
	// reads copies of the records, as from EventStoreDB.
	copied bool
}

// copyingLog is a log without a borrowing scan.
type copyingLog struct{ eventlog.Log }

func newFixture(tb testing.TB, dir string) *fixture {
	tb.Helper()
	st, err := embedded.Open(dir+"/log", embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ks, err := keystore.OpenFileStore(dir+"/keys", bytes.Repeat([]byte{1}, keystore.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{store: st, codec: codec.New(ks), keys: ks}
}

// load appends the demo data set's events for n cases (all steps, as written),
// concurrently per case, and returns the number of events.
func (f *fixture) load(tb testing.TB, seed uint64, n int) int {
	tb.Helper()
	ctx := context.Background()
	cases := demo.Generate(seed, n)
	errs := make(chan error, len(cases))
	sem := make(chan struct{}, 64)
	total := 0
	for _, c := range cases {
		id := domain.NewID()
		f.cases = append(f.cases, id)
		total += len(c.Steps)
		sem <- struct{}{}
		go func(c demo.Case) {
			defer func() { <-sem }()
			for i, s := range c.Steps {
				raw := []byte(s.Data)
				if s.Type == domain.BreakGlassInvoked {
					raw, _ = json.Marshal(domain.BreakGlassData{Justification: s.Justification, ExpiresAt: "2026-01-01T00:00:00Z"})
				}
				cls := s.Classification
				if cls == "" {
					cls = domain.TLPGreen
				}
				e, err := f.codec.Encode(ctx, domain.Event{ID: domain.NewID(), CaseID: id, Type: s.Type, Originator: s.As.Agency, Author: s.As.Subject, Classification: cls, ShareWith: s.ShareWith, RawData: raw})
				if err == nil {
					_, err = f.store.Append(ctx, id, int64(i), e)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(c)
	}
	for range cases {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
	return total
}

// projector returns a projector over the fixture's store (through copyingLog
// when f.copied).
func (f *fixture) projector() *projections.Projector {
	var l eventlog.Log = f.store
	if f.copied {
		l = copyingLog{f.store}
	}
	return projections.New(l, f.codec, nil)
}

// run starts a projector and waits until it is ready.
func (f *fixture) run(tb testing.TB) (*projections.Projector, context.CancelFunc) {
	tb.Helper()
	p := f.projector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for !p.Ready() {
		select {
		case err := <-done:
			tb.Fatalf("projector stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	return p, func() { cancel(); <-done }
}

// The projections equal the aggregate rebuilt from each stream, whether the
// catch-up borrows the records of the embedded store's scan or reads copies
// (as from EventStoreDB).
func TestProjectionMatchesTheAggregate(t *testing.T) {
	for _, copied := range []bool{false, true} {
		t.Run(fmt.Sprintf("copied=%v", copied), func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			f.copied = copied
			testProjectionMatchesTheAggregate(t, f)
		})
	}
}

func testProjectionMatchesTheAggregate(t *testing.T, f *fixture) {
	events := f.load(t, 3, 40)
	p, stop := f.run(t)
	defer stop()
	if got := p.Len(); got != 40 {
		t.Fatalf("%d cases, want 40", got)
	}
	if got := p.EventsApplied(); got != uint64(events) {
		t.Errorf("%d events applied, want %d", got, events)
	}
	for _, id := range f.cases {
		v, ok := p.Get(id)
		if !ok {
			t.Fatalf("case %s missing", id)
		}
		// Rebuild the aggregate independently from the stream and compare.
		var c domain.Case
		for r, err := range f.store.ReadStream(context.Background(), id, 1) {
			if err != nil {
				t.Fatal(err)
			}
			e, err := f.codec.Decode(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			c.Apply(e)
			if r.Version > uint64(len(v.Items)) {
				t.Fatalf("case %s: no item for version %d", id, r.Version)
			}
			checkItem(t, &v.Items[r.Version-1], r, e)
		}
		if got, want := v.PolicyKey, c.PolicyKey(); got != want {
			t.Errorf("case %s: policy key %q, want %q", id, got, want)
		}
		if !reflect.DeepEqual(*v.Case, c) {
			t.Errorf("case %s:\n got %+v\nwant %+v", id, *v.Case, c)
		}
		if got, want := uint64(len(v.Items)), c.Version; got != want {
			t.Errorf("case %s: %d items, want %d", id, got, want)
		}
	}
}

// checkItem compares an item with the event it stands for.
func checkItem(t *testing.T, it *projections.Item, r eventlog.Recorded, e domain.Event) {
	t.Helper()
	got := []any{it.ID, it.Version, it.Type(), it.RecordedAt(), it.Originator(), it.Author(), it.Classification(), it.ShareWith()}
	want := []any{r.ID, r.Version, e.Type, e.RecordedAt, e.Originator, e.Author, e.Classification, e.ShareWith}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("item %s/%d:\n got %v\nwant %v", r.Stream, r.Version, got, want)
	}
	if sw := it.ShareWith(); cap(sw) != len(sw) {
		t.Errorf("item %s/%d: ShareWith has spare capacity: appending would write into the shared list", r.Stream, r.Version)
	}
}

func TestLiveEventsAreVisibleAfterWaitFor(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.load(t, 4, 3)
	p, stop := f.run(t)
	defer stop()
	id := f.cases[0]
	v, _ := p.Get(id)
	e, _ := f.codec.Encode(context.Background(), domain.Event{ID: domain.NewID(), CaseID: id, Type: domain.CaseClosed, Originator: "prison-service", Author: "pm", Classification: domain.TLPGreen, RawData: []byte(`{"reason":"done"}`)})
	res, err := f.store.Append(context.Background(), id, int64(v.Case.Version), e)
	if err != nil {
		if v.Case.Closed {
			t.Skip("demo case already closed")
		}
		t.Fatal(err)
	}
	if err := p.WaitFor(context.Background(), res.Position.Commit); err != nil {
		t.Fatal(err)
	}
	v2, _ := p.Get(id)
	if !v2.Case.Closed || v2.Case.Version != res.Version {
		t.Errorf("after WaitFor: closed=%v version=%d, want closed at %d", v2.Case.Closed, v2.Case.Version, res.Version)
	}
	for r, err := range f.store.ReadStream(context.Background(), id, res.Version) {
		if err != nil {
			t.Fatal(err)
		}
		ev, err := f.codec.Decode(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		checkItem(t, &v2.Items[len(v2.Items)-1], r, ev)
	}
	if v.Case.Closed {
		t.Error("an earlier view changed under its reader")
	}
}

func TestErasureDropsContentAndCallsTheHook(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.load(t, 5, 2)
	id := f.cases[1]
	p := f.projector()
	erased := make(chan string, 1)
	p.OnErased = func(ctx context.Context, caseID string) error { erased <- caseID; return f.keys.Destroy(ctx, caseID) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	for !p.Ready() {
		time.Sleep(time.Millisecond)
	}
	v, _ := p.Get(id)
	e, _ := f.codec.Encode(ctx, domain.Event{ID: domain.NewID(), CaseID: id, Type: domain.CaseErased, Originator: "oversight-board", Author: "dpo", Classification: domain.TLPGreen, RawData: []byte(`{"legal_basis":"test"}`)})
	res, err := f.store.Append(ctx, id, int64(v.Case.Version), e)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, res.Position.Commit); err != nil {
		t.Fatal(err)
	}
	if got := <-erased; got != id {
		t.Errorf("hook called for %s, want %s", got, id)
	}
	v2, _ := p.Get(id)
	if !v2.Case.Erased || len(v2.Items) != 0 {
		t.Errorf("erased view: erased=%v items=%d", v2.Case.Erased, len(v2.Items))
	}
	if _, err := p.Data(ctx, id, []uint64{1}); domain.KindOf(err) != domain.KindGone {
		t.Errorf("data of an erased case: %v, want gone", err)
	}
}

// BenchmarkRebuild measures docs/targets.md, P6: a projection rebuild from the
// embedded log (events/s), beside reading the log alone in the same run.
func BenchmarkRebuild(b *testing.B) {
	for _, n := range []int{2000} {
		f := newFixture(b, b.TempDir())
		events := f.load(b, 7, n)
		b.Run(fmt.Sprintf("read-log-alone/%d-events", events), func(b *testing.B) {
			for range b.N {
				count := 0
				for _, err := range f.store.ReadAll(context.Background(), eventlog.Position{}) {
					if err != nil {
						b.Fatal(err)
					}
					count++
				}
			}
			b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("rebuild/%d-events", events), func(b *testing.B) {
			for range b.N {
				_, stop := f.run(b)
				stop()
			}
			b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// An event the projections cannot decode stops them with an error, whether
// the catch-up meets it (behind several batches) or it arrives live.
func TestUndecodableEventStopsTheProjection(t *testing.T) {
	bad := eventlog.Event{ID: [16]byte{1}, Type: string(domain.CaseClosed), Metadata: []byte{99}, Data: []byte{1}}
	t.Run("catch-up", func(t *testing.T) {
		f := newFixture(t, t.TempDir())
		f.load(t, 8, 150)
		if _, err := f.store.Append(context.Background(), "bad-case", eventlog.NoStream, bad); err != nil {
			t.Fatal(err)
		}
		f.load(t, 9, 20)
		p := f.projector()
		err := p.Run(context.Background())
		if err == nil || domain.KindOf(err) != domain.KindInternal || p.Ready() {
			t.Errorf("Run: %v, ready %v; want an internal error, not ready", err, p.Ready())
		}
	})
	t.Run("live", func(t *testing.T) {
		f := newFixture(t, t.TempDir())
		f.load(t, 8, 3)
		p := f.projector()
		done := make(chan error, 1)
		go func() { done <- p.Run(context.Background()) }()
		for !p.Ready() {
			time.Sleep(time.Millisecond)
		}
		if _, err := f.store.Append(context.Background(), "bad-case", eventlog.NoStream, bad); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if domain.KindOf(err) != domain.KindInternal {
				t.Errorf("Run: %v, want an internal error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop")
		}
	})
}

// Cancelling the context during the catch-up ends Run with the context's error.
func TestCancelDuringCatchUp(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.load(t, 10, 200)
	p := f.projector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for p.EventsApplied() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
