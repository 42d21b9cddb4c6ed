package liaison_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/test/proc"
)

// The witness of these tests is filippo.io/torchwood's litewitness, a real
// C2SP tlog-witness, built from the module and run as its own process, with
// its key in an SSH agent (this test serves one) and its logs in SQLite
// (witnessctl adds the hub's).
var (
	witnessTools    sync.Once
	witnessToolsDir string
	witnessToolsErr error
)

func buildWitnessTools(t testing.TB) string {
	t.Helper()
	witnessTools.Do(func() {
		witnessToolsDir, witnessToolsErr = os.MkdirTemp("", "liaison-test-witness-")
		for _, tool := range []string{"litewitness", "witnessctl"} {
			if witnessToolsErr != nil {
				return
			}
			out, err := exec.Command("go", "build", "-o", filepath.Join(witnessToolsDir, tool), "filippo.io/torchwood/cmd/"+tool).CombinedOutput()
			if err != nil {
				witnessToolsErr = fmt.Errorf("building %s: %v\n%s", tool, err, out)
			}
		}
	})
	if witnessToolsErr != nil {
		t.Fatal(witnessToolsErr)
	}
	return witnessToolsDir
}

// witness is a litewitness process, its database and its key: Start and
// Stop it again and it is the same witness.
type witness struct {
	t      testing.TB
	dir    string
	addr   string // 127.0.0.1:port, the same across restarts
	name   string
	signer *torchwood.CosignatureSigner
	pub    ed25519.PublicKey
	vkey   string // its verifier key, "name+hash+key"
	sock   string
	p      *proc.Process
}

// newWitness makes a witness that knows the access log of the hub whose
// checkpoint verifier key is hubKey, and starts it.
func newWitness(t testing.TB, hubKey string) *witness {
	t.Helper()
	bin := buildWitnessTools(t)
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &witness{t: t, dir: dir, name: "oversight.example/witness", pub: pub, sock: filepath.Join(dir, "agent.sock")}
	if w.signer, err = torchwood.NewCosignatureSigner(w.name, priv); err != nil {
		t.Fatal(err)
	}
	w.vkey = w.signer.Verifier().String()
	// The SSH agent holding the witness's key.
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", w.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(keyring, c) }()
		}
	}()
	// The hub's log, known to the witness from size 0.
	db := filepath.Join(dir, "witness.db")
	for _, args := range [][]string{
		{"add-log", "-db", db, "-origin", transparency.AccessOrigin},
		{"add-key", "-db", db, "-origin", transparency.AccessOrigin, "-key", hubKey},
	} {
		if out, err := exec.Command(filepath.Join(bin, "witnessctl"), args...).CombinedOutput(); err != nil {
			t.Fatalf("witnessctl %s: %v\n%s", args[0], err, out)
		}
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.addr = free.Addr().String()
	free.Close()
	w.start()
	t.Cleanup(w.stop)
	return w
}

func (w *witness) start() {
	w.t.Helper()
	sshPub, err := ssh.NewPublicKey(w.pub)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := proc.Start("litewitness", filepath.Join(buildWitnessTools(w.t), "litewitness"),
		"-name", w.name, "-db", filepath.Join(w.dir, "witness.db"), "-ssh-agent", w.sock,
		"-listen", w.addr, "-key", ssh.FingerprintSHA256(sshPub))
	if err != nil {
		w.t.Fatal(err)
	}
	w.p = p
	// It logs its verifier key: the one the hub is configured with.
	if m, err := p.WaitLine(regexp.MustCompile(`vkey=(\S+)`), 10*time.Second); err != nil || m[1] != w.vkey {
		w.t.Fatalf("litewitness's verifier key %v (%v), want %s", m, err, w.vkey)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", w.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("litewitness does not listen on %s: %v\n%s", w.addr, err, p.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *witness) stop() {
	if w.p != nil {
		w.p.Stop()
		w.p = nil
	}
}

// flag is the hub's --witness value for w.
func (w *witness) flag() string { return "http://" + w.addr + "=" + w.vkey }

// cosigned reports whether the signed note carries w's valid cosignature,
// checked with torchwood's verifier.
func (w *witness) cosigned(signed string) bool {
	n, err := note.Open([]byte(signed), note.VerifierList(w.signer.Verifier()))
	return err == nil && len(n.Sigs) == 1
}

// witnessedCheckpoint is the access log's checkpoint as the hub answers it.
type witnessedCheckpoint struct {
	Size      uint64                      `json:"size"`
	Note      string                      `json:"note"`
	Witnesses []transparency.WitnessState `json:"witnesses"`
}

var auditorW = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "aud-witness"}

func checkpointOf(t *testing.T, h *hub) witnessedCheckpoint {
	t.Helper()
	res := h.do("GET", "/v1/audit/checkpoint", &auditorW, "oversight", nil)
	var cp witnessedCheckpoint
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &cp) != nil {
		t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
	}
	return cp
}

