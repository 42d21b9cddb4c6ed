package transparency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/liaison-hub/liaison/eventlog"
)

// source reads the leaves of one log for Verify.
type source struct {
	origin string
	// each calls fn with every leaf from index from on (for the case log,
	// the events after position after), in order, until fn returns false.
	// fill appends the leaf's bytes to dst; ref names the event (nil in the
	// access log). It returns the log's error.
	each func(ctx context.Context, from uint64, after eventlog.Position, fn func(fill func(dst []byte) []byte, ref *eventRef) bool) error
}

// journalSource reads the access log's leaves from j. A record whose content
// retention pruned (eventlog.Entry.Pruned) has no bytes to hash: its leaf is
// its stored leaf hash in kv, written as prunedLeaf and the hash, which the
// checkpoints signed before it was pruned commit to. A pruned record whose
// leaf hash is not stored cannot be read back.
func journalSource(j eventlog.Journal, kv eventlog.KV) source {
	return source{origin: AccessOrigin, each: func(ctx context.Context, from uint64, _ eventlog.Position, fn func(func([]byte) []byte, *eventRef) bool) error {
		for e, err := range j.ReadRecords(ctx, from) {
			if err != nil {
				return err
			}
			fill := func(dst []byte) []byte { return append(dst, e.Data...) }
			if e.Pruned {
				h, ok, err := kv.Get(ctx, nodeKey(treeAccess, compact.NewNodeID(0, e.Index)))
				if err != nil {
					return err
				}
				if !ok || len(h) != hashSize {
					return fmt.Errorf("%w: access record %d is pruned and its leaf hash is not stored", eventlog.ErrCorrupt, e.Index)
				}
				fill = func(dst []byte) []byte {
					dst[len(dst)-1] = prunedLeaf
					return append(dst, h...)
				}
			}
			if !fn(fill, nil) {
				return nil
			}
		}
		return nil
	}}
}

// prunedLeaf, in place of the RFC 6962 leaf prefix (0) in a verifyBatch's
// buffer, marks a leaf given by its hash (the 32 bytes after it): an access
// record pruned by retention (journalSource).
const prunedLeaf = 0xff

// leafHash returns the hash of a leaf as a verifyBatch's buffer holds it:
// the leaf prefix and the leaf's bytes, or prunedLeaf and its hash.
func leafHash(b []byte) [sha256.Size]byte {
	if len(b) == 1+sha256.Size && b[0] == prunedLeaf {
		return [sha256.Size]byte(b[1:])
	}
	return sha256.Sum256(b)
}

func eventSource(l eventlog.Log) source {
	return source{origin: CaseOrigin, each: func(ctx context.Context, _ uint64, after eventlog.Position, fn func(func([]byte) []byte, *eventRef) bool) error {
		for r, err := range l.ReadAll(ctx, after) {
			if err != nil {
				return err
			}
			ref := eventRef{r.Position, r.Stream, r.Version}
			if !fn(func(dst []byte) []byte { return AppendEventLeaf(dst, &r) }, &ref) {
				return nil
			}
		}
		return nil
	}}
}

// eventRef is where an event of the case log is.
type eventRef struct {
	pos     eventlog.Position
	stream  string
	version uint64
}

// leafName names leaf i of a log: an access record, or an event with its
// place when ref is known.
func leafName(origin string, i uint64, ref *eventRef) string {
	if origin == AccessOrigin {
		return "access record " + strconv.FormatUint(i, 10)
	}
	name := "case-log event " + strconv.FormatUint(i, 10)
	if ref != nil {
		name += fmt.Sprintf(" (position %d, case %s, version %d)", ref.pos.Commit, ref.stream, ref.version)
	}
	return name
}

// verifyBatch is a run of consecutive leaves, read in order and hashed by a
// worker.
type verifyBatch struct {
	begin uint64
	// buf holds each leaf preceded by the RFC 6962 leaf prefix (0); ends[i]
	// is where leaf begin+i ends.
	buf  []byte
	ends []int
	// events are the case log's events (nil for the access log).
	events []eventRef
	// tail is set when no checkpoint covers the batch: its leaves are then
	// compared with the stored leaf hashes, the only evidence there is.
	tail bool
	// err is the read error after the leaves, as evidence (a *TamperError)
	// or not.
	err error

	done chan struct{}
	rng  *compact.Range
	bad  *TamperError
}

func (b *verifyBatch) ref(i uint64) *eventRef {
	if b.events == nil {
		return nil
	}
	return &b.events[i-b.begin]
}

// batcher cuts the leaves it is given into batches, ending one at every
// checkpoint size, and hands them on in order.
type batcher struct {
	origin string
	cuts   []uint64 // checkpoint sizes still ahead, ascending
	next   uint64   // index of the next leaf
	last   eventlog.Position
	cur    *verifyBatch
	out    func(*verifyBatch) bool
}

const verifyBatchLeaves = 2048

