package transparency

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"
)

// The access tree served as C2SP tlog-tiles (docs/audit.md): tiles of height
// TileHeight, each holding up to TileWidth hashes of one level of the tree,
// and entry bundles holding the leaves themselves.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
)

// TileRequest names one tile or entry bundle of a tlog-tiles path.
type TileRequest struct {
	// Entries is set for an entry bundle (tile/entries/N[.p/W]); Level is
	// then 0.
	Entries bool
	// Level is the tile level L: its hashes are those of tree level
	// L×TileHeight.
	Level int
	// Index is the tile index N, Width the number of hashes or entries it
	// holds (TileWidth for a full tile).
	Index uint64
	Width int
}

// ParseTilePath reads a C2SP tlog-tiles path below the log's prefix:
// "tile/L/N[.p/W]" or "tile/entries/N[.p/W]", N in groups of three digits
// ("x001/x234/067"). It returns a *RangeError naming "path" when the path is
// not one.
func ParseTilePath(path string) (TileRequest, error) {
	bad := &RangeError{"path", "must be tile/L/N[.p/W] or tile/entries/N[.p/W] (c2sp.org/tlog-tiles)"}
	var t tlog.Tile
	var err error
	switch {
	case strings.HasPrefix(path, "tile/entries/"):
		t, err = tlog.ParseTilePath("tile/8/data/" + strings.TrimPrefix(path, "tile/entries/"))
	case strings.HasPrefix(path, "tile/"):
		t, err = tlog.ParseTilePath("tile/8/" + strings.TrimPrefix(path, "tile/"))
	default:
		return TileRequest{}, bad
	}
	if err != nil || t.H != TileHeight || t.L >= 64/TileHeight {
		return TileRequest{}, bad
	}
	// tlog accepts any decimal spelling of a level; tlog-tiles has one.
	if want := tilePath(t); want != path {
		return TileRequest{}, bad
	}
	if t.L < 0 {
		return TileRequest{Entries: true, Index: uint64(t.N), Width: t.W}, nil
	}
	return TileRequest{Level: t.L, Index: uint64(t.N), Width: t.W}, nil
}

// tilePath is the tlog-tiles path of t.
func tilePath(t tlog.Tile) string {
	if t.L == -1 {
		return "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/data/")
	}
	return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

// TilePath returns the tlog-tiles path of r, the inverse of ParseTilePath.
func (r TileRequest) TilePath() string {
	t := tlog.Tile{H: TileHeight, L: r.Level, N: int64(r.Index), W: r.Width}
	if r.Entries {
		t.L = -1
	}
	return tilePath(t)
}

// available returns how many hashes tree level level holds in a tree of
// size leaves.
func available(size uint64, level uint) uint64 {
	if level >= 64 {
		return 0
	}
	return size >> level
}

// covers checks that a tree of size holds the width hashes of r's level from
// r.Index×TileWidth on, returning a *RangeError naming "path" when not.
func (r TileRequest) covers(size uint64) error {
	first := r.Index * TileWidth
	if r.Index > (1<<63)/TileWidth || available(size, uint(r.Level*TileHeight)) < first+uint64(r.Width) {
		return &RangeError{"path", fmt.Sprintf("names a tile beyond the tree of size %d", size)}
	}
	return nil
}

// Tile returns the hash tile r (not an entry bundle) of the tree: the Width
// hashes of tree level r.Level×TileHeight from index r.Index×TileWidth on,
// 32 bytes each, from the stored nodes. A tile is the same whenever it is
// asked for: a full one never changes, and a partial one of width W is the
// first W hashes of the full one. It returns a *RangeError naming "path" when
// the tree does not hold it yet, and the KV's error.
func (t *Tree) Tile(ctx context.Context, r TileRequest) ([]byte, error) {
	if r.Entries {
		return nil, errors.New("transparency: Tile asked for an entry bundle")
	}
	if err := r.covers(t.Size()); err != nil {
		return nil, err
	}
	return t.scanLevel(ctx, uint(r.Level*TileHeight), r.Index*TileWidth, uint64(r.Width))
}

// scanLevel returns the stored hashes of count nodes of level from index
// first on, one after the other. An error wraps errMissingNode when one is
// not stored.
func (t *Tree) scanLevel(ctx context.Context, level uint, first, count uint64) ([]byte, error) {
	out := make([]byte, 0, count*hashSize)
	prefix := []byte{'T', t.id, kindNode, byte(level)}
	next := first
	for p, err := range t.kv.Scan(ctx, prefix, nodeKey(t.id, compact.NewNodeID(level, first))) {
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p.Key, nodeKey(t.id, compact.NewNodeID(level, next))) || len(p.Value) != hashSize {
			break
		}
		out = append(out, p.Value...)
		if next++; next == first+count {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %s level %d index %d", errMissingNode, t.origin, level, next)
}

// ErrPrunedEntries is returned for an entry bundle holding records whose
// content retention removed: their hashes stay in the hash tiles, their bytes
// are gone.
var ErrPrunedEntries = errors.New("transparency: the entry bundle holds records pruned by retention")

// EntryBundle returns the entry bundle r of the access log: the Width
// records from r.Index×TileWidth on, each as the tree hashes it (its stored
// bytes), after a big-endian 16-bit length (c2sp.org/tlog-tiles). It returns
// a *RangeError naming "path" when the access tree does not hold them yet,
// ErrPrunedEntries when one of them was pruned, and the journal's error.
func (t *Trees) EntryBundle(ctx context.Context, r TileRequest) ([]byte, error) {
	if !r.Entries {
		return nil, errors.New("transparency: EntryBundle asked for a hash tile")
	}
	if err := r.covers(t.Access.Size()); err != nil {
		return nil, err
	}
	first := r.Index * TileWidth
	var out []byte
	n := 0
	for e, err := range t.cfg.Journal.ReadRecords(ctx, first) {
		if err != nil {
			return nil, err
		}
		if e.Index != first+uint64(n) {
			return nil, fmt.Errorf("transparency: the access log skips from %d to %d", first+uint64(n), e.Index)
		}
		if e.Pruned {
			return nil, fmt.Errorf("%w: record %d", ErrPrunedEntries, e.Index)
		}
		if len(e.Data) > 0xFFFF {
			return nil, fmt.Errorf("transparency: access record %d is longer than an entry bundle holds", e.Index)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(e.Data)))
		out = append(out, e.Data...)
		if n++; n == r.Width {
			return out, nil
		}
	}
	return nil, fmt.Errorf("transparency: the access log ends before record %d", first+uint64(n))
}
