package transparency

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/follow"
)

// Checkpoint and follower defaults of Config.
const (
	DefaultEvery    = 1000
	DefaultInterval = 10 * time.Second
	DefaultPoll     = time.Second
)

// batchLeaves bounds the events the case follower writes in one KV batch.
const batchLeaves = 1024

// Config configures Open. KV, Journal, Events and Key are required.
type Config struct {
	// KV stores the tree nodes, the followers' state and the checkpoints.
	KV eventlog.KV
	// Journal is the access log, Events the case log.
	Journal eventlog.Journal
	Events  eventlog.Log
	// Key signs the checkpoints (LoadOrCreateKey).
	Key *Key
	// JournalConsumers are what else is derived from Journal beside the
	// access tree: the journal's follower gives each batch of records to the
	// tree and to them, and stores all their KV writes in one batch
	// (eventlog/follow). The hub's is the query index, accesslog.QueryIndex.
	JournalConsumers []follow.Consumer
	// A checkpoint is written when Every leaves (DefaultEvery) or Interval
	// (DefaultInterval) have passed since the last one and the size changed,
	// and at Close.
	Every    uint64
	Interval time.Duration
	// Poll is how often the access follower looks for records appended by
	// another hub sharing the journal (DefaultPoll); records appended in this
	// process wake it through NotifyAccess.
	Poll   time.Duration
	Clock  func() time.Time
	Logger *slog.Logger
}

// Trees keeps the Merkle trees of the access log and the case log: one
// follower per log takes in new leaves in order, and checkpoints are signed as
// configured. The access log's follower also feeds Config.JournalConsumers.
type Trees struct {
	// Access is the tree of the access log, Cases the tree of the case log.
	Access, Cases *Tree

	cfg Config
	key atomic.Pointer[Key] // signs both trees' checkpoints
	// access follows the journal, for Access and cfg.JournalConsumers.
	access *follow.Follower
	// pos is the position of the last event in the case tree; stream and
	// version name it. Owned by the case follower.
	pos     eventlog.Position
	stream  string
	version uint64
	// witnesses cosign the access log's checkpoints (SetWitnesses); nil
	// when there are none.
	witnesses *witnesses
}

// Open loads both trees from cfg.KV and checks each one's last leaf against its
// log: a tree whose stored nodes are missing or do not match is rebuilt from
// the log by the followers (Run). A latest checkpoint that does not verify
// with cfg.Key is logged as an error. It returns the KV's or a log's error.
func Open(ctx context.Context, cfg Config) (*Trees, error) {
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Key.Verifiers) == 0 {
		k := *cfg.Key
		k.Verifiers = []string{k.VerifierKey}
		cfg.Key = &k
	}
	t := &Trees{cfg: cfg}
	t.key.Store(cfg.Key)
	t.Access = newTree(cfg.KV, treeAccess, AccessOrigin, &t.key, cfg.Clock, cfg.Logger)
	t.Cases = newTree(cfg.KV, treeCases, CaseOrigin, &t.key, cfg.Clock, cfg.Logger)
	consumers := append([]follow.Consumer{&accessTree{trees: t}}, cfg.JournalConsumers...)
	t.access = follow.New(cfg.KV, cfg.Journal, treeKey(treeAccess, kindState), consumers...)
	for _, tr := range []*Tree{t.Access, t.Cases} {
		if err := tr.loadCheckpoints(ctx); err != nil {
			return nil, err
		}
	}
	if err := t.loadAccess(ctx); err != nil {
		return nil, err
	}
	if err := t.loadCases(ctx); err != nil {
		return nil, err
	}
	cfg.Logger.Info("transparency trees opened", "access_log", t.Access.Size(), "case_log", t.Cases.Size(),
		"verifier_key", cfg.Key.VerifierKey)
	return t, nil
}

// loadAccess loads the access tree at the size its follower's state names
// and checks its last leaf against the journal, restarting the follower (and
// so the tree and the other consumers) when they differ.
func (t *Trees) loadAccess(ctx context.Context) error {
	size, ok, err := t.access.Load(ctx)
	if err == nil && ok {
		ok, err = t.Access.load(ctx, size)
	}
	if err != nil {
		return err
	}
	if !ok {
		return t.access.Restart(ctx)
	}
	if size == 0 {
		return nil
	}
	for e, err := range t.cfg.Journal.ReadRecords(ctx, size-1) {
		if err != nil && !errors.Is(err, eventlog.ErrCorrupt) {
			return err
		}
		ok = err == nil && e.Index == size-1 && t.frontierIs(ctx, t.Access, hasher.HashLeaf(e.Data))
		break
	}
	if !ok {
		t.cfg.Logger.Warn("access log tree does not match the access log; rebuilding it", "size", size)
		return t.access.Restart(ctx)
	}
	return nil
}

// accessTree is the access tree as a consumer of the journal's follower.
type accessTree struct {
	trees  *Trees
	leaves [][]byte
	grown  *compact.Range // the tree with the last batch, once stored
}

