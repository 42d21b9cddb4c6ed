package liaison_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// auditorTransport adds an auditor's token and purpose to every request of a
// tlog client, and asks for the checkpoint as a signed note.
type auditorTransport struct{ token string }

func (a auditorTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+a.token)
	r.Header.Set("Liaison-Purpose", "oversight")
	r.Header.Set("Accept", "text/plain")
	return http.DefaultTransport.RoundTrip(r)
}

// An auditor checks the access log with standard tools only — the signed
// note verified with golang.org/x/mod/sumdb/note and the hub's published key,
// the tiles fetched with filippo.io/torchwood's tlog-tiles client, records
// and tree proofs checked with golang.org/x/mod/sumdb/tlog — and none of the
// hub's verification code.
func TestTilesIndependentVerifier(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	h := startHub(t, data, "--checkpoint-interval", "200ms")
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-tiles"}
	auditor := identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "aud-tiles"}
	ctx := context.Background()
	hc := &http.Client{Transport: auditorTransport{h.token(auditor)}, Timeout: 30 * time.Second}
	verifier, err := note.NewVerifier(hubKeyOf(t, data)) // checkpoint.pub, as published
	if err != nil {
		t.Fatal(err)
	}
	fetchCheckpoint := func() torchwood.Checkpoint {
		t.Helper()
		res, err := hc.Get(h.Base + "/v1/audit/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		n, err := note.Open(b, note.VerifierList(verifier))
		if err != nil {
			t.Fatalf("checkpoint note: %v\n%s", err, b)
		}
		cp, err := torchwood.ParseCheckpoint(n.Text)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	// Waits for a checkpoint of at least size records.
	checkpointAtLeast := func(size int64) torchwood.Checkpoint {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if cp := fetchCheckpoint(); cp.N >= size {
				return cp
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of %d records", size)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	id := writeMarked(t, h, prison, "TILE-2026-0001", "one")
	old := checkpointAtLeast(2)
	// Enough reads for full tiles and a level-1 tile.
	for i := range 300 {
		if res := h.do("GET", "/v1/cases/"+id+"/events", &prison, "case-management", nil); res.Status != http.StatusOK {
			t.Fatalf("read %d: %d", i, res.Status)
		}
	}
	cp := checkpointAtLeast(300)

	fetcher, err := torchwood.NewTileFetcher(h.Base+"/v1/audit", torchwood.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: cp.N, Hash: cp.Hash}
	// Every record of the tree, from the entry bundles, checked against the
	// hash tiles and the checkpoint's root by the client.
	// (The client stops before a partial entry bundle; asked again from
	// there, it reads it.)
	var entries [][]byte
	for int64(len(entries)) < cp.N {
		before := len(entries)
		for i, e := range client.Entries(ctx, tree, int64(len(entries))) {
			if i != int64(len(entries)) {
				t.Fatalf("entry %d after %d entries", i, len(entries))
			}
			entries = append(entries, e)
		}
		if err := client.Err(); err != nil {
			t.Fatalf("torchwood client: %v", err)
		}
		if len(entries) == before {
			break
		}
	}
	if int64(len(entries)) != cp.N {
		t.Fatalf("%d entries, the checkpoint has %d", len(entries), cp.N)
	}
	// The records are those the audit API shows: the first is the case
	// being opened by pc-tiles.
	var first map[string]any
	if err := json.Unmarshal(entries[0], &first); err != nil || first["sub"] != "pc-tiles" || first["action"] != "case.open" {
		t.Errorf("entry 0 is not the case being opened: %s (%v)", entries[0], err)
	}
	// Inclusion of single records, and consistency of the older checkpoint.
	thr := tlog.TileHashReader(tree, tlogReader{ctx, fetcher})
	for _, i := range []int64{0, 1, 255, 256, cp.N - 1} {
		entry, proof, err := client.Entry(ctx, tree, i)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !bytes.Equal(entry, entries[i]) {
			t.Errorf("entry %d differs between its bundle and Entry", i)
		}
		if err := tlog.CheckRecord(proof, cp.N, cp.Hash, i, tlog.RecordHash(entry)); err != nil {
			t.Errorf("inclusion of record %d: %v", i, err)
		}
	}
	proof, err := tlog.ProveTree(cp.N, old.N, thr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(proof, cp.N, cp.Hash, old.N, old.Hash); err != nil {
		t.Errorf("the checkpoint of %d records is not consistent with that of %d: %v", cp.N, old.N, err)
	}
	// A record changed is caught: its hash is not in the tree.
	forged := bytes.Replace(entries[0], []byte("pc-tiles"), []byte("pc-other"), 1)
	if p, _ := tlog.ProveRecord(cp.N, 0, thr); tlog.CheckRecord(p, cp.N, cp.Hash, 0, tlog.RecordHash(forged)) == nil {
		t.Error("a forged record checks")
	}

	// Tiles are audit calls: refused to a caseworker, 400 naming the path
	// for what is not a tile, 404 beyond the tree; every one recorded.
	if res := h.do("GET", "/v1/audit/tile/0/000", &prison, "case-management", nil); res.Status != http.StatusForbidden {
		t.Errorf("a caseworker's tile: %d %s", res.Status, res.Body)
	}
	if res := h.do("GET", "/v1/audit/tile/0/0", &auditor, "oversight", nil); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"path"`) {
		t.Errorf("a malformed tile path: %d %s", res.Status, res.Body)
	}
	if res := h.do("GET", "/v1/audit/tile/0/x001/000", &auditor, "oversight", nil); res.Status != http.StatusNotFound {
		t.Errorf("a tile beyond the tree: %d %s", res.Status, res.Body)
	}
	res := h.do("GET", "/v1/audit/records?action=audit.proofs&limit=1000", &auditor, "oversight", nil)
	var recs struct {
		Items []struct {
			Sub string `json:"sub"`
		} `json:"items"`
	}
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &recs) != nil || len(recs.Items) < 5 {
		t.Errorf("the tile calls are not recorded as audit.proofs: %d %s", res.Status, res.Body)
	}
}

// tlogReader is a golang.org/x/mod/sumdb/tlog TileReader over torchwood's
// fetcher.
type tlogReader struct {
	ctx context.Context
	f   *torchwood.TileFetcher
}

func (r tlogReader) Height() int { return torchwood.TileHeight }

func (r tlogReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	return r.f.ReadTiles(r.ctx, tiles)
}

func (r tlogReader) SaveTiles([]tlog.Tile, [][]byte) {}
