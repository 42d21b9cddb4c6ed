// Package transparency makes the hub's logs tamper-evident: an RFC 6962
// Merkle tree over the access log (leaf i = the stored bytes of access record
// i) and another over the case log (leaf i = EventLeaf of the i-th event in
// global order), signed checkpoints of both (C2SP tlog-checkpoint, Ed25519
// signed notes), inclusion and consistency proofs, and an offline Verify that
// recomputes both trees from the stored records.
//
// The trees are projections: the records and events are the source of truth,
// and tree nodes are derived data kept in an eventlog.KV, written without sync
// and rebuilt from the logs when they do not match. Only checkpoints are
// written durably, and every one is kept. Of the nodes, only those of the
// tile levels are stored — levels 0, 8, 16…, the hashes the tlog-tiles
// serve (tiles.go) — about one hash a leaf: a node between them is computed
// when needed from the at most 128 stored nodes below it. (Stores written
// before issue 19 also hold the levels between; they are not read.) Key
// schema in the KV:
//
//	'T' tree 'n' level (1) index (8, big-endian) → node hash (32), level a multiple of 8
//	'T' tree 's'                                 → follower state (size, …)
//	'T' tree 'c' seq (8, big-endian)             → signed checkpoint note
//	'T' tree 'l'                                 → seq of the latest checkpoint
//
// where tree is 'a' (access log) or 'c' (case log). The schema is persisted:
// extend it, never renumber.
//
// The access tree is one consumer of the access journal's follower
// (eventlog/follow), which keeps its state under 'T' 'a' 's' (the number of
// records taken in, 8 bytes) and stores the other consumers' keys in the same
// batches as the tree's nodes: Config.JournalConsumers, in the hub the access
// log's query index (accesslog.QueryIndex). The case tree has a follower of
// its own, whose state is the size, then the position, version and stream of
// the last event taken in.
package transparency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/liaison-hub/liaison/eventlog"
)

// Origins of the two trees, the first line of their checkpoints.
const (
	AccessOrigin = "liaison/access-log"
	CaseOrigin   = "liaison/case-log"
)

// Tree ids and key kinds (see the package comment).
const (
	treeAccess = 'a'
	treeCases  = 'c'

	kindNode       = 'n'
	kindState      = 's'
	kindCheckpoint = 'c'
	kindLatest     = 'l'

	hashSize = 32
)

