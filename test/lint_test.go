package liaison_test

import (
	"os"
	"os/exec"
	"testing"
)

// staticcheckVersion is the staticcheck release CI runs.
const staticcheckVersion = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

// TestVetAndStaticcheck keeps the tree go vet and staticcheck clean. It runs in
// CI (CI=true) or with LIAISON_LINT=1: staticcheck is fetched through the Go
// module proxy.
func TestVetAndStaticcheck(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("LIAISON_LINT") != "1" {
		t.Skip("set LIAISON_LINT=1 (CI sets CI=true) to run go vet and staticcheck over the tree")
	}
	for _, args := range [][]string{{"vet", "./..."}, {"run", staticcheckVersion, "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
}
