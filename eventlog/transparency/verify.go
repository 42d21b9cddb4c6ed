package transparency

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog"
)

// Sources are what Verify reads: both logs and the KV holding their trees and
// checkpoints.
type Sources struct {
	Journal eventlog.Journal
	Events  eventlog.Log
	KV      eventlog.KV
}

// LogReport is what Verify checked in one log.
type LogReport struct {
	Origin string
	// Leaves is the number of records (events) read and hashed, Bytes their
	// total size as hashed.
	Leaves, Bytes uint64
	// Checkpoints is the number of checkpoints whose signature and root hash
	// were verified; Covered is the largest size among them (the leaves
	// beyond it are not yet covered by a checkpoint).
	Checkpoints int
	Covered     uint64
}

// Report is the outcome of Verify.
type Report struct {
	Access, Cases LogReport
	Elapsed       time.Duration
}

// TamperError is evidence of tampering found by Verify: a record or event that
// is missing, unreadable or not what the tree and the checkpoints say (Index
// is its leaf index and Checkpoint is 0), or a checkpoint that does not verify
// (Checkpoint is its sequence number).
type TamperError struct {
	Origin     string
	Index      uint64
	Checkpoint uint64
	// What names the record, event or checkpoint, Reason says what is wrong.
	What, Reason string
}

// Error names the record, event or checkpoint and says what is wrong.
func (e *TamperError) Error() string { return e.What + ": " + e.Reason }

// Verify recomputes the trees of both logs from every stored record and event
// and checks them against every stored checkpoint, whose signatures it checks
// with the note verifier keys vkeys (a hub's keys across rotations: each
// checkpoint must be signed by one of them; none only when there are no
// checkpoints), and, to name the first bad record, against the stored leaf
// hashes.
//
// It returns the report and nil when both logs are intact; one *TamperError per
// damaged log (joined), naming the first bad record, event or checkpoint; or
// another error (ctx.Err(), eventlog.ErrClosed, a bad vkey) when it could not
// verify. A record or event that cannot be read back is evidence (the store's
// checksums failed, or it is missing), not a failure to verify.
func Verify(ctx context.Context, src Sources, vkeys ...string) (Report, error) {
	start := time.Now()
	var rep Report
	vkeys = slices.DeleteFunc(slices.Clone(vkeys), func(k string) bool { return k == "" })
	for _, vkey := range vkeys {
		if _, err := note.NewVerifier(vkey); err != nil {
			return rep, fmt.Errorf("verifier key: %w", err)
		}
	}
	var errs []error
	var err error
	rep.Access, err = verifyLog(ctx, src.KV, treeAccess, journalSource(src.Journal, src.KV), vkeys)
	errs = append(errs, err)
	rep.Cases, err = verifyLog(ctx, src.KV, treeCases, eventSource(src.Events), vkeys)
	errs = append(errs, err)
	rep.Elapsed = time.Since(start)
	return rep, errors.Join(errs...)
}

// verifyLog checks one log: its checkpoints, then every leaf of src.
//
// A reader fills batches of leaves, cut at every checkpoint size; workers
// hash them and build their compact ranges; the merger (this goroutine)
// joins the ranges in order and compares the root with the checkpoints at
// each cut. A root that does not match is then located: the log is read again
// from the last cut that matched, and the first leaf whose hash differs from
// the stored leaf hash (taken when it was appended) is named. Beyond the last
// checkpoint, the stored leaf hashes are the only evidence, and every leaf is
// compared with them.
func verifyLog(ctx context.Context, kv eventlog.KV, tree byte, src source, vkeys []string) (LogReport, error) {
	origin := src.origin
	rep := LogReport{Origin: origin}
	var cps []Checkpoint
	var cpBad *TamperError
	err := Guard(origin+" checkpoints", func() (err error) {
		cps, cpBad, err = openCheckpoints(ctx, kv, tree, origin, vkeys)
		return err
	})
	if err != nil {
		return rep, err
	}
	bySize := map[uint64][]Checkpoint{}
	var cuts []uint64
	for _, cp := range cps {
		if bySize[cp.Size] == nil {
			cuts = append(cuts, cp.Size)
		}
		bySize[cp.Size] = append(bySize[cp.Size], cp)
	}
	slices.Sort(cuts)

	rctx, cancel := context.WithCancel(ctx)
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *verifyBatch, 2*workers)
	order := make(chan *verifyBatch, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				hashBatch(rctx, kv, tree, origin, b)
				close(b.done)
			}
		}()
	}
	b := &batcher{origin: origin, cuts: cuts, out: func(vb *verifyBatch) bool {
		vb.done = make(chan struct{})
		select {
		case order <- vb:
			work <- vb
			return true
		case <-rctx.Done():
			return false
		}
	}}
	go func() {
		defer close(order)
		defer close(work)
		b.flush(b.read(rctx, src))
	}()
	defer func() {
		cancel() // the reader stops at its next batch
		wg.Wait()
	}()

	var bad *TamperError
	var readErr error
	full := factory.NewEmptyRange(0)
	var at eventlog.Position // position of the last leaf of full (case log)
	good, goodAt := uint64(0), eventlog.Position{}
	for vb := range order {
		if bad != nil || readErr != nil {
			continue // drain
		}
		<-vb.done
		if vb.bad != nil {
			bad = vb.bad
			cancel()
			continue
		}
		if err := full.AppendRange(vb.rng, nil); err != nil {
			return rep, err
		}
		if len(vb.events) > 0 {
			at = vb.events[len(vb.events)-1].pos
		}
		rep.Leaves = full.End()
		rep.Bytes += uint64(len(vb.buf) - len(vb.ends))
		if bad = checkRoots(full, bySize[full.End()], &rep); bad != nil {
			cancel()
			if first := locate(ctx, kv, tree, src, good, full.End(), goodAt); first != nil {
				bad = first
			}
			continue
		}
		if len(bySize[full.End()]) > 0 {
			good, goodAt = full.End(), at
		}
		if vb.err != nil {
			readErr = vb.err
			cancel()
		}
	}
	switch {
	case bad != nil:
	case errors.As(readErr, &bad):
	case readErr != nil:
		return rep, readErr
	default:
		bad = checkTail(ctx, kv, tree, origin, full.End(), cuts)
	}
	var problems []error
	if bad != nil {
		problems = append(problems, bad)
	}
	if cpBad != nil {
		problems = append(problems, cpBad)
	}
	return rep, errors.Join(problems...)
}
