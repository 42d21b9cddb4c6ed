// Package projections turns the case log into read models: one View per case
// (the aggregate the policy decides on, and the envelope of every event, grouped
// by the sections of docs/protocol.md) and the statistics of the oversight
// body.
//
// A Projector follows the log with a subscription: catch-up from the start when
// the hub starts, then live. Views are immutable snapshots, published atomically,
// so readers never lock against the writer. Projections hold no case content in
// memory beyond what the policy and the statistics need; event data is read from
// the log and opened (decrypted) on demand.
package projections

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/projections/internal/extract"
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

	mu       sync.RWMutex
	erasures register // under mu
	cases    map[string]*entry
	order    []*entry // by opening position
	dirty    []*entry // changed since the last publication (catch-up only)
	ready    atomic.Bool
	target   eventlog.Position // head at start: catch-up ends there

	applied atomic.Uint64 // commit position of the last event applied (published once ready)
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
// The catch-up reads, decodes and applies the stored events in a pipeline
// (catchup.go; docs/targets.md, P6); live events are then decoded and applied
// one by one as they become durable.
func (p *Projector) Run(ctx context.Context) error {
	head, err := p.log.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: head of the log: %w", err)
	}
	p.target = head
	start := time.Now()
	last, err := p.catchUp(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	p.finishCatchUp(start)
	d := p.newDecoder()
	var ev decoded
	return p.log.Subscribe(ctx, last, func(r eventlog.Recorded) error {
		if err := d.decode(ctx, &r, &ev); err != nil {
			return err
		}
		return p.apply(ctx, &r, &ev)
	})
}

// decoded is what the projections keep of an event's envelope (see Item), and
// its data when they read it (extract.Reads).
type decoded struct {
	typ, class uint16
	schema     uint16 // the envelope's schema version
	originator uint32
	author     uint32
	share      uint32
	data       domain.Data
}

// decoder decodes events for the projections; each goroutine has its own.
type decoder struct {
	codec *codec.Codec
	syms  *symbols
	text  extract.Strings
	meta  codec.RawMeta
	plain []byte
}

func (p *Projector) newDecoder() *decoder { return &decoder{codec: p.codec, syms: newSymbols()} }

// decode reads r's envelope into ev, and its data when the projections need
// it: nil for an erased case, as codec.OpenInto leaves it.
func (d *decoder) decode(ctx context.Context, r *eventlog.Recorded, ev *decoded) error {
	if err := codec.DecodeRawMeta(r.Metadata, &d.meta); err != nil {
		return domain.Internal(fmt.Errorf("event %s/%d: metadata: %w", r.Stream, r.Version, err))
	}
	typ, ok := d.syms.kindOf(r.Type)
	class, ok2 := d.syms.kind(d.meta.Classification)
	if !ok || !ok2 {
		return domain.Internal(fmt.Errorf("event %s/%d: more than %d event types and classifications", r.Stream, r.Version, maxKinds))
	}
	*ev = decoded{
		typ: typ, class: class, schema: uint16(min(d.meta.SchemaVersion, 1<<16-1)),
		originator: d.syms.name(d.meta.Originator), author: d.syms.name(d.meta.Author),
		share: d.syms.list(d.meta.ShareWith),
	}
	t := domain.EventType(r.Type)
	if !extract.Reads(t) {
		return nil
	}
	plain, err := d.codec.OpenAppend(ctx, d.plain[:0], r)
	d.plain = plain[:0]
	if domain.KindOf(err) == domain.KindGone {
		return nil
	}
	if err != nil {
		return err
	}
	if data, ok := extract.Data(t, plain, &d.text); ok {
		ev.data = data
		return nil
	}
	ev.data, err = domain.RehydrateData(t, plain)
	return err
}

