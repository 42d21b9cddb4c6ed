package accesslog

import (
	"context"
	"errors"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// Tile returns the tile or entry bundle of the access log's tree at path, a
// C2SP tlog-tiles path ("tile/L/N[.p/W]" or "tile/entries/N[.p/W]"; see
// docs/audit.md). It returns a KindInvalid *domain.Error naming "path" for a
// path that is not one, KindNotFound for a tile the tree does not hold yet,
// KindGone for an entry bundle holding records pruned by retention, and an
// internal error when the tree or the log cannot be read.
func (s *Service) Tile(ctx context.Context, path string) ([]byte, error) {
	req, err := transparency.ParseTilePath(path)
	if err != nil {
		return nil, proofError(err)
	}
	var b []byte
	if req.Entries {
		b, err = s.trees.EntryBundle(ctx, req)
	} else {
		b, err = s.tree.Tile(ctx, req)
	}
	if errors.Is(err, transparency.ErrPrunedEntries) {
		return nil, domain.Errorf(domain.KindGone, "the records of %s were pruned by retention: their hashes remain in the hash tiles, their content is gone", path)
	}
	var re *transparency.RangeError
	if errors.As(err, &re) {
		return nil, domain.Errorf(domain.KindNotFound, "the access log's tree does not hold %s yet", path)
	}
	if err != nil {
		return nil, domain.Internal(err)
	}
	return b, nil
}
