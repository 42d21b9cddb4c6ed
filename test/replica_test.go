package liaison_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/esdb/esdbtest"
)

// TestSecondHubOnTheSameDataIsRefused: the embedded store's data directory is
// locked; a second hub says so clearly and exits.
func TestSecondHubOnTheSameDataIsRefused(t *testing.T) {
	h := startHub(t, "")
	out, err := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", h.data).CombinedOutput()
	if err == nil {
		t.Fatalf("a second hub started on the same data directory:\n%s", out)
	}
	if !strings.Contains(string(out), "in use by another liaison process") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	if r := h.do("GET", "/readyz", nil, "", nil); r.Status != 200 {
		t.Errorf("the first hub suffered: %d", r.Status)
	}
}

// TestMinPositionHeader: a read that names a position waits for it; a position
// the hub never reaches (one a replica sharing its token key reached) answers
// 503 after a bounded wait; junk, or a position of a hub with another key, is
// a 400. Positions are opaque: they tell a writer nothing of the hub's size.
func TestMinPositionHeader(t *testing.T) {
	h := startHub(t, "")
	open := func(h *hub, ref string) (string, string) {
		t.Helper()
		r := h.do("POST", "/v1/cases", &prisonCaseworker, "", map[string]any{"subject_ref": ref, "target_group": "returnee"})
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Body)
		}
		ans := r.json(t)
		pos, _ := ans["position"].(string)
		if _, err := strconv.ParseUint(pos, 10, 64); err == nil || pos == "" {
			t.Fatalf("position %q: want an opaque token", pos)
		}
		return ans["case_id"].(string), pos
	}
	id, pos := open(h, "POS-2026-0001")
	read := func(position string) response {
		t.Helper()
		return h.doWith("GET", "/v1/cases/"+id, &prisonCaseworker, "case-management", nil, map[string]string{"Liaison-Min-Position": position})
	}
	if got := read(pos); got.Status != 200 {
		t.Errorf("at the append's position: %d %s", got.Status, got.Body)
	}
	if got := read("yesterday"); got.Status != 400 {
		t.Errorf("junk position: %d, want 400", got.Status)
	}
	if got := read(pos[:len(pos)-2]); got.Status != 400 {
		t.Errorf("truncated position: %d, want 400", got.Status)
	}
	// A replica sharing the token key, further on in its log.
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(h.data, "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	ahead := startHub(t, dir)
	var further string
	for i := range 5 {
		_, further = open(ahead, "POS-2026-010"+strconv.Itoa(i))
	}
	start := time.Now()
	if got := read(further); got.Status != 503 || got.Header.Get("Retry-After") == "" {
		t.Errorf("a position never reached: %d (Retry-After %q), want 503 with Retry-After", got.Status, got.Header.Get("Retry-After"))
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("waited %v for an unreachable position", waited)
	}
	// A hub with another token key does not take this hub's positions.
	other := startHub(t, "")
	_, foreign := open(other, "POS-2026-0200")
	if got := read(foreign); got.Status != 400 {
		t.Errorf("a position of a hub with another key: %d, want 400", got.Status)
	}
}

// TestReplicatedHubsOnEventStoreDB runs the protocol scenarios against two hub
// processes sharing one EventStoreDB (issue 9): writes go through the first,
// reads through the second, which waits for each write's position.
//
// Without LIAISON_ESDB_URL it runs against the in-process fake cluster of
// eventlog/esdb/esdbtest (three nodes, gossip), which the hub processes reach
// over TCP like a real one.
func TestReplicatedHubsOnEventStoreDB(t *testing.T) {
	url := os.Getenv("LIAISON_ESDB_URL")
	if url == "" {
		url = esdbtest.Start(t, esdbtest.Options{}).URL("", "")
	}
	a, b := startReplicas(t, url)
	a.peer = b
	for _, file := range []string{"testdata/scenarios.json", "testdata/scenarios_liaison.json"} {
		for _, sc := range loadScenarios(t, file) {
			t.Run(sc.Name, func(t *testing.T) { runScenario(t, a, sc) })
		}
	}
}

// startReplicas starts two hub processes on the cluster at url, sharing the
// master key, the token key and the checkpoint key (in a deployment: one
// Kubernetes Secret); extra flags go to both.
func startReplicas(t *testing.T, url string, extra ...string) (*hub, *hub) {
	t.Helper()
	args := append([]string{"--store", "esdb", "--esdb-url", url}, extra...)
	a := startHub(t, "", args...)
	dirB := t.TempDir()
	for _, f := range []string{"master.key", "dev-token-key.pem", "token.key", "checkpoint.key", "checkpoint.pub"} {
		b, err := os.ReadFile(filepath.Join(a.data, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return a, startHub(t, dirB, args...)
}