var (
	hasher  = treeHasher{rfc6962.DefaultHasher}
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

func treeKey(tree, kind byte) []byte { return []byte{'T', tree, kind} }

func nodeKey(tree byte, id compact.NodeID) []byte {
	k := make([]byte, 0, 12)
	k = append(k, 'T', tree, kindNode, byte(id.Level))
	return binary.BigEndian.AppendUint64(k, id.Index)
}

// TableSpan splits the KV keyspace for the store (embedded.Options.KVSpans):
// it returns the end (exclusive) of the span that key starts. The trees'
// keys are appended in key order within each tree's kind and, for nodes,
// within each level ('T' tree 'n' level); each of these is a span, so that a
// flush writes every level's new nodes to a table of its own, which a
// compaction merges with the level's last table alone, rather than
// rewriting all the leaves stored below the flush's new nodes of higher
// levels. Every key before the trees' is one span (nil: the whole KV
// keyspace after them is another).
//
// In the hub, on a copy of a data directory of 350,000 access records under
// wrk's section reads (BENCHMARKS.md, "Tables apart for the tree's levels"),
// Pebble's compactions wrote 49 MB of tables in 15 s instead of 172 MB, and
// one identity's reads ran 1.08 times as fast (median of 4 alternated pairs).
func TableSpan(key []byte) []byte {
	switch {
	case len(key) == 0 || key[0] < 'T':
		return []byte{'T'}
	case key[0] > 'T':
		return nil
	}
	n := min(len(key), 3) // 'T' tree kind
	if n == 3 && key[2] == kindNode && len(key) > 3 {
		n = 4 // and the level
	}
	for ; n > 0; n-- { // the first key after every key with that prefix
		if key[n-1] != 0xff {
			end := bytes.Clone(key[:n])
			end[n-1]++
			return end
		}
	}
	return nil
}

func checkpointKey(tree byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(treeKey(tree, kindCheckpoint), seq)
}

// RangeError reports a proof argument out of range: Field names the argument.
type RangeError struct {
	Field   string
	Message string
}

// Error returns the field and what is wrong with it.
func (e *RangeError) Error() string { return e.Field + " " + e.Message }

// errMissingNode is wrapped when a node the tree should hold is not stored.
var errMissingNode = errors.New("transparency: tree node missing")

// Tree is one Merkle tree whose nodes are stored in a KV. A single follower
// appends to it; its read methods are safe for concurrent use.
type Tree struct {
	kv     eventlog.KV
	id     byte
	origin string
	key    *atomic.Pointer[Key] // shared by a hub's trees; Trees.SetKey replaces it
	clock  func() time.Time
	log    *slog.Logger

	mu   sync.RWMutex // guards rng, which append replaces
	rng  *compact.Range
	size atomic.Uint64

	gmu   sync.Mutex
	grown chan struct{} // closed and replaced when size grows

	cmu    sync.Mutex // guards the checkpoint history below
	latest Checkpoint // Seq 0 when there is none
	lastAt time.Time  // when latest was written (or the tree opened)

	// checked is set by the follower once the tree has been found to match
	// the latest checkpoint found at Open.
	checked bool
}

func newTree(kv eventlog.KV, id byte, origin string, key *atomic.Pointer[Key], clock func() time.Time, log *slog.Logger) *Tree {
	return &Tree{kv: kv, id: id, origin: origin, key: key, clock: clock, log: log,
		rng: factory.NewEmptyRange(0), grown: make(chan struct{})}
}

// Origin returns the tree's origin line.
func (t *Tree) Origin() string { return t.origin }

// Size returns the number of leaves the tree holds.
func (t *Tree) Size() uint64 { return t.size.Load() }

// WaitSize waits until the tree holds at least size leaves, for at most d. It
// reports whether it does.
func (t *Tree) WaitSize(ctx context.Context, size uint64, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		t.gmu.Lock()
		grown := t.grown
		t.gmu.Unlock()
		if t.Size() >= size {
			return true
		}
		select {
		case <-grown:
		case <-timer.C:
			return t.Size() >= size
		case <-ctx.Done():
			return false
		}
	}
}

// stored reports whether the node id is one the tree stores: those of the
// tile levels, multiples of TileHeight (see the package comment).
func stored(id compact.NodeID) bool { return id.Level%TileHeight == 0 }

// node returns the hash of a node: stored, or computed from the 2^r stored
// nodes below it at the tile level under it (r < TileHeight). An error wraps
// errMissingNode when a node it needs is not stored.
func (t *Tree) node(ctx context.Context, id compact.NodeID) ([]byte, error) {
	if !stored(id) {
		h, err := t.nodes(ctx, []compact.NodeID{id})
		if err != nil {
			return nil, err
		}
		return h[0], nil
	}
	h, ok, err := t.kv.Get(ctx, nodeKey(t.id, id))
	switch {
	case err != nil:
		return nil, err
	case !ok || len(h) != hashSize:
		return nil, fmt.Errorf("%w: %s level %d index %d", errMissingNode, t.origin, id.Level, id.Index)
	}
	return h, nil
}

// segment is the run of stored nodes of one tile that nodes reads.
type segment struct {
	level uint   // a tile level
	tile  uint64 // the tile's index
}