func (p *Projector) finishCatchUp(start time.Time) {
	p.mu.Lock()
	for _, e := range p.dirty {
		// Drop the spare capacity that appending left (a third of the items on
		// average): live events append to a few cases only.
		if cap(e.items) > len(e.items) {
			e.items = append(make([]Item, 0, len(e.items)), e.items...)
		}
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

// Applied returns the commit position of the last event applied: the views
// include it once Ready; during the catch-up it measures the catch-up's progress.
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

// Changed returns a channel that is closed when the views next change (an
// event applied): for readers that wait for something new.
func (p *Projector) Changed() <-chan struct{} {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return p.wake
}

func (p *Projector) signal() {
	p.waitMu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.waitMu.Unlock()
}

// apply applies one live event.
func (p *Projector) apply(ctx context.Context, r *eventlog.Recorded, ev *decoded) error {
	if err := p.erasing(ctx, r); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.applyLocked(r, ev)
	return nil
}

func isErasure(r *eventlog.Recorded) bool { return domain.EventType(r.Type) == domain.CaseErased }

// erasing calls OnErased when r erases its case.
func (p *Projector) erasing(ctx context.Context, r *eventlog.Recorded) error {
	if p.OnErased != nil && isErasure(r) {
		if err := p.OnErased(ctx, r.Stream); err != nil {
			return fmt.Errorf("projections: erasing case %s: %w", r.Stream, err)
		}
	}
	return nil
}

// applyLocked folds one event into its case's state and the statistics, and
// publishes the case's view when the projector is ready (during catch-up,
// finishCatchUp publishes every changed case once). p.mu must be held.
func (p *Projector) applyLocked(r *eventlog.Recorded, ev *decoded) {
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
	var de domain.Event
	de, e.items = fold(e.c, e.items, r, ev)
	if !domain.Sealed(de.Type) {
		p.erasures.apply(de)
	}
	if de.Type == domain.CaseErased {
		p.codec.Forget(r.Stream)
	}
	p.stats.apply(r.Stream, e.c, ev.data)
	p.events.Add(1)
	p.applied.Store(r.Position.Commit)
	if p.ready.Load() {
		p.publishLocked(e)
		p.signal()
		return
	}
	if !e.dirty {
		e.dirty = true
		p.dirty = append(p.dirty, e)
	}
}

// fold applies one decoded event to a case's aggregate c and appends its
// envelope to items (an erasure drops them): the part of applying an event
// that concerns the case alone. It returns the event as the aggregate saw it
// and the items.
func fold(c *domain.Case, items []Item, r *eventlog.Recorded, ev *decoded) (domain.Event, []Item) {
	typ := domain.EventType(r.Type)
	de := domain.Event{
		CaseID: r.Stream, Type: typ, Version: r.Version, Position: r.Position.Commit, RecordedAt: r.RecordedAt,
		Originator: names.get(ev.originator), Author: names.get(ev.author), Data: ev.data,
	}
	if !domain.Sealed(typ) {
		// The erasure's events: the aggregate and the register need their
		// id, share list (CaseErased: who could see the case) and schema.
		de.ID, de.SchemaVersion = domain.FormatID(r.ID), int(ev.schema)
		if ev.share != 0 {
			de.ShareWith = lists.get(ev.share)
		}
	}
	c.Apply(de)
	if typ == domain.CaseErased {
		return de, nil
	}
	return de, append(items, Item{
		ID: r.ID, Version: r.Version, at: r.RecordedAt.UnixNano(), typ: ev.typ, class: ev.class,
		originator: ev.originator, author: ev.author, share: ev.share,
	})
}

// Replay folds the events of a case in order and calls fn after each with
// the event's position, when it was recorded, and the view of the case as it
// stood then, until fn returns false: the case's history, for readers that
// must know what they could see before (the feed). The view is fn's to keep.
// An erased case's content events fold without their data (its key is gone).
// It returns the log's or the codec's error.
func (p *Projector) Replay(ctx context.Context, caseID string, fn func(pos eventlog.Position, at time.Time, v *View) bool) error {
	d := p.newDecoder()
	c := &domain.Case{}
	var items []Item
	var ev decoded
	for r, err := range p.log.ReadStream(ctx, caseID, 1) {
		if err != nil {
			return err
		}
		if err := d.decode(ctx, &r, &ev); err != nil {
			return err
		}
		_, items = fold(c, items, &r, &ev)
		snap := c.Clone()
		if !fn(r.Position, r.RecordedAt, &View{Case: snap, PolicyKey: snap.PolicyKey(), Items: items[:len(items):len(items)]}) {
			return nil
		}
	}
	return nil
}

func (p *Projector) publishLocked(e *entry) {
	e.dirty = false
	e.shared = true
	e.view.Store(&View{Case: e.c, PolicyKey: e.c.PolicyKey(), Items: e.items[:len(e.items):len(e.items)], Opened: e.opened})
}

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
