package transparency

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/liaison-hub/liaison/eventlog"
)

// LatestCheckpoints returns the latest stored checkpoint of the access log
// and of the case log in kv, each opened with one of vkeys (a zero
// Checkpoint for a log that has none), as a backup reports where it ends.
// It returns the KV's error, or an error naming a checkpoint that is missing
// or does not verify.
func LatestCheckpoints(ctx context.Context, kv eventlog.KV, vkeys []string) (access, cases Checkpoint, err error) {
	if access, err = latestOf(ctx, kv, treeAccess, AccessOrigin, vkeys); err != nil {
		return access, cases, err
	}
	cases, err = latestOf(ctx, kv, treeCases, CaseOrigin, vkeys)
	return access, cases, err
}

func latestOf(ctx context.Context, kv eventlog.KV, tree byte, origin string, vkeys []string) (Checkpoint, error) {
	b, ok, err := kv.Get(ctx, treeKey(tree, kindLatest))
	if err != nil || !ok {
		return Checkpoint{}, err
	}
	if len(b) != 8 {
		return Checkpoint{}, fmt.Errorf("transparency: malformed latest %s checkpoint", origin)
	}
	seq := binary.BigEndian.Uint64(b)
	msg, ok, err := kv.Get(ctx, checkpointKey(tree, seq))
	if err != nil {
		return Checkpoint{}, err
	}
	if !ok {
		return Checkpoint{}, fmt.Errorf("transparency: %s checkpoint %d is missing", origin, seq)
	}
	cp, _, err := OpenCheckpointAny(msg, vkeys)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: %s checkpoint %d: %w", origin, seq, err)
	}
	cp.Seq = seq
	return cp, nil
}