// Append appends the writes of the nodes that batch's records complete.
func (a *accessTree) Append(ops []eventlog.KVOp, batch []eventlog.Entry) ([]eventlog.KVOp, error) {
	a.leaves = a.leaves[:0]
	for _, e := range batch {
		a.leaves = append(a.leaves, hasher.HashLeaf(e.Data))
	}
	var err error
	a.grown, ops, err = a.trees.Access.grow(a.leaves, ops)
	if err != nil {
		return ops, fmt.Errorf("transparency: grow the %s tree: %w", AccessOrigin, err)
	}
	return ops, nil
}

// Committed grows the tree by the batch stored, and checks it against the
// latest checkpoint.
func (a *accessTree) Committed(ctx context.Context) {
	a.trees.Access.set(a.grown)
	a.grown = nil
	a.trees.checkLatest(ctx, a.trees.Access)
}

// Restart empties the tree (in memory: the stored nodes are overwritten as
// it grows again).
func (a *accessTree) Restart(context.Context, eventlog.KV) error {
	a.trees.Access.reset()
	return nil
}

// loadCases loads the case tree and checks its last leaf against the event
// the follower state names, resetting the tree when they differ.
func (t *Trees) loadCases(ctx context.Context) error {
	state, found, err := t.cfg.KV.Get(ctx, treeKey(treeCases, kindState))
	loaded := false
	if err == nil && found && len(state) >= 8 {
		loaded, err = t.Cases.load(ctx, binary.BigEndian.Uint64(state))
	}
	if err != nil || !loaded {
		t.Cases.reset()
		return err
	}
	ok := false
	if len(state) > 32 {
		pos := eventlog.Position{Commit: binary.BigEndian.Uint64(state[8:]), Prepare: binary.BigEndian.Uint64(state[16:])}
		version, stream := binary.BigEndian.Uint64(state[24:]), string(state[32:])
		for r, err := range t.cfg.Events.ReadStream(ctx, stream, version) {
			if err != nil && !errors.Is(err, eventlog.ErrCorrupt) {
				return err
			}
			ok = err == nil && r.Position == pos && r.Version == version &&
				t.frontierIs(ctx, t.Cases, hasher.HashLeaf(EventLeaf(&r)))
			break
		}
		t.pos, t.stream, t.version = pos, stream, version
	}
	if !ok {
		t.cfg.Logger.Warn("case log tree does not match the case log; rebuilding it", "size", t.Cases.Size())
		t.Cases.reset()
		t.pos, t.stream, t.version = eventlog.Position{}, "", 0
	}
	return nil
}

// frontierIs reports whether the tree's last stored leaf is hash.
func (t *Trees) frontierIs(ctx context.Context, tr *Tree, hash []byte) bool {
	h, err := tr.LeafHash(ctx, tr.Size()-1)
	return err == nil && bytes.Equal(h, hash)
}

// VerifierKey returns the note verifier key of the checkpoints signed now.
func (t *Trees) VerifierKey() string { return t.key.Load().VerifierKey }

// VerifierKeys returns every verifier key of the hub's checkpoints, those of
// its keys before a rotation included, the current one last.
func (t *Trees) VerifierKeys() []string { return slices.Clone(t.key.Load().Verifiers) }

// SetKey makes k sign every checkpoint from now on (a rotation: RotateKey)
// and signs with it, at once, a checkpoint of each tree, of its size now even
// when no record came since the latest one: the newest checkpoint a verifier
// or a witness sees is then the new key's, whether or not the log grows
// before the next one is due. k's Verifiers must list the keys of the
// checkpoints signed so far; SetKey returns an error, and changes nothing,
// when they do not. The KV's error leaves k signing, with the old key's
// checkpoints the newest until the next.
func (t *Trees) SetKey(ctx context.Context, k *Key) error {
	old := t.key.Load()
	for _, v := range old.Verifiers {
		if !slices.Contains(k.Verifiers, v) {
			return fmt.Errorf("transparency: the new checkpoint key's verifiers do not list %s, which signed checkpoints", v)
		}
	}
	t.key.Store(k)
	t.cfg.Logger.Info("checkpoint key rotated", "verifier_key", k.VerifierKey, "verifier_keys", len(k.Verifiers))
	for _, tr := range []*Tree{t.Access, t.Cases} {
		if err := tr.sign(ctx); err != nil {
			return err
		}
	}
	return nil
}

// NotifyAccess tells the access follower that records were appended. It never
// blocks.
func (t *Trees) NotifyAccess() { t.access.Notify() }

// Run follows both logs, taking new records into the access tree and
// Config.JournalConsumers, new events into the case tree, and writing
// checkpoints, until ctx is done (then it returns nil). It returns the
// first error of a log or of the KV. Run must not be called twice at once.
func (t *Trees) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- t.access.Run(ctx, min(t.cfg.Poll, t.cfg.Interval), t.checkpointAccess) }()
	go func() { errc <- t.followCases(ctx) }()
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil && ctx.Err() == nil {
			first = err
			cancel()
		}
	}
	return first
}

