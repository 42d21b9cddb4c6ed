package accesslog

import (
	"context"
	"errors"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// DefaultWait is how long a query or a proof waits, by default, for the
// access log's tree and indexes to take in records already appended.
const DefaultWait = 2 * time.Second

// Service answers the oversight body's questions about the access log: the
// queries (Query) and the tamper evidence (Checkpoint, Inclusion,
// Consistency). Its method set is hub.AuditLog's.
type Service struct {
	log   *Log
	kv    eventlog.KV
	trees *transparency.Trees
	tree  *transparency.Tree
	// Wait bounds how long a call waits for the tree and the indexes to take
	// in the records appended before it (DefaultWait).
	Wait time.Duration
}

// NewService returns the audit service of the access log l, whose tree trees
// keeps and whose query index (QueryIndex) the journal's follower that trees
// runs keeps in kv, and has l wake that follower after every append.
func NewService(l *Log, kv eventlog.KV, trees *transparency.Trees) *Service {
	l.OnAppend(trees.NotifyAccess)
	return &Service{log: l, kv: kv, trees: trees, tree: trees.Access, Wait: DefaultWait}
}

// CheckpointView is a checkpoint as the API shows it.
type CheckpointView struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	// RootHash is base64-encoded in JSON, as are all hashes below.
	RootHash []byte `json:"root_hash"`
	Note     string `json:"note"`
	// VerifierKey is the note verifier key that checks Note's signature;
	// VerifierKeys are every key of the hub's checkpoints, those of its
	// earlier keys included (docs/operations.md, "Rotating the checkpoint
	// key"), the current one last.
	VerifierKey  string   `json:"verifier_key"`
	VerifierKeys []string `json:"verifier_keys"`
	// Witnesses are what the hub knows of each witness that cosigns the
	// access log's checkpoints (docs/audit.md): Note carries every
	// cosignature stored for this checkpoint after the hub's signature.
	Witnesses []transparency.WitnessState `json:"witnesses,omitempty"`
}

// InclusionView is an inclusion proof as the API shows it.
type InclusionView struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	RootHash []byte   `json:"root_hash"`
	LeafHash []byte   `json:"leaf_hash"`
	Hashes   [][]byte `json:"hashes"`
}

// ConsistencyView is a consistency proof as the API shows it.
type ConsistencyView struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// Checkpoint returns the latest signed checkpoint of the access log as a
// CheckpointView (one is signed now if there is none yet). It returns an
// internal error when it cannot be read or stored.
func (s *Service) Checkpoint(ctx context.Context) (CheckpointView, error) {
	return s.checkpoint(ctx, s.tree)
}

// CaseCheckpoint returns the latest signed checkpoint of the case log, like
// Checkpoint.
func (s *Service) CaseCheckpoint(ctx context.Context) (CheckpointView, error) {
	return s.checkpoint(ctx, s.trees.Cases)
}

func (s *Service) checkpoint(ctx context.Context, t *transparency.Tree) (CheckpointView, error) {
	cp, witnesses, err := s.trees.Witnessed(ctx, t)
	if err != nil {
		return CheckpointView{}, domain.Internal(err)
	}
	keys := s.trees.VerifierKeys()
	_, by, err := transparency.OpenCheckpointAny(cp.Note, keys)
	if err != nil {
		return CheckpointView{}, domain.Internal(err)
	}
	return CheckpointView{Origin: cp.Origin, Size: cp.Size, RootHash: cp.Root, Note: string(cp.Note), VerifierKey: by, VerifierKeys: keys, Witnesses: witnesses}, nil
}

// Inclusion returns the proof, as an InclusionView, that record index is leaf
// index of the access log's tree of size size. A size the tree has not reached
// yet but the log has is waited for (Wait). It returns a KindInvalid
// *domain.Error naming the field unless index < size <= the tree's size, and an
// internal error when the tree cannot be read.
func (s *Service) Inclusion(ctx context.Context, index, size uint64) (InclusionView, error) {
	if err := s.await(ctx, size, "size"); err != nil {
		return InclusionView{}, err
	}
	hashes, err := s.tree.Inclusion(ctx, index, size)
	if err != nil {
		return InclusionView{}, proofError(err)
	}
	root, err := s.tree.Root(ctx, size)
	if err != nil {
		return InclusionView{}, proofError(err)
	}
	leaf, err := s.tree.LeafHash(ctx, index)
	if err != nil {
		return InclusionView{}, proofError(err)
	}
	return InclusionView{Index: index, Size: size, RootHash: root, LeafHash: leaf, Hashes: hashes}, nil
}

// Consistency returns the proof, as a ConsistencyView, that the access log's
// tree of size from is a prefix of its tree of size to. It waits and fails
// like Inclusion, with from <= to <= the tree's size.
func (s *Service) Consistency(ctx context.Context, from, to uint64) (ConsistencyView, error) {
	if err := s.await(ctx, to, "to"); err != nil {
		return ConsistencyView{}, err
	}
	hashes, err := s.tree.Consistency(ctx, from, to)
	if err != nil {
		return ConsistencyView{}, proofError(err)
	}
	return ConsistencyView{From: from, To: to, Hashes: hashes}, nil
}

// await waits for the tree to reach size, if the log holds that many records.
func (s *Service) await(ctx context.Context, size uint64, field string) error {
	if size <= s.tree.Size() {
		return nil
	}
	n, err := s.log.Len(ctx)
	if err != nil {
		return domain.Internal(err)
	}
	if size > n || !s.tree.WaitSize(ctx, size, s.Wait) {
		return domain.Invalid("tree size out of range", domain.FieldError{Field: field, Message: "exceeds the size of the access log's tree"})
	}
	return nil
}

func proofError(err error) error {
	var re *transparency.RangeError
	if errors.As(err, &re) {
		return domain.Invalid("proof arguments out of range", domain.FieldError{Field: re.Field, Message: re.Message})
	}
	return domain.Internal(err)
}
