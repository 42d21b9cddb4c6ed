package liaison_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/test/upgrade/fixture"
)

// Upgrades (docs/operations.md, "Upgrades"): the data and key directories
// written by earlier releases, kept as fixtures under testdata/upgrade (made
// by go run ./test/upgrade), open with the current build with every event,
// access record and checkpoint as they were; and data of a newer format than
// the build understands is refused, saying so.

// fixtures returns the upgrade fixtures kept in the repository.
func fixtures(t *testing.T) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join("testdata", "upgrade", "*.tar.gz"))
	if err != nil || len(fs) == 0 {
		t.Fatalf("no upgrade fixture in testdata/upgrade (%v): make one with go run ./test/upgrade", err)
	}
	return fs
}

// unpackFixture extracts a fixture and reads its expected.json.
func unpackFixture(t *testing.T, path string) (dir string, exp fixture.Expected) {
	t.Helper()
	dir = t.TempDir()
	if err := fixture.Unpack(path, dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil || json.Unmarshal(b, &exp) != nil {
		t.Fatalf("%s: expected.json: %v", path, err)
	}
	return dir, exp
}

func TestUpgradeFromAnEarlierRelease(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(filepath.Base(fx), func(t *testing.T) {
			dir, exp := unpackFixture(t, fx)
			data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
			if exp.StoreFormat > embedded.SchemaVersion || exp.KeysFormat > keystore.FormatVersion {
				t.Fatalf("the fixture's formats (store %d, keys %d) are newer than this build's (%d, %d)", exp.StoreFormat, exp.KeysFormat, embedded.SchemaVersion, keystore.FormatVersion)
			}
			if len(exp.Events) == 0 || len(exp.Records) == 0 || exp.Erased == "" || len(exp.VerifierKeys) < 2 {
				t.Fatalf("the fixture holds too little to test: %d events, %d records", len(exp.Events), len(exp.Records))
			}

			// Every event, record and checkpoint, as the current build reads them.
			var got fixture.Expected
			if err := fixture.Read(data, keys, &got); err != nil {
				t.Fatalf("the current build does not read the fixture: %v", err)
			}
			if len(got.Events) != len(exp.Events) {
				t.Fatalf("%d events; the fixture holds %d", len(got.Events), len(exp.Events))
			}
			for i, want := range exp.Events {
				g := got.Events[i]
				if g.Position != want.Position || g.Stream != want.Stream || g.Version != want.Version || g.ID != want.ID || g.Type != want.Type || !jsonEqual(g.Data, want.Data) {
					t.Errorf("event %d reads\n%+v (%s)\nwant\n%+v (%s)", i+1, g, g.Data, want, want.Data)
				}
			}
			if !reflect.DeepEqual(got.Records, exp.Records) {
				t.Errorf("access records read\n%+v\nwant\n%+v", got.Records, exp.Records)
			}
			if got.Access != exp.Access || got.Cases != exp.Cases || !reflect.DeepEqual(got.VerifierKeys, exp.VerifierKeys) {
				t.Errorf("checkpoints read %+v %+v %v; want %+v %+v %v", got.Access, got.Cases, got.VerifierKeys, exp.Access, exp.Cases, exp.VerifierKeys)
			}
			if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--keys", keys); code != 0 {
				t.Fatalf("audit verify on the fixture: exit %d\n%s", code, out)
			}

			// A hub of the current build serves it and writes to it.
			h := startKeyedHub(t, data, keys)
			prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "upgrade-caseworker"}
			stranger := identity{Agency: "family-support", Roles: []string{"counsellor"}, Sub: "upgrade-stranger"}
			for id, marker := range exp.Readable {
				readsMarker(t, h, prison, id, marker)
				ev := map[string]any{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "08", "date": "2026-02-01", "summary": "written by the current build"}}
				if res := h.do("POST", "/v1/cases/"+id+"/events", &prison, "", ev); res.Status != http.StatusCreated {
					t.Errorf("append to %s: %d %s", id, res.Status, res.Body)
				}
			}
			if res := h.do("GET", "/v1/cases/"+exp.Erased, &prison, "case-management", nil); res.Status != http.StatusGone {
				t.Errorf("the erased case: %d; want 410", res.Status)
			}
			if res := h.do("GET", "/v1/cases/"+exp.Erased, &stranger, "family-support", nil); res.Status != http.StatusNotFound {
				t.Errorf("the erased case to a stranger: %d; want 404", res.Status)
			}
			h.Stop()
			if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--keys", keys); code != 0 {
				t.Fatalf("audit verify after the current build wrote: exit %d\n%s", code, out)
			}
		})
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// serveRefuses runs liaison serve on data and keys and returns its output,
// failing unless it exits with an error.
func serveRefuses(t *testing.T, data, keys string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--admin-addr", "off", "--data", data, "--keys", keys)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	if err := cmd.Run(); err == nil || ctx.Err() != nil {
		t.Fatalf("liaison serve started (%v):\n%s", err, out.String())
	}
	return out.String()
}

// Data of a newer format than this build understands is refused at start,
// with a message that says so: a store, and a key directory.
func TestNewerFormatsAreRefused(t *testing.T) {
	fx := fixtures(t)[0]

	dir, _ := unpackFixture(t, fx)
	data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	// The store's format, as eventlog/embedded keeps it (keys.go: metadata
	// key "format", one byte), set to the next one.
	db, err := pebble.Open(filepath.Join(data, "log"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("Mformat"), []byte{embedded.SchemaVersion + 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out := serveRefuses(t, data, keys)
	if want := fmt.Sprintf("has format %d, and this build reads formats up to %d", embedded.SchemaVersion+1, embedded.SchemaVersion); !strings.Contains(out, want) || !strings.Contains(out, "newer liaison") {
		t.Errorf("serve on a newer store says:\n%s\nwant %q", out, want)
	}
	if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--keys", keys); code == 0 {
		t.Errorf("audit verify passed a store it cannot read:\n%s", out)
	}

	dir, _ = unpackFixture(t, fx)
	data, keys = filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	os.WriteFile(filepath.Join(keys, "casekeys", keystore.FormatFile), []byte(fmt.Sprintf("liaison-casekeys %d\n", keystore.FormatVersion+1)), 0o600)
	out = serveRefuses(t, data, keys)
	if !strings.Contains(out, "newer liaison") || !strings.Contains(out, fmt.Sprintf("has format %d", keystore.FormatVersion+1)) {
		t.Errorf("serve on a newer key directory says:\n%s", out)
	}
}
