// Package projections turns the case log into read models: one View per case
// (the aggregate the policy decides on, and the envelope of every event, grouped
// by the sections of PROTOCOL.md) and the statistics of the oversight body.
//
// A Projector follows the log with a subscription: catch-up from the start when
// the hub starts, then live. Views are immutable snapshots, published atomically,
// so readers never lock against the writer. Projections hold no case content in
// memory beyond what the policy and the statistics need; event data is read from
// the log and opened (decrypted) on demand.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
)

// View is an immutable snapshot of one case. Do not modify it.
type View struct {
	// Case is the aggregate as of Version.
	Case *domain.Case
	// PolicyKey is Case.PolicyKey(), computed once per snapshot.
	PolicyKey string
	// Items are the envelopes of the case's events, in version order (Items[i]
	// has version i+1). Empty for an erased case.
	Items []Item
	// Opened is the global position of the case's first event: the listing order.
	Opened uint64
}

// Item is the envelope of one event, without its data.
type Item struct {
	ID             [16]byte
	Version        uint64
	Type           domain.EventType
	RecordedAt     time.Time
	Originator     string
	Author         string
	Classification domain.TLP
	ShareWith      []string
}

// entry is the projector's own state of one case; only the apply goroutine
// touches its mutable fields.
type entry struct {
	view  atomic.Pointer[View]
	c     *domain.Case
	items []Item
	// shared is true when c has been published in a view and must be cloned
	// before the next change.
	shared bool
	dirty  bool
	opened uint64
}

// Projector builds and serves the case views. It is safe for concurrent use.
type Projector struct {
	log    eventlog.Log
	codec  *codec.Codec
	logger *slog.Logger
	stats  *Stats

	// OnErased, when set, is called as a CaseErased event is applied, before the
	// case's views drop its content: the hub destroys the case key there, so
	// that an erasure interrupted by a crash completes on the next start. An
	// error stops the projection.
	OnErased func(ctx context.Context, caseID string) error

	mu     sync.RWMutex
	cases  map[string]*entry
	order  []*entry // by opening position
	dirty  []*entry // changed since the last publication (catch-up only)
	ready  atomic.Bool
	target eventlog.Position // head at start: catch-up ends there

	applied atomic.Uint64 // commit position of the last published event
	waitMu  sync.Mutex
	wake    chan struct{} // closed and replaced at every publication
	events  atomic.Uint64 // events applied since start
}

// New returns a projector over a log; Run feeds it.
func New(log eventlog.Log, c *codec.Codec, logger *slog.Logger) *Projector {
	if logger == nil {
		logger = slog.Default()
	}
	return &Projector{log: log, codec: c, logger: logger, cases: map[string]*entry{}, wake: make(chan struct{}), stats: newStats()}
}

// Run follows the log from the start until ctx is done: catch-up, then live. It
// returns ctx.Err() when ctx is done, or the error that stopped it (a log or
// decoding failure: the projection cannot go on past an event it cannot read).
//
// During catch-up, events are decoded (and their data opened) in batches by
// one goroutine per CPU, then applied in order by this one (TARGETS P6).
func (p *Projector) Run(ctx context.Context) error {
	head, err := p.log.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: head of the log: %w", err)
	}
	p.target = head
	start := time.Now()
	if head.IsZero() {
		p.finishCatchUp(start)
	}
	batch := make([]eventlog.Recorded, 0, catchUpBatch)
	lastProgress := start
	return p.log.Subscribe(ctx, eventlog.Position{}, func(r eventlog.Recorded) error {
		if p.ready.Load() {
			ev, err := p.decode(ctx, r)
			if err != nil {
				return err
			}
			return p.apply(ctx, r, ev)
		}
		batch = append(batch, r)
		last := !r.Position.Less(p.target)
		if len(batch) < catchUpBatch && !last {
			return nil
		}
		events, err := p.decodeAll(ctx, batch)
		if err != nil {
			return err
		}
		for i := range batch {
			if err := p.apply(ctx, batch[i], events[i]); err != nil {
				return err
			}
		}
		batch = batch[:0]
		if last {
			p.finishCatchUp(start)
		} else if time.Since(lastProgress) > 2*time.Second {
			lastProgress = time.Now()
			p.logger.Info("projections catching up", "position", r.Position.Commit, "head", p.target.Commit, "events", p.events.Load(), "cases", p.Len())
		}
		return nil
	})
}

// catchUpBatch is how many events the catch-up decodes at once.
const catchUpBatch = 1024

