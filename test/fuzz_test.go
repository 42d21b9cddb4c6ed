package liaison_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzPackages are the packages whose fuzz targets TestShortFuzzRuns runs
// (TARGETS R4): event decoding and validation, and the projections' reading
// of event data, in CI; with LIAISON_FUZZ=all,
// tokens and query parameters through the API too. Instrumenting the API's
// dependencies (OPA, Pebble) costs many minutes on a cold build cache, more
// than CI's budget; the API targets' seed corpora run as plain tests of ./api
// on every run.
func fuzzPackages() []string {
	if os.Getenv("LIAISON_FUZZ") == "all" {
		return []string{"domain", "projections/internal/extract", "api"}
	}
	return []string{"domain", "projections/internal/extract"}
}

// TestShortFuzzRuns runs every fuzz target of fuzzPackages for a few seconds,
// one process per target, one after the other, when CI=true or
// LIAISON_FUZZ is set, and fails with the fuzzer's output when one finds a
// failure (the failing input is then written to the package's
// testdata/fuzz/<target>/, where it stays as a regression seed).
// LIAISON_FUZZ_BUDGET (default 64s) is shared between the targets. Without
// either variable the seed corpora still run, as plain tests of their
// packages.
//
// Each package's test binary is built once with coverage instrumentation
// (go test -c -fuzz=.), which instruments every dependency too: on a cold
// build cache that build of ./api (OPA, Pebble) takes minutes, not seconds.
func TestShortFuzzRuns(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("LIAISON_FUZZ") == "" {
		t.Skip("set LIAISON_FUZZ=1 (domain, event data extraction) or LIAISON_FUZZ=all (and the API); CI sets CI=true")
	}
	budget := 64 * time.Second
	if v := os.Getenv("LIAISON_FUZZ_BUDGET"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LIAISON_FUZZ_BUDGET: %v", err)
		}
		budget = d
	}
	type target struct{ pkg, bin, name string }
	var targets []target
	for _, pkg := range fuzzPackages() {
		bin := filepath.Join(t.TempDir(), pkg+".fuzz.test")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout(t))
		build := exec.CommandContext(ctx, "go", "test", "-c", "-fuzz=.", "-o", bin, "./"+pkg)
		build.Dir = ".."
		out, err := build.CombinedOutput()
		cancel()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("building the instrumented test binary of ./%s took longer than the test has left; warm the build cache (go test -c -fuzz=. ./%s)", pkg, pkg)
		}
		if err != nil {
			t.Fatalf("go test -c -fuzz=. ./%s: %v\n%s", pkg, err, out)
		}
		list, err := exec.Command(bin, "-test.list=^Fuzz").Output()
		if err != nil {
			t.Fatalf("listing the fuzz targets of ./%s: %v", pkg, err)
		}
		for _, name := range strings.Fields(string(list)) {
			targets = append(targets, target{pkg, bin, name})
		}
	}
	if len(targets) == 0 {
		t.Fatal("no fuzz targets")
	}
	each := max(budget/time.Duration(len(targets)), 2*time.Second)
	cache := t.TempDir()
	for _, tg := range targets {
		t.Run(tg.pkg+"/"+tg.name+" finds no failure", func(t *testing.T) {
			if d, ok := t.Deadline(); ok && time.Until(d) < each+time.Minute {
				t.Skip("not enough time left before the test's deadline")
			}
			cmd := exec.Command(tg.bin, "-test.run=^$", "-test.fuzz=^"+tg.name+"$", "-test.fuzztime="+each.String(),
				"-test.fuzzminimizetime=1s", "-test.fuzzcachedir="+filepath.Join(cache, tg.pkg))
			cmd.Dir = filepath.Join("..", tg.pkg)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				where := "the failing input is now in " + tg.pkg + "/testdata/fuzz/" + tg.name + "/"
				if strings.Contains(string(out), "failure while testing seed corpus entry") {
					where = "a seed of " + tg.pkg + "/testdata/fuzz/" + tg.name + "/ fails"
				}
				t.Errorf("go test -run=^$ -fuzz=^%s$ -fuzztime=%s ./%s failed after %s (%s):\n%s",
					tg.name, each, tg.pkg, time.Since(start).Round(time.Second), where, lastLines(out, 60))
				return
			}
			t.Logf("%s", lastLines(out, 2))
		})
	}
}

// buildTimeout is how long a build may take: what the test has left but two
// minutes, at most 20 minutes.
func buildTimeout(t *testing.T) time.Duration {
	d, ok := t.Deadline()
	if !ok {
		return 20 * time.Minute
	}
	return min(time.Until(d)-2*time.Minute, 20*time.Minute)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