// Close takes in what the logs hold beyond the trees (and
// Config.JournalConsumers) and writes a final checkpoint of each tree whose
// size changed since its latest. Run must have returned. It returns ctx.Err()
// when ctx ends first, or a log's or the KV's error.
func (t *Trees) Close(ctx context.Context) error {
	aerr := t.access.CatchUp(ctx)
	cerr := t.catchUpCases(ctx)
	for _, tr := range []*Tree{t.Access, t.Cases} {
		if err := tr.checkpoint(ctx, 0, 0, true); err != nil {
			return errors.Join(aerr, cerr, err)
		}
	}
	return errors.Join(aerr, cerr)
}

// checkpointAccess checkpoints the access tree as configured; the access
// follower calls it after each catch-up.
func (t *Trees) checkpointAccess(ctx context.Context) error {
	return t.Access.checkpoint(ctx, t.cfg.Every, t.cfg.Interval, false)
}

// checkLatest logs an error when the tree has reached its latest checkpoint's
// size but not its root: a record or event covered by a signed checkpoint has
// changed.
func (t *Trees) checkLatest(ctx context.Context, tr *Tree) {
	if tr.checked {
		return
	}
	ok, cp, err := tr.matchesLatest(ctx)
	if err != nil || cp.Seq != 0 && cp.Size > tr.Size() {
		return // not there yet
	}
	tr.checked = true
	if !ok {
		t.cfg.Logger.Error("TAMPER EVIDENCE: the log no longer matches its latest signed checkpoint; run liaison audit verify",
			"origin", tr.origin, "checkpoint", cp.Seq, "size", cp.Size)
	}
}

// leaf is one event taken in by the case follower.
type leaf struct {
	hash    []byte
	pos     eventlog.Position
	stream  string
	version uint64
}

func (t *Trees) followCases(ctx context.Context) error {
	ch := make(chan leaf, batchLeaves)
	errc := make(chan error, 1)
	go func() {
		errc <- t.cfg.Events.Subscribe(ctx, t.pos, func(r eventlog.Recorded) error {
			select {
			case ch <- leaf{hasher.HashLeaf(EventLeaf(&r)), r.Position, r.Stream, r.Version}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	batch := make([]leaf, 0, batchLeaves)
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("transparency: follow case log: %w", err)
		case <-tick.C:
		case l := <-ch:
			batch = append(batch[:0], l)
		drain:
			for len(batch) < batchLeaves {
				select {
				case l := <-ch:
					batch = append(batch, l)
				default:
					break drain
				}
			}
			if err := t.appendCases(ctx, batch); err != nil {
				return err
			}
		}
		if err := t.Cases.checkpoint(ctx, t.cfg.Every, t.cfg.Interval, false); err != nil {
			return err
		}
	}
}

// catchUpCases takes in the events beyond the tree, up to the log's head.
func (t *Trees) catchUpCases(ctx context.Context) error {
	batch := make([]leaf, 0, 256)
	for r, err := range t.cfg.Events.ReadAll(ctx, t.pos) {
		if err != nil {
			return fmt.Errorf("transparency: read case log: %w", err)
		}
		batch = append(batch, leaf{hasher.HashLeaf(EventLeaf(&r)), r.Position, r.Stream, r.Version})
		if len(batch) == batchLeaves {
			if err := t.appendCases(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return t.appendCases(ctx, batch)
}

func (t *Trees) appendCases(ctx context.Context, batch []leaf) error {
	if len(batch) == 0 {
		return nil
	}
	hashes := make([][]byte, len(batch))
	for i, l := range batch {
		hashes[i] = l.hash
	}
	last := batch[len(batch)-1]
	state := make([]byte, 32, 32+len(last.stream))
	binary.BigEndian.PutUint64(state, t.Cases.Size()+uint64(len(batch)))
	binary.BigEndian.PutUint64(state[8:], last.pos.Commit)
	binary.BigEndian.PutUint64(state[16:], last.pos.Prepare)
	binary.BigEndian.PutUint64(state[24:], last.version)
	state = append(state, last.stream...)
	r, ops, err := t.Cases.grow(hashes, nil)
	if err != nil {
		return err
	}
	ops = append(ops, eventlog.KVOp{Key: treeKey(treeCases, kindState), Value: state})
	if err := t.cfg.KV.Write(ctx, false, ops...); err != nil {
		return fmt.Errorf("transparency: write %s nodes: %w", CaseOrigin, err)
	}
	t.Cases.set(r)
	t.pos, t.stream, t.version = last.pos, last.stream, last.version
	t.checkLatest(ctx, t.Cases)
	return nil
}

// Checkpoint signs, now, a checkpoint of each tree whose size changed since
// its latest one (a backup ends at them). It returns the KV's error.
func (t *Trees) Checkpoint(ctx context.Context) error {
	for _, tr := range []*Tree{t.Access, t.Cases} {
		if err := tr.checkpoint(ctx, 0, 0, true); err != nil {
			return err
		}
	}
	return nil
}
