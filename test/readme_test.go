package liaison_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeWalkThrough runs the README's curl walk-through, as printed, against a
// hub (only the port and the binary's path are adapted), so that the README stays
// true.
func TestReadmeWalkThrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## A walk through the API with curl")
	if !ok {
		t.Fatal("the README has no curl walk-through")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	script, _, _ := strings.Cut(rest, "```")
	work := t.TempDir()
	h := startHub(t, filepath.Join(work, "liaison-data"))
	script = strings.ReplaceAll(script, "go build -o liaison ./cmd/liaison", "cp "+binary+" liaison")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", h.Base)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	text := string(out)
	// The prison's read, the exit worker's refusal, then its read with consent.
	first := strings.Index(text, `"section":"needs"`)
	refusal := strings.Index(text, `"status":404`)
	last := strings.LastIndex(text, `"section":"needs"`)
	if first < 0 || refusal < first || last < refusal {
		t.Errorf("the walk-through did not show read, refusal, read:\n%s", text)
	}
	if strings.Count(text, "no address after release") < 2 {
		t.Errorf("the needs assessment was not read twice:\n%s", text)
	}
}
