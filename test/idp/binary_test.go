package idp_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/test/idp"
)

// TestBinaryBuilds builds (or finds cached) the Hydra binary and checks that
// it is HydraVersion. .ci/run starts it in the background before the whole
// suite, so that a cold build overlaps the tests that do not need Hydra.
func TestBinaryBuilds(t *testing.T) {
	idp.SkipIfDisabled(t)
	start := time.Now()
	bin := idp.Binary(t)
	t.Logf("Hydra binary %s ready in %v", bin, time.Since(start).Round(time.Millisecond))
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), idp.HydraVersion) {
		t.Errorf("%s version: %v\n%s", bin, err, out)
	}
}
