package transparency

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/liaison-hub/liaison/eventlog"
)

// checkRoots compares the root of full with the checkpoints of its size.
func checkRoots(full *compact.Range, cps []Checkpoint, rep *LogReport) *TamperError {
	from := rep.Covered
	if len(cps) == 0 {
		return nil
	}
	root, err := full.GetRootHash(nil)
	if err != nil {
		return &TamperError{Origin: cps[0].Origin, Checkpoint: cps[0].Seq, What: checkpointName(cps[0]), Reason: err.Error()}
	}
	for _, cp := range cps {
		if !bytes.Equal(root, cp.Root) {
			return &TamperError{Origin: cp.Origin, Checkpoint: cp.Seq, Index: cp.Size, What: checkpointName(cp),
				Reason: fmt.Sprintf("root hash does not match leaves 0 to %d: one from %d on was changed, removed or inserted after it was signed, or the checkpoint was altered", cp.Size-1, from)}
		}
		rep.Checkpoints++
		rep.Covered = max(rep.Covered, cp.Size)
	}
	return nil
}

func checkpointName(cp Checkpoint) string {
	return fmt.Sprintf("%s checkpoint %d (size %d)", cp.Origin, cp.Seq, cp.Size)
}

// checkTail reports the first missing leaf when a checkpoint or a stored
// tree leaf covers more than the log holds (the log was truncated).
func checkTail(ctx context.Context, kv eventlog.KV, tree byte, origin string, n uint64, cuts []uint64) *TamperError {
	if len(cuts) > 0 && cuts[len(cuts)-1] > n {
		return &TamperError{Origin: origin, Index: n, What: leafName(origin, n, nil),
			Reason: fmt.Sprintf("is missing: the log ends before it, but a signed checkpoint covers %d leaves", cuts[len(cuts)-1])}
	}
	if _, ok, err := kv.Get(ctx, nodeKey(tree, compact.NewNodeID(0, n))); err == nil && ok {
		return &TamperError{Origin: origin, Index: n, What: leafName(origin, n, nil),
			Reason: "is missing: the log ends before it, but the tree took it in"}
	}
	return nil
}

// openCheckpoints reads and opens the stored checkpoints of a tree, in order.
// It returns the valid ones and the first problem among them: a signature or
// body that does not verify, a wrong origin, a gap in the sequence, a size
// below an earlier one, a latest pointer that does not name the last one.
func openCheckpoints(ctx context.Context, kv eventlog.KV, tree byte, origin string, vkeys []string) ([]Checkpoint, *TamperError, error) {
	var cps []Checkpoint
	var bad *TamperError
	report := func(cp Checkpoint, reason string) {
		if bad == nil {
			bad = &TamperError{Origin: origin, Checkpoint: cp.Seq, Index: cp.Size, What: checkpointName(cp), Reason: reason}
		}
	}
	// missing reports a checkpoint that is not there or does not open.
	missing := func(seq uint64, reason string) {
		if bad == nil {
			bad = &TamperError{Origin: origin, Checkpoint: seq, What: fmt.Sprintf("%s checkpoint %d", origin, seq), Reason: reason}
		}
	}
	var seq, size uint64
	for stored, err := range storedCheckpoints(ctx, kv, tree) {
		if err != nil {
			return nil, nil, err
		}
		if len(vkeys) == 0 {
			return nil, nil, errors.New("there are signed checkpoints but no verifier key to check them")
		}
		seq++
		if stored.Seq != seq {
			missing(seq, "is missing")
			seq = stored.Seq
		}
		cp, _, err := OpenCheckpointAny(stored.Note, vkeys)
		cp.Seq = stored.Seq
		switch {
		case err != nil:
			if size, ok := unverifiedSize(stored.Note); ok {
				report(Checkpoint{Origin: origin, Seq: cp.Seq, Size: size}, err.Error())
			} else {
				missing(cp.Seq, err.Error())
			}
			continue
		case cp.Origin != origin:
			report(cp, fmt.Sprintf("has origin %q", cp.Origin))
			continue
		case cp.Size < size:
			report(cp, fmt.Sprintf("is smaller than an earlier checkpoint of size %d: the log was cut", size))
		case cp.Size == 0 && !bytes.Equal(cp.Root, hasher.EmptyRoot()):
			report(cp, "root hash is not the empty tree's")
			continue
		}
		size = max(size, cp.Size)
		if cp.Size > 0 {
			cps = append(cps, cp)
		}
	}
	b, ok, err := kv.Get(ctx, treeKey(tree, kindLatest))
	if err != nil {
		return nil, nil, err
	}
	if ok && (len(b) != 8 || binary.BigEndian.Uint64(b) != seq) || !ok && seq > 0 {
		latest := uint64(0)
		if len(b) == 8 {
			latest = binary.BigEndian.Uint64(b)
		}
		missing(max(latest, seq+1), fmt.Sprintf("is missing: the history ends at checkpoint %d", seq))
	}
	return cps, bad, nil
}