// nodes returns the hashes of ids, as node does, reading once the stored
// nodes of each tile that the computed ones need (a proof needs a few of
// each tile it crosses).
func (t *Tree) nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	ends := map[segment]uint64{}
	for _, id := range ids {
		if r := id.Level % TileHeight; r != 0 {
			first := id.Index << r
			k := segment{id.Level - r, first / TileWidth}
			ends[k] = max(ends[k], first+1<<r)
		}
	}
	read := make(map[segment][]byte, len(ends))
	for k, end := range ends {
		b, err := t.scanLevel(ctx, k.level, k.tile*TileWidth, end-k.tile*TileWidth)
		if err != nil {
			return nil, err
		}
		read[k] = b
	}
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		r := id.Level % TileHeight
		if r == 0 {
			h, err := t.node(ctx, id)
			if err != nil {
				return nil, err
			}
			hashes[i] = h
			continue
		}
		first := id.Index << r
		k := segment{id.Level - r, first / TileWidth}
		off := (first - k.tile*TileWidth) * hashSize
		hashes[i] = subtreeHash(read[k][off : off+(1<<r)*hashSize])
	}
	return hashes, nil
}

// subtreeHash returns the root of the perfect subtree whose nodes at its
// lowest level are below (32 bytes each, a power of two of them).
func subtreeHash(below []byte) []byte {
	b := slices.Clone(below)
	var in [1 + 2*hashSize]byte
	in[0] = 1 // RFC 6962's prefix of an interior node, as hasher.HashChildren
	for width := len(b) / hashSize; width > 1; width /= 2 {
		for i := range width / 2 {
			copy(in[1:], b[2*i*hashSize:(2*i+2)*hashSize])
			h := sha256.Sum256(in[:])
			copy(b[i*hashSize:], h[:])
		}
	}
	return b[:hashSize:hashSize]
}

// LeafHash returns the stored hash of leaf index. It returns a *RangeError
// when the tree does not hold that leaf.
func (t *Tree) LeafHash(ctx context.Context, index uint64) ([]byte, error) {
	if index >= t.Size() {
		return nil, &RangeError{"index", fmt.Sprintf("must be below the tree size %d", t.Size())}
	}
	return t.node(ctx, compact.NewNodeID(0, index))
}

// Root returns the root hash of the tree's first size leaves (the hash of the
// empty string for size 0). It returns a *RangeError when size exceeds the
// tree's size, and the KV's error when a node cannot be read.
func (t *Tree) Root(ctx context.Context, size uint64) ([]byte, error) {
	t.mu.RLock()
	rng := t.rng
	t.mu.RUnlock()
	switch {
	case size > rng.End():
		return nil, &RangeError{"size", fmt.Sprintf("must not exceed the tree size %d", rng.End())}
	case size == 0:
		return hasher.EmptyRoot(), nil
	case size == rng.End():
		return rng.GetRootHash(nil)
	}
	r, err := t.rangeAt(ctx, size)
	if err != nil {
		return nil, err
	}
	return r.GetRootHash(nil)
}

// rangeAt returns the compact range [0, size) from the stored nodes.
func (t *Tree) rangeAt(ctx context.Context, size uint64) (*compact.Range, error) {
	hashes, err := t.nodes(ctx, compact.RangeNodes(0, size, nil))
	if err != nil {
		return nil, err
	}
	return factory.NewRange(0, size, hashes)
}

// Inclusion returns the RFC 6962 inclusion proof of leaf index in the tree of
// size size. It returns a *RangeError unless index < size <= Size(), and the
// KV's error when a node cannot be read.
func (t *Tree) Inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	if size > t.Size() {
		return nil, &RangeError{"size", fmt.Sprintf("must not exceed the tree size %d", t.Size())}
	}
	if index >= size {
		return nil, &RangeError{"index", "must be below size"}
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return t.rehash(ctx, n)
}

