package liaison_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore/hsm"
	"github.com/liaison-hub/liaison/eventlog/keystore/hsm/hsmtest"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// Key custody and rotation (docs/operations.md, "Key custody", "Rotation").

// writeMarked opens a case and records an intervention carrying marker; it
// returns the case id.
func writeMarked(t *testing.T, h *hub, who identity, ref, marker string) string {
	t.Helper()
	res := h.do("POST", "/v1/cases", &who, "", map[string]string{"subject_ref": ref, "target_group": "returnee", "gender": "male", "regime": "dispersion"})
	if res.Status != http.StatusCreated {
		t.Fatalf("open: %d %s", res.Status, res.Body)
	}
	id := res.json(t)["case_id"].(string)
	ev := map[string]any{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker}}
	if res := h.do("POST", "/v1/cases/"+id+"/events", &who, "", ev); res.Status != http.StatusCreated {
		t.Fatalf("append: %d %s", res.Status, res.Body)
	}
	return id
}

// readsMarker checks that who reads marker in the case's events.
func readsMarker(t *testing.T, h *hub, who identity, caseID, marker string) {
	t.Helper()
	res := h.do("GET", "/v1/cases/"+caseID+"/events", &who, "case-management", nil)
	if res.Status != http.StatusOK || !bytes.Contains(res.Body, []byte(marker)) {
		t.Errorf("case %s: %d %s; want %q", caseID, res.Status, res.Body, marker)
	}
}

// keyFileMasters counts the key files of a key directory by the master that
// wrapped them.
func keyFileMasters(t *testing.T, keys string) map[string]int {
	t.Helper()
	out := map[string]int{}
	ents, _ := os.ReadDir(filepath.Join(keys, "casekeys"))
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(keys, "casekeys", e.Name()))
		if f := strings.Fields(string(b)); len(f) == 5 {
			out[f[2]]++
		} else {
			out[string(b)]++
		}
	}
	return out
}

// The master key in a PKCS#11 token (SoftHSM here): a hub that held its
// master key in a file moves it into the token — the token's first key made
// by "liaison keys", the hub started with the token and the old key, the case
// keys wrapped again by the token's key while it serves, the old key file
// removed — and from then on never holds it: no file anywhere holds a master
// key, the key files name the token's key, and a second rotation, with
// --retire, leaves the token one key. Every case reads throughout.
func TestMasterKeyInATokenAndItsRotation(t *testing.T) {
	tok := hsmtest.Token(t, "liaison-e2e", "4321")
	t.Setenv("LIAISON_PKCS11_PIN", tok.PIN)
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	pkcs11 := []string{"--pkcs11-module", tok.Module, "--pkcs11-token", tok.Token}
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-hsm"}

	// A hub with a software master key (the development one, in keys/master.key).
	h := startKeyedHub(t, data, keys)
	before := writeMarked(t, h, prison, "HSM-2026-0001", "written under the software master key")
	h.Stop()

	// The token's first master key, then the hub on the token and the old key.
	if out, code := liaisonCmd(t, append([]string{"keys", "--data", data, "--keys", keys}, pkcs11...)...); code != 0 || !strings.Contains(out, "p11:liaison-master-1") {
		t.Fatalf("liaison keys with the token: exit %d\n%s", code, out)
	}
	h = startKeyedHub(t, data, keys, pkcs11...)
	readsMarker(t, h, prison, before, "written under the software master key")
	during := writeMarked(t, h, prison, "HSM-2026-0002", "written under the token's key")
	if m := keyFileMasters(t, keys); m["p11:liaison-master-1"] != 1 || len(m) != 2 {
		t.Errorf("key files by master before the rotation: %v; want one new key under the token's", m)
	}
	out, code := liaisonCmd(t, "keys", "rotate-master", "--data", data, "--keys", keys)
	if code != 0 || !strings.Contains(out, "hub running") || !strings.Contains(out, "p11:liaison-master-2") || !strings.Contains(out, "2 wrapped again") {
		t.Fatalf("rotate-master online: exit %d\n%s", code, out)
	}
	if m := keyFileMasters(t, keys); m["p11:liaison-master-2"] != 2 || len(m) != 1 {
		t.Errorf("key files by master after the rotation: %v; want both under p11:liaison-master-2", m)
	}
	readsMarker(t, h, prison, before, "written under the software master key")
	readsMarker(t, h, prison, during, "written under the token's key")
	after := writeMarked(t, h, prison, "HSM-2026-0003", "written after the rotation")
	h.Stop()

	// The software key goes; the hub needs only the token now.
	if err := os.Remove(filepath.Join(keys, "master.key")); err != nil {
		t.Fatal(err)
	}
	h = startKeyedHub(t, data, keys, pkcs11...)
	for id, marker := range map[string]string{before: "written under the software master key", during: "written under the token's key", after: "written after the rotation"} {
		readsMarker(t, h, prison, id, marker)
	}
	out, code = liaisonCmd(t, "keys", "rotate-master", "--data", data, "--keys", keys, "--retire")
	if code != 0 || !strings.Contains(out, "retired") || !strings.Contains(out, "p11:liaison-master-1") {
		t.Fatalf("rotate-master --retire: exit %d\n%s", code, out)
	}
	h.Stop()
	tk, err := hsm.Open(tok)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := tk.Masters()
	tk.Close()
	if err != nil || len(ms) != 1 || ms[0].ID() != "p11:liaison-master-3" {
		t.Errorf("the token's master keys after --retire: %v, %v; want p11:liaison-master-3 alone", ms, err)
	}
	// With the hub stopped, the rotation runs in the command.
	out, code = liaisonCmd(t, append([]string{"keys", "rotate-master", "--data", data, "--keys", keys}, pkcs11...)...)
	if code != 0 || !strings.Contains(out, "hub stopped") || !strings.Contains(out, "p11:liaison-master-4") {
		t.Fatalf("rotate-master offline: exit %d\n%s", code, out)
	}
	h = startKeyedHub(t, data, keys, pkcs11...)
	readsMarker(t, h, prison, before, "written under the software master key")
	readsMarker(t, h, prison, after, "written after the rotation")
	h.Stop()
	for _, root := range []string{data, keys} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Base(p) == "master.key" {
				t.Errorf("%s: a master key in a file, with the master key in the token", p)
			}
			return nil
		})
	}
}

