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
// (docs/targets.md, R4): event decoding and validation, and the projections'
// reading of event data, in CI; with LIAISON_FUZZ=all, tokens and query
// parameters through the API too. Instrumenting the API's dependencies (OPA,
// Pebble) costs many minutes on a cold build cache, more than CI's budget; the
// API targets' seed corpora run as plain tests of ./api on every run.
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
			corpus := filepath.Join("..", tg.pkg, "testdata", "fuzz", tg.name)
			before := corpusFiles(corpus)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil && shutdownRace(out, len(corpusFiles(corpus)) > len(before)) {
				// Go 1.26's fuzzing coordinator can report the end of
				// -fuzztime itself as a failure (go.dev/issue/75804,
				// fixed in Go 1.27): no input failed and none was
				// written. Anything else the fuzzer says still fails.
				t.Logf("the fuzzing coordinator's shutdown race (go.dev/issue/75804), no failing input:\n%s", lastLines(out, 3))
				return
			}
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

// shutdownRace reports whether a fuzzing run's failure is only Go 1.26's
// coordinator race at the end of -fuzztime (go.dev/issue/75804): its one
// complaint is "context deadline exceeded", it wrote no failing input, and
// it names no panic, no failing seed and no t.Error of a target.
func shutdownRace(out []byte, wroteInput bool) bool {
	if wroteInput {
		return false
	}
	s := string(out)
	for _, real := range []string{"Failing input written", "failure while testing seed corpus entry", "panic:", "fuzzing process hung", "_test.go:"} {
		if strings.Contains(s, real) {
			return false
		}
	}
	return strings.Contains(s, "context deadline exceeded")
}

// corpusFiles lists the inputs in a fuzz target's corpus directory.
func corpusFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
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

// TestShutdownRaceIsOnlyTheCoordinatorsDeadline checks that the fuzz runner
// passes over Go 1.26's end-of-fuzztime race and over nothing else.
func TestShutdownRaceIsOnlyTheCoordinatorsDeadline(t *testing.T) {
	race := "fuzz: elapsed: 13s, execs: 208196 (31809/sec), new interesting: 85 (total: 143)\n--- FAIL: FuzzParseAppendRequest (12.88s)\n    context deadline exceeded\nFAIL\n"
	found := "fuzz: elapsed: 2s, execs: 1200 (600/sec)\n--- FAIL: FuzzParseAppendRequest (2.01s)\n    --- FAIL: FuzzParseAppendRequest (0.00s)\n        domain_fuzz_test.go:31: accepted a body with a trailing comma\n    Failing input written to testdata/fuzz/FuzzParseAppendRequest/5f1e\n    To re-run:\n    go test -run=FuzzParseAppendRequest/5f1e\nFAIL\n"
	panicked := "--- FAIL: FuzzDecodeData (3.00s)\n    panic: runtime error: index out of range\n    context deadline exceeded\nFAIL\n"
	for _, c := range []struct {
		name  string
		out   string
		wrote bool
		want  bool
	}{
		{"bare deadline, nothing written", race, false, true},
		{"bare deadline, an input written", race, true, false},
		{"a failing input", found, true, false},
		{"a failing input, not seen written", found, false, false},
		{"a panic beside the deadline", panicked, false, false},
		{"a failing seed", "failure while testing seed corpus entry: FuzzX/seed\ncontext deadline exceeded", false, false},
		{"another error", "--- FAIL: FuzzX (1.00s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\n", false, false},
	} {
		if got := shutdownRace([]byte(c.out), c.wrote); got != c.want {
			t.Errorf("%s: shutdownRace = %v, want %v", c.name, got, c.want)
		}
	}
}