// waitWitness polls the hub's checkpoint until cond holds of it, for at most
// 60 s.
func waitWitness(t *testing.T, h *hub, what string, cond func(witnessedCheckpoint) bool) witnessedCheckpoint {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cp := checkpointOf(t, h)
		if cond(cp) {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last checkpoint %+v\n%s", what, cp, h.Tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hubKey creates the checkpoint key of a data directory before the hub's
// first start, so that the witness can know it, and returns its verifier key.
func hubKey(t *testing.T, data string) string {
	t.Helper()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	k, err := transparency.LoadOrCreateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k.VerifierKey
}

var witnessArgs = []string{"--witness-interval", "100ms", "--checkpoint-interval", "200ms"}

// The hub's checkpoints are cosigned by the witness, served with the
// cosignature, and audit verify --witness passes on them; with a witness that
// never cosigned, it fails, naming it.
func TestWitnessCosigns(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	w := newWitness(t, hubKey(t, data))
	h := startHub(t, data, append(witnessArgs, "--witness", w.flag())...)
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-witness"}
	writeMarked(t, h, prison, "WIT-2026-0001", "one")
	first := waitWitness(t, h, "a cosigned checkpoint", func(cp witnessedCheckpoint) bool {
		return len(cp.Witnesses) == 1 && cp.Witnesses[0].CosignedSize == cp.Size && cp.Size > 0
	})
	if !w.cosigned(first.Note) {
		t.Fatalf("the checkpoint served does not carry the witness's cosignature:\n%s", first.Note)
	}
	if first.Witnesses[0].Name != w.name || first.Witnesses[0].VerifierKey != w.vkey || first.Witnesses[0].Refused != "" {
		t.Errorf("witness state %+v", first.Witnesses[0])
	}
	// The signed note itself, as a tlog client fetches it, carries it too.
	res := h.doWith("GET", "/v1/audit/checkpoint", &auditorW, "oversight", nil, map[string]string{"Accept": "text/plain"})
	if res.Status != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("checkpoint as text: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	if _, err := note.Open(res.Body, note.VerifierList(mustVerifier(t, hubKeyOf(t, data)))); err != nil {
		t.Errorf("the text checkpoint does not open with the hub's key: %v\n%s", err, res.Body)
	}
	// Cosigning follows the log: a later checkpoint is cosigned too.
	writeMarked(t, h, prison, "WIT-2026-0002", "two")
	waitWitness(t, h, "a later checkpoint cosigned", func(cp witnessedCheckpoint) bool {
		return cp.Witnesses[0].CosignedSize > first.Size && cp.Witnesses[0].CosignedSize == cp.Size && w.cosigned(cp.Note)
	})
	h.Stop() // its final checkpoint is offered to the witness at shutdown

	out, code := liaisonCmd(t, "audit", "verify", "--data", data, "--witness", w.vkey)
	if code != 0 || !strings.Contains(out, "intact") || !strings.Contains(out, "is cosigned by "+w.name) {
		t.Fatalf("audit verify --witness: exit %d\n%s", code, out)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other, err := torchwood.NewCosignatureSigner("elsewhere.example/witness", otherKey)
	if err != nil {
		t.Fatal(err)
	}
	out, code = liaisonCmd(t, "audit", "verify", "--data", data, "--witness", w.vkey, "--witness", other.Verifier().String())
	if code != 1 || !strings.Contains(out, "NOT WITNESSED") || !strings.Contains(out, "not cosigned by the witness "+other.Name()) ||
		!strings.Contains(out, "has cosigned none") {
		t.Fatalf("audit verify with a witness that never cosigned: exit %d\n%s", code, out)
	}
}

// A hub restored from an older copy of its data directory goes on from
// there: its log is internally consistent (audit verify alone passes), but
// the witness, which cosigned the longer log, refuses its checkpoints, and
// audit verify --witness fails saying so.
func TestWitnessCatchesRollback(t *testing.T) {
	dir := t.TempDir()
	data, old := filepath.Join(dir, "data"), filepath.Join(dir, "old")
	w := newWitness(t, hubKey(t, data))
	// The witness from a file, as an operator lists them.
	list := filepath.Join(dir, "witnesses")
	if err := os.WriteFile(list, []byte("# the oversight board's witness\n\n"+w.flag()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(witnessArgs, "--witness-file", list)
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-rollback"}

	h := startHub(t, data, args...)
	writeMarked(t, h, prison, "ROLL-2026-0001", "before the copy")
	h.Stop()
	copyTree(t, data, old) // the older copy
	h = startHub(t, data, args...)
	for i := range 5 {
		writeMarked(t, h, prison, fmt.Sprintf("ROLL-2026-01%02d", i), "after the copy")
	}
	long := waitWitness(t, h, "the longer log cosigned", func(cp witnessedCheckpoint) bool {
		return cp.Witnesses[0].CosignedSize == cp.Size && w.cosigned(cp.Note)
	})
	h.Stop()

	// The rollback: the hub is started on the older copy.
	h = startHub(t, old, args...)
	writeMarked(t, h, prison, "ROLL-2026-0200", "after the rollback")
	refused := waitWitness(t, h, "the witness's refusal", func(cp witnessedCheckpoint) bool {
		return strings.Contains(cp.Witnesses[0].Refused, "rolled back")
	})
	if w.cosigned(refused.Note) {
		t.Fatalf("after the rollback the checkpoint of %d records (the witness cosigned %d before) is cosigned", refused.Size, long.Size)
	}
	t.Logf("the witness refused: %s", refused.Witnesses[0].Refused)
	if !strings.Contains(h.Output(), "WITNESS REFUSED") {
		t.Errorf("the hub does not log the refusal:\n%s", h.Tail(20))
	}
	// Grown past the tree the witness cosigned, the restored log is a fork:
	// the witness checks the hub's consistency proof from its own tree and
	// refuses it.
	deadline := time.Now().Add(60 * time.Second)
	for n := 0; ; n++ {
		cp := checkpointOf(t, h)
		if strings.Contains(cp.Witnesses[0].Refused, "does not extend") {
			if w.cosigned(cp.Note) || cp.Size <= long.Size {
				t.Fatalf("the fork of %d records: cosigned %v", cp.Size, w.cosigned(cp.Note))
			}
			t.Logf("the witness refused the fork of %d records: %s", cp.Size, cp.Witnesses[0].Refused)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the witness never refused the fork; last checkpoint %+v", cp)
		}
		writeMarked(t, h, prison, fmt.Sprintf("ROLL-2026-03%02d", n), "the fork grows")
	}
	h.Stop()

	if out, code := liaisonCmd(t, "audit", "verify", "--data", old); code != 0 {
		t.Fatalf("audit verify without a witness: exit %d (the copy is consistent in itself)\n%s", code, out)
	}
	out, code := liaisonCmd(t, "audit", "verify", "--data", old, "--witness", w.vkey)
	if code != 1 || !strings.Contains(out, "NOT WITNESSED") || !strings.Contains(out, "rolled back") ||
		!strings.Contains(out, "it last cosigned checkpoint") {
		t.Fatalf("audit verify --witness after the rollback: exit %d\n%s", code, out)
	}
	t.Logf("audit verify --witness:\n%s", out)
}

// A witness that does not answer delays no answer of the hub; once it is
// back, cosigning catches up.
func TestWitnessDownDelaysNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	w := newWitness(t, hubKey(t, data))
	h := startHub(t, data, append(witnessArgs, "--witness", w.flag())...)
	prison := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-down"}
	id := writeMarked(t, h, prison, "DOWN-2026-0001", "one")
	waitWitness(t, h, "a cosigned checkpoint", func(cp witnessedCheckpoint) bool {
		return cp.Witnesses[0].CosignedSize == cp.Size && cp.Size > 0
	})

	// The witness stops; in its place a listener takes connections and
	// never answers, so that every submission hangs until it times out (5 s).
	w.stop()
	hole, err := net.Listen("tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var hmu sync.Mutex
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
			hmu.Lock()
			held = append(held, c)
			hmu.Unlock()
		}
	}()
	// Calls made meanwhile are answered well before a submission could time
	// out: each has half the witness's timeout.
	quick := &http.Client{Timeout: transparency.DefaultWitnessTimeout / 2}
	until := time.Now().Add(3 * transparency.DefaultWitnessTimeout / 2)
	calls := 0
	for time.Now().Before(until) {
		// A caseworker's read, and an auditor's checkpoint, which shows what
		// the hub knows of the witness.
		for _, c := range []struct {
			path, purpose string
			who           identity
		}{{"/v1/cases/" + id + "/events", "case-management", prison}, {"/v1/audit/checkpoint", "oversight", auditorW}} {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", h.Base+c.path, nil)
			req.Header.Set("Authorization", "Bearer "+h.token(c.who))
			req.Header.Set("Liaison-Purpose", c.purpose)
			res, err := quick.Do(req)
			if err != nil {
				t.Fatalf("GET %s while the witness hangs: %v", c.path, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s while the witness hangs: %d", c.path, res.StatusCode)
			}
			calls++
		}
	}
	down := waitWitness(t, h, "the hub to find the witness unreachable", func(cp witnessedCheckpoint) bool {
		return strings.Contains(cp.Witnesses[0].Refused, "unreachable") && cp.Witnesses[0].CosignedSize < cp.Size
	})
	hmu.Lock()
	if len(held) == 0 {
		t.Error("the hub never reached the hanging witness")
	}
	hole.Close()
	for _, c := range held {
		c.Close()
	}
	hmu.Unlock()
	t.Logf("%d calls answered while the witness hung; it had cosigned %d of %d records", calls, down.Witnesses[0].CosignedSize, down.Size)

	// Back: the witness cosigns the latest checkpoint, consistent with the
	// one it cosigned before.
	w.start()
	back := waitWitness(t, h, "cosigning to catch up", func(cp witnessedCheckpoint) bool {
		return cp.Witnesses[0].CosignedSize >= down.Size && cp.Witnesses[0].Refused == "" && w.cosigned(cp.Note)
	})
	t.Logf("caught up: the witness cosigned %d records", back.Witnesses[0].CosignedSize)
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hubKeyOf reads the current checkpoint verifier key of a data directory
// (its checkpoint.pub), as an auditor keeps it.
func hubKeyOf(t *testing.T, data string) string {
	t.Helper()
	k, err := transparency.ReadVerifierKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
