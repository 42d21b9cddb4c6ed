package projections

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// The catch-up (docs/targets.md, P6) is a pipeline: this goroutine reads the
// log into batches, one decoding goroutine per CPU decodes whole batches
// (metadata, and the data of the types that extract.Reads), and one goroutine
// applies them in log order, so that reading batch n+2, decoding n+1 and
// applying n overlap. At most catchUpDepth batches are in flight, and they are
// reused, as are the bytes they hold when the log lends its records
// (borrowingLog).

// catchUpBatch is how many events a batch holds; catchUpDepth how many
// batches are in flight.
const (
	catchUpBatch = 1024
	catchUpDepth = 6
)

// borrowingLog is implemented by logs (eventlog/embedded) that can lend the
// records of a scan instead of copying each: r and its bytes are valid during
// the call of fn only.
type borrowingLog interface {
	ReadAllBorrowed(ctx context.Context, after eventlog.Position, fn func(r *eventlog.Recorded) error) error
}

// batch is a run of events in log order and their decoding.
type batch struct {
	recs    []eventlog.Recorded
	evs     []decoded
	arena   []byte        // the records' bytes, when borrowed
	decoded chan struct{} // closed when evs and err are set
	err     error
}

// add appends a record to the batch, copying its bytes into the arena unless
// the record owns them.
func (b *batch) add(r *eventlog.Recorded, owned bool) {
	b.recs = append(b.recs, *r)
	if owned {
		return
	}
	c := &b.recs[len(b.recs)-1]
	n := len(b.arena)
	b.arena = append(b.arena, r.Metadata...)
	b.arena = append(b.arena, r.Data...)
	c.Metadata = b.arena[n : n+len(r.Metadata) : n+len(r.Metadata)]
	c.Data = b.arena[n+len(r.Metadata) : len(b.arena) : len(b.arena)]
}

func (b *batch) reset() {
	clear(b.recs) // drop the references to owned bytes
	b.recs, b.evs, b.arena = b.recs[:0], b.evs[:0], b.arena[:0]
	b.decoded, b.err = make(chan struct{}), nil
}

// catchUp applies every event stored when it starts (and any appended
// meanwhile that its read reaches), and returns the position of the last.
func (p *Projector) catchUp(ctx context.Context) (eventlog.Position, error) {
	defer raiseGCPercent()()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan *batch, catchUpDepth)
	for range catchUpDepth {
		b := &batch{recs: make([]eventlog.Recorded, 0, catchUpBatch), evs: make([]decoded, 0, catchUpBatch)}
		b.reset()
		free <- b
	}
	toDecode := make(chan *batch, catchUpDepth)
	toApply := make(chan *batch, catchUpDepth)
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			d := p.newDecoder()
			for b := range toDecode {
				b.err = d.decodeBatch(ctx, b)
				close(b.decoded)
			}
		})
	}
	applied := make(chan struct{})
	var last eventlog.Position
	go func() {
		defer close(applied)
		last = p.applyBatches(ctx, cancel, toApply, free)
	}()

	cur := <-free
	send := func() error {
		toDecode <- cur // never blocks: there are catchUpDepth batches in all
		toApply <- cur
		select {
		case cur = <-free:
			return nil
		case <-ctx.Done():
			cur = nil
			return context.Cause(ctx)
		}
	}
	var err error
	if bl, ok := p.log.(borrowingLog); ok {
		err = bl.ReadAllBorrowed(ctx, eventlog.Position{}, func(r *eventlog.Recorded) error {
			if cur.add(r, false); len(cur.recs) == catchUpBatch {
				return send()
			}
			return nil
		})
	} else {
		for r, rerr := range p.log.ReadAll(ctx, eventlog.Position{}) {
			if rerr != nil {
				err = rerr
				break
			}
			if cur.add(&r, true); len(cur.recs) == catchUpBatch {
				if err = send(); err != nil {
					break
				}
			}
		}
	}
	if err == nil && cur != nil && len(cur.recs) > 0 {
		err = send()
	}
	if err != nil {
		cancel(err)
	}
	close(toDecode)
	close(toApply)
	workers.Wait()
	<-applied
	if cerr := context.Cause(ctx); err == nil && cerr != nil {
		err = cerr // the applier's (or a decoder's) error, or the caller's cancellation
	}
	return last, err
}

// decodeBatch decodes every event of b.
func (d *decoder) decodeBatch(ctx context.Context, b *batch) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	b.evs = b.evs[:len(b.recs)]
	for i := range b.recs {
		if err := d.decode(ctx, &b.recs[i], &b.evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// applyBatches applies the batches of toApply in order and returns the
// position of the last event applied. On an error it cancels the catch-up
// with it and only recycles the batches that follow.
func (p *Projector) applyBatches(ctx context.Context, cancel context.CancelCauseFunc, toApply <-chan *batch, free chan<- *batch) eventlog.Position {
	var last eventlog.Position
	progress := time.Now()
	for b := range toApply {
		<-b.decoded
		switch {
		case ctx.Err() != nil:
		case b.err != nil:
			cancel(b.err)
		default:
			if err := p.applyBatch(ctx, b); err != nil {
				cancel(err)
				break
			}
			last = b.recs[len(b.recs)-1].Position
			if time.Since(progress) > 2*time.Second {
				progress = time.Now()
				p.logger.Info("projections catching up", "position", last.Commit, "head", p.target.Commit, "events", p.events.Load(), "cases", p.Len())
			}
		}
		b.reset()
		free <- b // never blocks
	}
	return last
}

// applyBatch applies the events of a decoded batch under one lock.
func (p *Projector) applyBatch(ctx context.Context, b *batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range b.recs {
		r := &b.recs[i]
		if p.OnErased != nil && isErasure(r) {
			p.mu.Unlock()
			err := p.erasing(ctx, r)
			p.mu.Lock()
			if err != nil {
				return err
			}
		}
		p.applyLocked(r, &b.evs[i])
	}
	return nil
}

// Garbage collection during catch-up. The catch-up allocates much and keeps
// little, so the collector runs with more headroom (catchUpGCPercent) while it
// lasts, and as before afterwards. Under a soft memory limit
// (debug.SetMemoryLimit, GOMEMLIMIT) the headroom is larger, as the limit
// bounds the heap anyway. Several projectors catching up at once (tests)
// share one raise.
const (
	catchUpGCPercent        = 200
	catchUpGCPercentLimited = 400
)

var gcRaise struct {
	sync.Mutex
	users int
	saved int
}

// raiseGCPercent raises GOGC for a catch-up and returns the function that
// restores it. It never lowers it, nor turns a disabled collector on.
func raiseGCPercent() (restore func()) {
	gcRaise.Lock()
	defer gcRaise.Unlock()
	if gcRaise.users++; gcRaise.users == 1 {
		want := catchUpGCPercent
		if debug.SetMemoryLimit(-1) < math.MaxInt64 {
			want = catchUpGCPercentLimited
		}
		gcRaise.saved = debug.SetGCPercent(want)
		if gcRaise.saved < 0 || gcRaise.saved >= want {
			debug.SetGCPercent(gcRaise.saved)
		}
	}
	return func() {
		gcRaise.Lock()
		defer gcRaise.Unlock()
		if gcRaise.users--; gcRaise.users == 0 {
			debug.SetGCPercent(gcRaise.saved)
		}
	}
}