// A software master key rotates too: the new key is appended to the key
// file, every case key is wrapped again, and --retire leaves the new key
// alone in the file.
func TestSoftwareMasterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-rot"}
	h := startKeyedHub(t, data, keys)
	id := writeMarked(t, h, prison, "ROT-2026-0001", "before the rotation")
	old := keyFileMasters(t, keys)
	out, code := liaisonCmd(t, "keys", "rotate-master", "--data", data, "--keys", keys)
	if code != 0 || !strings.Contains(out, "1 wrapped again") || !strings.Contains(out, "older masters") {
		t.Fatalf("rotate-master: exit %d\n%s", code, out)
	}
	now := keyFileMasters(t, keys)
	for m := range old {
		if now[m] != 0 {
			t.Errorf("a key file is still wrapped by the old master %s: %v", m, now)
		}
	}
	readsMarker(t, h, prison, id, "before the rotation")
	if out, code := liaisonCmd(t, "keys", "rotate-master", "--data", data, "--keys", keys, "--retire"); code != 0 || !strings.Contains(out, "retired") {
		t.Fatalf("rotate-master --retire: exit %d\n%s", code, out)
	}
	h.Stop()
	b, _ := os.ReadFile(filepath.Join(keys, "master.key"))
	if n := strings.Count(strings.TrimSpace(string(b)), "\n"); n != 1 { // the comment and one key
		t.Errorf("master.key after --retire holds %d lines:\n%s", n+1, b)
	}
	h = startKeyedHub(t, data, keys)
	readsMarker(t, h, prison, id, "before the rotation")
}

// A new checkpoint signing key: the hub signs with it from then on, its
// answers name the key of each checkpoint and list both, audit verify checks
// the whole history with the list — and finds the new checkpoints unsigned
// with the old key alone.
func TestCheckpointKeyRotation(t *testing.T) {
	dir := t.TempDir()
	data, keys := filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-ckpt"}
	auditor := identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "aud-ckpt"}
	h := startKeyedHub(t, data, keys)
	writeMarked(t, h, prison, "CKPT-2026-0001", "one")
	oldKeys, err := transparency.ReadVerifierKeys(keys)
	if err != nil || len(oldKeys) != 1 {
		t.Fatalf("checkpoint.pub before: %v, %v", oldKeys, err)
	}
	checkpoint := func(log string) (cp struct {
		Note         string   `json:"note"`
		VerifierKey  string   `json:"verifier_key"`
		VerifierKeys []string `json:"verifier_keys"`
		Size         uint64   `json:"size"`
	}) {
		res := h.do("GET", "/v1/audit/checkpoint?log="+log, &auditor, "oversight", nil)
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &cp) != nil {
			t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
		}
		return cp
	}
	if cp := checkpoint("access"); cp.VerifierKey != oldKeys[0] {
		t.Errorf("before the rotation the checkpoint names %s", cp.VerifierKey)
	}
	out, code := liaisonCmd(t, "keys", "rotate-checkpoint", "--data", data, "--keys", keys)
	if code != 0 || !strings.Contains(out, "hub running") {
		t.Fatalf("rotate-checkpoint: exit %d\n%s", code, out)
	}
	newKeys, _ := transparency.ReadVerifierKeys(keys)
	if len(newKeys) != 2 || newKeys[0] != oldKeys[0] {
		t.Fatalf("checkpoint.pub after: %v", newKeys)
	}
	writeMarked(t, h, prison, "CKPT-2026-0002", "two")
	// A backup signs checkpoints of both logs now, with the new key.
	if out, code := liaisonCmd(t, "backup", "--data", data, "--to", filepath.Join(dir, "backup")); code != 0 {
		t.Fatalf("backup: %d\n%s", code, out)
	}
	for _, log := range []string{"access", "case"} {
		cp := checkpoint(log)
		if cp.VerifierKey != newKeys[1] || len(cp.VerifierKeys) != 2 {
			t.Errorf("%s checkpoint after the rotation: signed by %s, keys %v; want the new key and both", log, cp.VerifierKey, cp.VerifierKeys)
		}
		if _, err := transparency.OpenCheckpoint([]byte(cp.Note), cp.VerifierKey); err != nil {
			t.Errorf("%s checkpoint does not open with the key it names: %v", log, err)
		}
	}
	h.Stop()
	if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--keys", keys); code != 0 {
		t.Fatalf("audit verify with both keys: exit %d\n%s", code, out)
	}
	old := filepath.Join(dir, "old.pub")
	os.WriteFile(old, []byte(oldKeys[0]+"\n"), 0o644)
	if out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--key", old); code != 1 || !strings.Contains(out, "TAMPERED") {
		t.Errorf("audit verify with the old key alone: exit %d\n%s; want 1, the new checkpoints unverified", code, out)
	}
	if out, code := liaisonCmd(t, "audit", "verify", "--data", filepath.Join(dir, "backup")); code != 0 {
		t.Errorf("audit verify of the backup, with the keys it carries: exit %d\n%s", code, out)
	}
}