// decodeAll decodes a batch of events with one goroutine per CPU.
func (p *Projector) decodeAll(ctx context.Context, batch []eventlog.Recorded) ([]domain.Event, error) {
	out := make([]domain.Event, len(batch))
	workers := min(runtime.GOMAXPROCS(0), 1+len(batch)/64)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(batch); i += workers {
				ev, err := p.decode(ctx, batch[i])
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = ev
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// decode returns an event's envelope, and its data when the projections need it.
func (p *Projector) decode(ctx context.Context, r eventlog.Recorded) (domain.Event, error) {
	ev, err := codec.DecodeMeta(r)
	if err != nil {
		return ev, err
	}
	if needsData[ev.Type] {
		err = p.codec.OpenInto(ctx, r, &ev)
	}
	return ev, err
}

func (p *Projector) finishCatchUp(start time.Time) {
	p.mu.Lock()
	for _, e := range p.dirty {
		p.publishLocked(e)
	}
	p.dirty = nil
	p.mu.Unlock()
	p.ready.Store(true)
	p.logger.Info("projections ready", "events", p.events.Load(), "cases", p.Len(), "took", time.Since(start).Round(time.Millisecond))
	p.signal()
}

// Ready reports whether the catch-up is over and views are current.
func (p *Projector) Ready() bool { return p.ready.Load() }

// Applied returns the commit position of the last event the views include.
func (p *Projector) Applied() uint64 { return p.applied.Load() }

// EventsApplied returns how many events the projector has applied since start.
func (p *Projector) EventsApplied() uint64 { return p.events.Load() }

// WaitFor blocks until the views include the event at commit position pos, for
// read-your-writes. It returns ctx.Err() if ctx ends first.
func (p *Projector) WaitFor(ctx context.Context, pos uint64) error {
	for {
		p.waitMu.Lock()
		wake := p.wake
		p.waitMu.Unlock()
		if p.ready.Load() && p.applied.Load() >= pos {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Projector) signal() {
	p.waitMu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.waitMu.Unlock()
}

// needsData lists the event types whose data the aggregate or the statistics
// read; the data of the others stays sealed during projection.
var needsData = map[domain.EventType]bool{
	domain.CaseOpened: true, domain.ConsentGiven: true, domain.ConsentWithdrawn: true,
	domain.ReleaseScheduled: true, domain.Released: true, domain.BreakGlassInvoked: true,
	domain.InterventionRecorded: true, domain.OutcomeRecorded: true,
}

func (p *Projector) apply(ctx context.Context, r eventlog.Recorded, ev domain.Event) error {
	if ev.Type == domain.CaseErased && p.OnErased != nil {
		if err := p.OnErased(ctx, r.Stream); err != nil {
			return fmt.Errorf("projections: erasing case %s: %w", r.Stream, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.cases[r.Stream]
	if e == nil {
		e = &entry{c: &domain.Case{}, opened: r.Position.Commit}
		p.cases[r.Stream] = e
		p.order = append(p.order, e)
	}
	if e.shared {
		e.c = e.c.Clone()
		e.shared = false
	}
	before := *e.c
	e.c.Apply(ev)
	if ev.Type == domain.CaseErased {
		e.items = nil
		p.codec.Forget(r.Stream)
	} else {
		e.items = append(e.items, Item{
			ID: r.ID, Version: r.Version, Type: ev.Type, RecordedAt: r.RecordedAt,
			Originator: intern(ev.Originator), Author: intern(ev.Author),
			Classification: ev.Classification, ShareWith: ev.ShareWith,
		})
	}
	p.stats.apply(r.Stream, &before, e.c, ev)
	p.events.Add(1)
	if p.ready.Load() {
		p.publishLocked(e)
		p.applied.Store(r.Position.Commit)
		p.signal()
		return nil
	}
	p.applied.Store(r.Position.Commit)
	if !e.dirty {
		e.dirty = true
		p.dirty = append(p.dirty, e)
	}
	return nil
}

func (p *Projector) publishLocked(e *entry) {
	e.dirty = false
	e.shared = true
	e.view.Store(&View{Case: e.c, PolicyKey: e.c.PolicyKey(), Items: e.items[:len(e.items):len(e.items)], Opened: e.opened})
}

// intern shares one copy of the strings that repeat across millions of events
// (organisation ids, user subjects).
func intern(s string) string { return unique.Make(s).Value() }

// Get returns the current view of a case, and false if the case does not exist
// (or the projector is not ready).
func (p *Projector) Get(caseID string) (*View, bool) {
	p.mu.RLock()
	e := p.cases[caseID]
	p.mu.RUnlock()
	if e == nil {
		return nil, false
	}
	v := e.view.Load()
	return v, v != nil
}

// Len returns the number of cases, erased ones included.
func (p *Projector) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.order)
}

// Scan calls fn with the view of every case opened after position after, in
// opening order, until fn returns false.
func (p *Projector) Scan(after uint64, fn func(*View) bool) {
	p.mu.RLock()
	order := p.order[:len(p.order):len(p.order)]
	p.mu.RUnlock()
	// order is sorted by opening position: find the start by binary search.
	lo, hi := 0, len(order)
	for lo < hi {
		m := (lo + hi) / 2
		if order[m].opened <= after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for _, e := range order[lo:] {
		if v := e.view.Load(); v != nil && !fn(v) {
			return
		}
	}
}

// ErrNotReady is returned while the projections are still catching up.
var ErrNotReady = errors.New("projections: still catching up with the log")

// Data opens the data of the given versions of a case: it returns, for each
// version asked, the canonical data JSON. For an erased case it returns a
// KindGone error.
func (p *Projector) Data(ctx context.Context, caseID string, versions []uint64) (map[uint64][]byte, error) {
	out := make(map[uint64][]byte, len(versions))
	if len(versions) == 0 {
		return out, nil
	}
	want := make(map[uint64]bool, len(versions))
	first := versions[0]
	for _, v := range versions {
		want[v] = true
		first = min(first, v)
	}
	for r, err := range p.log.ReadStream(ctx, caseID, first) {
		if err != nil {
			return nil, domain.Internal(err)
		}
		if !want[r.Version] {
			continue
		}
		plain, err := p.codec.Open(ctx, r)
		if err != nil {
			return nil, err
		}
		out[r.Version] = plain
		if len(out) == len(want) {
			break
		}
	}
	return out, nil
}
