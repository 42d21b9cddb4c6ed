package transparency_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// tileReader reads the access tree's tiles as a tlog-tiles client would,
// through their paths.
type tileReader struct {
	ctx   context.Context
	trees *transparency.Trees
	t     *testing.T
}

func (r tileReader) Height() int { return transparency.TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := "tile/" + tile.Path()[len("tile/8/"):]
		req, err := transparency.ParseTilePath(path)
		if err != nil {
			r.t.Fatalf("the hub does not parse %s: %v", path, err)
		}
		if out[i], err = r.trees.Access.Tile(r.ctx, req); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// The tiles are what golang.org/x/mod/sumdb/tlog expects of the tree the
// checkpoints sign: its own tree hash, record and tree proofs check against
// them, and the entry bundles hold the leaves.
func TestTiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir+"/log")
	const first, n = 300, 3*256 + 45
	appendRecords(t, st, first)
	trees := openTrees(t, st, dir, nil)
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	old, err := trees.Access.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, st, n-first)
	trees = openTrees(t, st, dir, nil)
	if err := trees.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := trees.Access.Latest(ctx)
	if err != nil || cp.Size != n || old.Size != first {
		t.Fatalf("checkpoints of sizes %d and %d (%v), want %d and %d", old.Size, cp.Size, err, first, n)
	}
	thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: tlog.Hash(cp.Root)}, tileReader{ctx, trees, t})
	if h, err := tlog.TreeHash(n, thr); err != nil || !bytes.Equal(h[:], cp.Root) {
		t.Fatalf("tlog's tree hash of the tiles: %x, %v; the checkpoint signs %x", h, err, cp.Root)
	}
	access, _ := leaves(t, st)
	for _, i := range []int64{0, 1, 255, 256, 299, 511, 700, n - 1} {
		p, err := tlog.ProveRecord(n, i, thr)
		if err != nil {
			t.Fatalf("prove record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, n, tlog.Hash(cp.Root), i, tlog.Hash(access[i])); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	p, err := tlog.ProveTree(n, first, thr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(p, n, tlog.Hash(cp.Root), first, tlog.Hash(old.Root)); err != nil {
		t.Errorf("consistency %d → %d: %v", first, n, err)
	}

	t.Run("entry bundles hold the leaves", func(t *testing.T) {
		for _, c := range []struct {
			path  string
			index int
			width int
		}{{"tile/entries/000", 0, 256}, {"tile/entries/003.p/45", 768, 45}, {"tile/entries/001.p/3", 256, 3}} {
			req, err := transparency.ParseTilePath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := trees.EntryBundle(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", c.path, err)
			}
			for k := range c.width {
				if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
					t.Fatalf("%s ends at entry %d", c.path, k)
				}
				l := int(binary.BigEndian.Uint16(b))
				if got := tlog.RecordHash(b[2 : 2+l]); !bytes.Equal(got[:], access[c.index+k]) {
					t.Errorf("%s entry %d does not hash to leaf %d", c.path, k, c.index+k)
				}
				b = b[2+l:]
			}
			if len(b) != 0 {
				t.Errorf("%s: %d bytes after the last entry", c.path, len(b))
			}
		}
	})
	t.Run("paths that are not tiles, or tiles not there yet, name the path", func(t *testing.T) {
		for _, path := range []string{"", "tile/", "tile/0", "tile/0/1", "tile/0/x1/000", "tile/00/000", "tile/0/000.p/0",
			"tile/0/000.p/256", "tile/8/000", "tile/entries/", "tile/entries/000.p/", "checkpoint", "tile/data/000"} {
			if _, err := transparency.ParseTilePath(path); !isPathError(err) {
				t.Errorf("ParseTilePath(%q): %v, want a path error", path, err)
			}
		}
		for _, path := range []string{"tile/0/003", "tile/0/003.p/46", "tile/1/000", "tile/1/000.p/4", "tile/2/000.p/1", "tile/0/x001/000"} {
			req, err := transparency.ParseTilePath(path)
			if err != nil {
				t.Fatalf("ParseTilePath(%q): %v", path, err)
			}
			if _, err := trees.Access.Tile(ctx, req); !isPathError(err) {
				t.Errorf("tile %s: %v, want a path error", path, err)
			}
			if req.Level == 0 {
				req.Entries = true
				if _, err := trees.EntryBundle(ctx, req); !isPathError(err) {
					t.Errorf("entries of %s: %v, want a path error", path, err)
				}
			}
		}
		req, _ := transparency.ParseTilePath("tile/1/000.p/3")
		if b, err := trees.Access.Tile(ctx, req); err != nil || len(b) != 3*32 {
			t.Errorf("tile/1/000.p/3: %d bytes, %v", len(b), err)
		}
	})
	t.Run("records pruned by retention: their bundles are gone, their hashes stay", func(t *testing.T) {
		if _, err := st.PruneRecords(ctx, 300); err != nil {
			t.Fatal(err)
		}
		for path, pruned := range map[string]bool{"tile/entries/000": true, "tile/entries/001.p/44": true, "tile/entries/001": true, "tile/entries/002": false, "tile/entries/003.p/45": false} {
			req, _ := transparency.ParseTilePath(path)
			if _, err := trees.EntryBundle(ctx, req); errors.Is(err, transparency.ErrPrunedEntries) != pruned {
				t.Errorf("%s after pruning below 300: %v", path, err)
			}
		}
		if h, err := tlog.TreeHash(n, thr); err != nil || !bytes.Equal(h[:], cp.Root) {
			t.Errorf("the hash tiles after pruning: %x, %v", h, err)
		}
	})
}

func isPathError(err error) bool {
	var re *transparency.RangeError
	return errors.As(err, &re) && re.Field == "path"
}