// leaf adds the next leaf, written by fill into the batch's buffer, and the
// event it stands for, if any. It returns false when the verification
// stopped.
func (b *batcher) leaf(fill func([]byte) []byte, ref *eventRef) bool {
	if b.cur == nil {
		b.cur = &verifyBatch{begin: b.next, buf: make([]byte, 0, 512*verifyBatchLeaves), ends: make([]int, 0, verifyBatchLeaves)}
	}
	c := b.cur
	c.buf = fill(append(c.buf, 0))
	c.ends = append(c.ends, len(c.buf))
	if ref != nil {
		c.events = append(c.events, *ref)
		b.last = ref.pos
	}
	b.next++
	for len(b.cuts) > 0 && b.cuts[0] < b.next {
		b.cuts = b.cuts[1:]
	}
	if len(c.ends) == verifyBatchLeaves || len(b.cuts) > 0 && b.cuts[0] == b.next {
		return b.flush(nil)
	}
	return true
}

// flush hands on the current batch, with err after its leaves.
func (b *batcher) flush(err error) bool {
	c := b.cur
	b.cur = nil
	if c == nil {
		if err == nil {
			return true
		}
		c = &verifyBatch{begin: b.next}
	}
	c.tail = len(b.cuts) == 0
	c.err = err
	return b.out(c)
}

// read reads the whole log into batches; an error reading a leaf is evidence
// against it, unless the verification itself ended.
func (b *batcher) read(ctx context.Context, src source) error {
	err := guard(func() error { return src.each(ctx, 0, eventlog.Position{}, b.leaf) }, func(p error) error { return p })
	if err == nil || ctx.Err() != nil || errors.Is(err, eventlog.ErrClosed) {
		return err
	}
	what := leafName(src.origin, b.next, nil)
	if src.origin == CaseOrigin {
		what += fmt.Sprintf(" (the event after position %d)", b.last.Commit)
	}
	return &TamperError{Origin: src.origin, Index: b.next, What: what, Reason: "cannot be read back: " + firstLine(err)}
}

// hashBatch hashes a batch's leaves and builds its compact range; in the tail
// it compares them with the stored leaf hashes.
func hashBatch(ctx context.Context, kv eventlog.KV, tree byte, origin string, b *verifyBatch) {
	hashes := make([][sha256.Size]byte, len(b.ends))
	start := 0
	for i, end := range b.ends {
		hashes[i] = leafHash(b.buf[start:end])
		start = end
	}
	b.rng = factory.NewEmptyRange(b.begin)
	for i := range hashes {
		b.rng.Append(hashes[i][:], nil)
	}
	if !b.tail || len(hashes) == 0 {
		return
	}
	// The stored leaves are derived data: if they cannot be read, nothing
	// is known against the records.
	guard(func() error {
		prefix := []byte{'T', tree, kindNode, 0}
		for p, err := range kv.Scan(ctx, prefix, nodeKey(tree, compact.NewNodeID(0, b.begin))) {
			if err != nil || len(p.Key) != len(prefix)+8 {
				return nil
			}
			i := binary.BigEndian.Uint64(p.Key[len(prefix):])
			if i >= b.begin+uint64(len(hashes)) {
				return nil
			}
			if h := hashes[i-b.begin]; !bytes.Equal(p.Value, h[:]) {
				b.bad = mismatch(origin, i, b.ref(i))
				return nil
			}
		}
		return nil
	}, func(error) error { return nil })
}

func mismatch(origin string, i uint64, ref *eventRef) *TamperError {
	return &TamperError{Origin: origin, Index: i, What: leafName(origin, i, ref),
		Reason: "stored bytes do not match the tree (its leaf hash was taken when it was appended)"}
}

// locate names the first leaf of [from, to) whose hash differs from the
// stored leaf hash, re-reading the log from leaf from (after position after);
// nil when there is none or the log cannot be read again.
func locate(ctx context.Context, kv eventlog.KV, tree byte, src source, from, to uint64, after eventlog.Position) *TamperError {
	var bad *TamperError
	i := from
	var buf []byte
	guard(func() error {
		return src.each(ctx, from, after, func(fill func([]byte) []byte, ref *eventRef) bool {
			if i >= to {
				return false
			}
			buf = fill(append(buf[:0], 0))
			h := leafHash(buf)
			stored, ok, err := kv.Get(ctx, nodeKey(tree, compact.NewNodeID(0, i)))
			if err == nil && ok && !bytes.Equal(stored, h[:]) {
				bad = mismatch(src.origin, i, ref)
				return false
			}
			i++
			return true
		})
	}, func(error) error { return nil })
	return bad
}

// Guard runs f, which reads a store, and returns its error; when the store
// panics with an error on corrupt data (Pebble reports on-disk corruption
// through its logger's Fatalf, which the embedded store turns into a panic),
// Guard returns a *TamperError naming what instead. Other panics go on.
func Guard(what string, f func() error) error {
	return guard(f, func(p error) error {
		return &TamperError{What: what, Reason: "cannot be read back: " + firstLine(p)}
	})
}

// guard runs f and returns its error, or onPanic(p) when f panics with an
// error p that is not a runtime error (see Guard). Other panics go on.
func guard(f func() error, onPanic func(error) error) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		var rerr runtime.Error
		perr, ok := p.(error)
		if !ok || errors.As(perr, &rerr) {
			panic(p)
		}
		err = onPanic(perr)
	}()
	return f()
}

// firstLine returns the first line of err's text, at most 300 bytes of it
// (Pebble's corruption reports carry stack traces).
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