// Consistency returns the RFC 6962 consistency proof between the trees of
// sizes from and to (empty when from is 0 or equal to to). It returns a
// *RangeError unless from <= to <= Size(), and the KV's error when a node
// cannot be read.
func (t *Tree) Consistency(ctx context.Context, from, to uint64) ([][]byte, error) {
	if to > t.Size() {
		return nil, &RangeError{"to", fmt.Sprintf("must not exceed the tree size %d", t.Size())}
	}
	if from > to {
		return nil, &RangeError{"from", "must not exceed to"}
	}
	n, err := proof.Consistency(from, to)
	if err != nil {
		return nil, err
	}
	return t.rehash(ctx, n)
}

func (t *Tree) rehash(ctx context.Context, n proof.Nodes) ([][]byte, error) {
	hashes, err := t.nodes(ctx, n.IDs)
	if err != nil {
		return nil, err
	}
	p, err := n.Rehash(hashes, hasher.HashChildren)
	if p == nil && err == nil {
		p = [][]byte{}
	}
	return p, err
}

// load rebuilds the compact range of the tree's first size leaves from the
// stored nodes. It reports false, and leaves the tree as it was, when the
// nodes are not all there; it returns the KV's error.
func (t *Tree) load(ctx context.Context, size uint64) (bool, error) {
	r, err := t.rangeAt(ctx, size)
	if errors.Is(err, errMissingNode) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	t.set(r)
	return true, nil
}

// reset empties the tree (in memory: the stored nodes are overwritten as it
// grows again).
func (t *Tree) reset() { t.set(factory.NewEmptyRange(0)) }

func (t *Tree) set(r *compact.Range) {
	t.mu.Lock()
	t.rng = r
	t.mu.Unlock()
	t.size.Store(r.End())
	t.gmu.Lock()
	close(t.grown)
	t.grown = make(chan struct{})
	t.gmu.Unlock()
}

// grow returns the tree with leaves (their leaf hashes) appended, and ops
// with a write of every node they complete appended. The tree itself does
// not change: set it to the result once ops are stored, so that it never
// holds a node the KV does not.
func (t *Tree) grow(leaves [][]byte, ops []eventlog.KVOp) (*compact.Range, []eventlog.KVOp, error) {
	t.mu.RLock()
	old := t.rng
	t.mu.RUnlock()
	r, err := factory.NewRange(0, old.End(), append([][]byte(nil), old.Hashes()...))
	if err != nil {
		return nil, ops, err
	}
	ops = slices.Grow(ops, len(leaves)+len(leaves)/TileWidth+1)
	visit := func(id compact.NodeID, hash []byte) {
		if stored(id) {
			ops = append(ops, eventlog.KVOp{Key: nodeKey(t.id, id), Value: hash})
		}
	}
	for _, h := range leaves {
		if err := r.Append(h, visit); err != nil {
			return nil, ops, err
		}
	}
	return r, ops, nil
}

// loadCheckpoints reads the latest stored checkpoint. It returns the KV's
// error, or an error when the history is inconsistent.
func (t *Tree) loadCheckpoints(ctx context.Context) error {
	t.lastAt = t.clock()
	b, ok, err := t.kv.Get(ctx, treeKey(t.id, kindLatest))
	if err != nil || !ok {
		return err
	}
	if len(b) != 8 {
		return fmt.Errorf("transparency: malformed latest %s checkpoint", t.origin)
	}
	seq := binary.BigEndian.Uint64(b)
	msg, ok, err := t.kv.Get(ctx, checkpointKey(t.id, seq))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("transparency: %s checkpoint %d is missing", t.origin, seq)
	}
	cp, _, err := OpenCheckpointAny(msg, t.key.Load().Verifiers)
	if err != nil {
		// Another key, or tampering: the history goes on (and Verify will
		// report it), but nothing is compared with this checkpoint.
		t.log.Error("the latest checkpoint does not verify with the checkpoint keys; run liaison audit verify",
			"origin", t.origin, "checkpoint", seq, "err", err)
		cp = Checkpoint{Origin: t.origin}
		t.checked = true
	}
	cp.Seq = seq
	t.latest = cp
	return nil
}

