package liaison_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Backup and restore (docs/operations.md, "Backup and restore"): the restore
// drill, and erasure surviving a restore.

// startKeyedHub starts a hub on data with its key directory apart (--keys
// keys), as production runs it. Its tokens are minted from the key
// directory, which holds the development key: h.data names it.
func startKeyedHub(t testing.TB, data, keys string, args ...string) *hub {
	t.Helper()
	h := startHub(t, data, append([]string{"--keys", keys}, args...)...)
	h.data = keys
	return h
}

// copyTree copies the directory src to dst (which must not exist), as an
// operator restoring a backup would (cp -a).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// liaisonCmd runs the liaison binary and returns its output and exit code.
func liaisonCmd(t testing.TB, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("liaison %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// backupLoad appends markers to cases, one writer per case group, until
// stopped, remembering every acknowledged append.
type backupLoad struct {
	t     *testing.T
	h     *hub
	cases []*crashCase
	mu    sync.Mutex
	acked int
	stop  chan struct{}
	wg    sync.WaitGroup
	cl    *crashLoad
}

func startBackupLoad(t *testing.T, h *hub) *backupLoad {
	cl := newCrashLoad(t, h)
	l := &backupLoad{t: t, h: h, cases: cl.cases, stop: make(chan struct{}), cl: cl}
	for w := range crashWriters {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var mine []*crashCase
			for _, c := range cl.cases {
				if c.writer == w {
					mine = append(mine, c)
				}
			}
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				c := mine[n%len(mine)]
				l.mu.Lock()
				v := c.version
				l.mu.Unlock()
				marker := fmt.Sprintf("backup marker w%d n%d", w, n)
				body, _ := json.Marshal(map[string]any{"type": "InterventionRecorded", "expected_version": v,
					"data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker}})
				status, _, b, err := cl.send(h, "POST", "/v1/cases/"+c.id+"/events", cl.writers[w], "", body)
				var out struct {
					Version uint64 `json:"version"`
				}
				if err != nil || status != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.Version != v+1 {
					t.Errorf("append to %s at version %d: %d %s %v", c.id, v, status, b, err)
					return
				}
				l.mu.Lock()
				c.version = out.Version
				c.markers[out.Version] = marker
				l.acked++
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// snapshot returns, for each case, the markers acknowledged so far.
func (l *backupLoad) snapshot() (map[string]map[uint64]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[uint64]string{}
	for _, c := range l.cases {
		m := map[uint64]string{}
		for v, mk := range c.markers {
			m[v] = mk
		}
		out[c.id] = m
	}
	return out, l.acked
}

func (l *backupLoad) halt() int {
	close(l.stop)
	l.wg.Wait()
	return l.acked
}

// The restore drill: back up a hub under load, restore the backup into a new
// directory, start a hub on it, and find every event acknowledged before the
// backup began; audit verify passes on it.
func TestRestoreDrill(t *testing.T) {
	dir := t.TempDir()
	data, keys, backup, restored := filepath.Join(dir, "data"), filepath.Join(dir, "keys"), filepath.Join(dir, "backup"), filepath.Join(dir, "restored")
	h := startKeyedHub(t, data, keys)
	load := startBackupLoad(t, h)
	time.Sleep(700 * time.Millisecond)

	before, ackedBefore := load.snapshot() // every append acknowledged before the backup began
	out, code := liaisonCmd(t, "backup", "--data", data, "--to", backup)
	time.Sleep(300 * time.Millisecond)
	ackedAll := load.halt()
	if code != 0 {
		t.Fatalf("liaison backup: exit %d\n%s", code, out)
	}
	t.Logf("liaison backup (under load):\n%s", out)
	for _, want := range []string{"the hub running", "ends at:  access log checkpoint", "case log checkpoint", "verified: intact", "not copied: the key directory"} {
		if !strings.Contains(out, want) {
			t.Errorf("the backup's report does not say %q", want)
		}
	}
	if ackedAll <= ackedBefore {
		t.Errorf("no append was acknowledged while the backup ran (%d before, %d in all): not under load", ackedBefore, ackedAll)
	}
	var man struct {
		Format  int    `json:"format"`
		Events  uint64 `json:"events"`
		Records uint64 `json:"records"`
	}
	if b, err := os.ReadFile(filepath.Join(backup, "BACKUP.json")); err != nil || json.Unmarshal(b, &man) != nil || man.Format != 1 || man.Events == 0 {
		t.Fatalf("BACKUP.json: %v %+v", err, man)
	}
	for _, name := range []string{"casekeys", "master.key", "checkpoint.key", "token.key", "dev-token-key.pem"} {
		if _, err := os.Stat(filepath.Join(backup, name)); err == nil {
			t.Errorf("the backup holds %s: a data backup holds no key", name)
		}
	}
	h.Stop()

	copyTree(t, backup, restored)
	h2 := startKeyedHub(t, restored, keys)
	checked := 0
	for _, c := range load.cases {
		id := crashWriter(c.writer)
		res := h2.do("GET", "/v1/cases/"+c.id+"/events", &id, "case-management", nil)
		var evs struct {
			Items []struct {
				Version uint64 `json:"version"`
				Data    struct {
					Summary string `json:"summary"`
				} `json:"data"`
			} `json:"items"`
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &evs) != nil {
			t.Fatalf("events of %s on the restored hub: %d %s", c.id, res.Status, res.Body)
		}
		got := map[uint64]string{}
		for _, it := range evs.Items {
			got[it.Version] = it.Data.Summary
		}
		for v, marker := range before[c.id] {
			if got[v] != marker {
				t.Errorf("case %s: version %d (%q), acknowledged before the backup began, is not in the restored hub (found %q)", c.id, v, marker, got[v])
			}
			checked++
		}
	}
	if checked != ackedBefore || checked == 0 {
		t.Errorf("checked %d events; %d were acknowledged before the backup", checked, ackedBefore)
	}
	h2.Stop()
	if out, code := liaisonCmd(t, "audit", "verify", "--data", restored, "--keys", keys); code != 0 {
		t.Fatalf("audit verify on the restored directory: exit %d\n%s", code, out)
	} else {
		t.Logf("restored: %d events acknowledged before the backup found (of %d acknowledged in all); %s", checked, ackedAll, strings.TrimSpace(out))
	}
}

// Erasure survives a restore: a hub started on a backup taken before an
// erasure reads nothing of the erased case. The register of erasures kept
// with the keys applies the erasure again; the API answers as after the
// erasure; and no file of the restored data, the backup or the key
// directory holds the case's plaintext or its wrapped key.
func TestErasureSurvivesRestore(t *testing.T) {
	dir := t.TempDir()
	data, keys, backup, restored := filepath.Join(dir, "data"), filepath.Join(dir, "keys"), filepath.Join(dir, "backup"), filepath.Join(dir, "restored")
	h := startKeyedHub(t, data, keys)
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-erase"}
	ngo := identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ng-erase"}
	auditor := identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "aud-erase"}
	dpo1 := identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "dpo-erase-1"}
	dpo2 := identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "dpo-erase-2"}

	open := func(ref, marker string) string {
		res := h.do("POST", "/v1/cases", &prison, "", map[string]string{"subject_ref": ref, "target_group": "returnee", "gender": "female", "regime": "separation"})
		if res.Status != http.StatusCreated {
			t.Fatalf("open: %d %s", res.Status, res.Body)
		}
		id := res.json(t)["case_id"].(string)
		for _, ev := range []map[string]any{
			{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker + " intervention"}},
			{"type": "NeedsAssessmentRecorded", "data": map[string]any{"needs": []map[string]any{{"area": "housing", "level": "high", "note": marker + " needs"}}}},
		} {
			if res := h.do("POST", "/v1/cases/"+id+"/events", &prison, "", ev); res.Status != http.StatusCreated {
				t.Fatalf("append: %d %s", res.Status, res.Body)
			}
		}
		return id
	}
	erased := open("ERASE-2026-0001", "ERASED-CASE-MARKER-7f3a")
	kept := open("KEEP-2026-0002", "KEPT-CASE-MARKER-91c2")

	keyFile := func(caseID string) string {
		sum := sha256.Sum256([]byte(caseID))
		return filepath.Join(keys, "casekeys", hex.EncodeToString(sum[:16])+".key")
	}
	line, err := os.ReadFile(keyFile(erased))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(line))
	wrappedB64 := f[len(f)-1]
	wrapped, _ := base64.StdEncoding.DecodeString(wrappedB64)
	markers := [][]byte{[]byte("ERASED-CASE-MARKER-7f3a"), []byte("ERASE-2026-0001"), []byte(wrappedB64), wrapped}
	// The scan finds what is there: before the erasure, the key directory
	// holds the wrapped key.
	if found := scanFor(t, keys, markers); len(found) == 0 {
		t.Fatal("the scan does not find the wrapped key in the key directory before the erasure")
	}

	if out, code := liaisonCmd(t, "backup", "--data", data, "--to", backup); code != 0 {
		t.Fatalf("liaison backup: exit %d\n%s", code, out)
	}

	res := h.do("POST", "/v1/cases/"+erased+"/erase", &dpo1, "", map[string]string{"legal_basis": "subject-request", "reference": "DSR-2026-0001"})
	if res.Status != http.StatusAccepted {
		t.Fatalf("erasure request: %d %s", res.Status, res.Body)
	}
	req := res.json(t)["request_id"].(string)
	if res := h.do("POST", "/v1/erasures/"+req+"/confirm", &dpo2, "", nil); res.Status != http.StatusOK {
		t.Fatalf("erasure confirmation: %d %s", res.Status, res.Body)
	}
	h.Stop()

	// Restore the backup taken before the erasure, and start a hub on it with
	// the hub's key directory (never restored to an older state).
	copyTree(t, backup, restored)
	h2 := startKeyedHub(t, restored, keys)
	if !strings.Contains(h2.Output(), "erasure applied again to a restored log") {
		t.Errorf("the restored hub did not say it applied the erasure again:\n%s", h2.Tail(20))
	}
	for _, c := range []struct {
		who     identity
		purpose string
		want    int
	}{{prison, "case-management", http.StatusGone}, {ngo, "reintegration", http.StatusNotFound}} {
		for _, path := range []string{"", "/events", "/sections/interventions", "/sections/needs", "/sections/profile"} {
			if res := h2.do("GET", "/v1/cases/"+erased+path, &c.who, c.purpose, nil); res.Status != c.want {
				t.Errorf("%s GET %s on the restored hub: %d %s; want %d", c.who.Agency, path, res.Status, res.Body, c.want)
			} else if bytes.Contains(res.Body, []byte("MARKER")) {
				t.Errorf("%s GET %s: the answer holds the erased content", c.who.Agency, path)
			}
		}
	}
	list := h2.do("GET", "/v1/cases", &prison, "case-management", nil)
	if list.Status != http.StatusOK || bytes.Contains(list.Body, []byte(erased)) || !bytes.Contains(list.Body, []byte(kept)) {
		t.Errorf("the list on the restored hub: %d %s; want the kept case and not the erased one", list.Status, list.Body)
	}
	if res := h2.do("GET", "/v1/cases/"+kept+"/events", &prison, "case-management", nil); res.Status != http.StatusOK || !bytes.Contains(res.Body, []byte("KEPT-CASE-MARKER-91c2")) {
		t.Errorf("the kept case on the restored hub: %d %s", res.Status, res.Body)
	}
	reg := h2.do("GET", "/v1/erasures?status=confirmed", &dpo1, "oversight", nil)
	if reg.Status != http.StatusOK || !bytes.Contains(reg.Body, []byte(erased)) || !bytes.Contains(reg.Body, []byte("DSR-2026-0001")) {
		t.Errorf("the register of erasures on the restored hub: %d %s", reg.Status, reg.Body)
	}
	recs := h2.do("GET", "/v1/audit/records?sub=liaison:restore", &auditor, "oversight", nil)
	if recs.Status != http.StatusOK || !bytes.Contains(recs.Body, []byte(erased)) {
		t.Errorf("the access record of the erasure applied again: %d %s", recs.Status, recs.Body)
	}
	h2.Stop()

	// Bytes: nothing of the erased case is left to decrypt anywhere.
	for _, root := range []string{restored, backup, keys, data} {
		for _, hit := range scanFor(t, root, markers) {
			t.Errorf("%s holds %q of the erased case", hit.file, hit.what)
		}
	}
	if b, _ := os.ReadFile(keyFile(erased)); string(b) != "destroyed\n" {
		t.Errorf("the erased case's key file holds %q; want the tombstone", b)
	}
	if out, code := liaisonCmd(t, "audit", "verify", "--data", restored, "--keys", keys); code != 0 {
		t.Fatalf("audit verify on the restored directory: exit %d\n%s", code, out)
	}
}

type scanHit struct {
	file string
	what string
}

// scanFor returns the files under root that hold one of needles.
func scanFor(t testing.TB, root string, needles [][]byte) []scanHit {
	t.Helper()
	var hits []scanHit
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				what := string(n)
				if len(what) > 24 {
					what = what[:24] + "…"
				}
				hits = append(hits, scanHit{p, what})
			}
		}
		return nil
	})
	return hits
}