// Latest returns the tree's latest checkpoint, signing one of the current
// tree first when there is none yet. It returns the KV's error when a new
// checkpoint cannot be stored.
func (t *Tree) Latest(ctx context.Context) (Checkpoint, error) {
	t.cmu.Lock()
	defer t.cmu.Unlock()
	if t.latest.Seq != 0 {
		return t.latest, nil
	}
	return t.checkpointLocked(ctx)
}

// Checkpoints yields the tree's stored checkpoints in order, each opened (its
// signature checked) with the hub's verifier keys. It yields an error, and stops, when
// the KV fails or a checkpoint does not open.
func (t *Tree) Checkpoints(ctx context.Context) iter.Seq2[Checkpoint, error] {
	return func(yield func(Checkpoint, error) bool) {
		for stored, err := range storedCheckpoints(ctx, t.kv, t.id) {
			if err != nil {
				yield(Checkpoint{}, err)
				return
			}
			cp, _, err := OpenCheckpointAny(stored.Note, t.key.Load().Verifiers)
			if err != nil {
				err = fmt.Errorf("transparency: %s checkpoint %d: %w", t.origin, stored.Seq, err)
			}
			cp.Seq = stored.Seq
			if !yield(cp, err) || err != nil {
				return
			}
		}
	}
}

// checkpoint signs and stores, durably, a checkpoint of the current tree if it
// differs in size from the latest one (or there is none yet), and if at least
// every leaves or the interval have passed since the latest, or force is set.
func (t *Tree) checkpoint(ctx context.Context, every uint64, interval time.Duration, force bool) error {
	t.cmu.Lock()
	defer t.cmu.Unlock()
	size := t.Size()
	if t.latest.Seq != 0 && size == t.latest.Size {
		return nil
	}
	grown := size > t.latest.Size && size-t.latest.Size >= every
	if !force && !grown && t.clock().Sub(t.lastAt) < interval {
		return nil
	}
	_, err := t.checkpointLocked(ctx)
	return err
}

// sign signs and stores, durably, a checkpoint of the current tree, even of
// the latest one's size: after a key rotation (Trees.SetKey), the newest
// checkpoint must be the new key's whether or not the tree grew.
func (t *Tree) sign(ctx context.Context) error {
	t.cmu.Lock()
	defer t.cmu.Unlock()
	_, err := t.checkpointLocked(ctx)
	return err
}

func (t *Tree) checkpointLocked(ctx context.Context) (Checkpoint, error) {
	t.mu.RLock()
	rng := t.rng
	t.mu.RUnlock()
	root := hasher.EmptyRoot()
	if rng.End() > 0 {
		var err error
		if root, err = rng.GetRootHash(nil); err != nil {
			return Checkpoint{}, err
		}
	}
	seq := t.latest.Seq + 1
	cp, err := t.key.Load().sign(seq, t.origin, rng.End(), root)
	if err != nil {
		return Checkpoint{}, err
	}
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	if err := t.kv.Write(ctx, true,
		eventlog.KVOp{Key: checkpointKey(t.id, seq), Value: cp.Note},
		eventlog.KVOp{Key: treeKey(t.id, kindLatest), Value: s[:]},
	); err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: store %s checkpoint: %w", t.origin, err)
	}
	t.latest, t.lastAt = cp, t.clock()
	return cp, nil
}

// matchesLatest reports whether the tree, once it holds the latest
// checkpoint's size, has that checkpoint's root; it reports true while the
// tree is smaller.
func (t *Tree) matchesLatest(ctx context.Context) (bool, Checkpoint, error) {
	t.cmu.Lock()
	cp := t.latest
	t.cmu.Unlock()
	if cp.Seq == 0 || cp.Size > t.Size() {
		return true, cp, nil
	}
	root, err := t.Root(ctx, cp.Size)
	if err != nil {
		return false, cp, err
	}
	return bytes.Equal(root, cp.Root), cp, nil
}
