package idp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HydraVersion is the Ory Hydra release the harness builds; the nested module
// in ./hydra pins it.
const HydraVersion = "v2.3.0"

// hydraPackage is Hydra's main package, a tool of the nested module.
const hydraPackage = "github.com/ory/hydra/v2"

// buildArgs are the arguments of go build after "build": the sqlite tag is
// what makes DSN=memory work, and the version is what "hydra version" and the
// logs report.
var buildArgs = []string{
	"-tags", "sqlite",
	"-ldflags", "-X github.com/ory/hydra/v2/driver/config.Version=" + HydraVersion,
}

// staleLock is the age past which a build lock left by another process is
// taken for abandoned even when its process id is in use.
const staleLock = 30 * time.Minute

// badEnvOnce says once per process that LIAISON_HYDRA names no file.
var badEnvOnce sync.Once

var built struct {
	mu   sync.Mutex
	done bool
	path string
	err  string
}

// Binary returns the path of an Ory Hydra HydraVersion binary, built with the
// sqlite tag from the nested module test/idp/hydra the first time on this
// machine and cached under the user cache directory
// (os.UserCacheDir()/liaison-hydra/<version>-<hash>/hydra, the hash covering
// the nested go.mod and go.sum, the Go version and the build flags), then
// reused by every later test process. A build is written to a temporary name
// and renamed, and a lock file next to it makes concurrent test processes
// wait for one build instead of each running their own.
//
// When the environment variable LIAISON_HYDRA names an existing file, Binary
// returns it and builds nothing. A build that fails, or that cannot finish
// before the test's deadline, fails the test with the tail of go build's
// output: a test that needs the provider never passes without it.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LIAISON_HYDRA"); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
		badEnvOnce.Do(func() { t.Logf("idp: LIAISON_HYDRA=%q is no file; building Hydra instead", p) })
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if !built.done {
		built.path, built.err = build(t)
		built.done = true
	}
	if built.err != "" {
		t.Fatal(built.err)
	}
	return built.path
}

// build finds or builds the cached binary; it returns the path, or a message
// for t.Fatal.
func build(t testing.TB) (string, string) {
	t.Helper()
	dir, err := moduleDir()
	if err != nil {
		return "", "idp: " + err.Error()
	}
	key := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", "idp: " + err.Error()
		}
		fmt.Fprintf(key, "%s %d\n", name, len(b))
		key.Write(b)
	}
	fmt.Fprintf(key, "%s %s/%s %q\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, buildArgs)
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	cache := filepath.Join(root, "liaison-hydra", HydraVersion+"-"+hex.EncodeToString(key.Sum(nil))[:12])
	final := filepath.Join(cache, "hydra")
	if runtime.GOOS == "windows" {
		final += ".exe"
	}
	if isFile(final) {
		return final, ""
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", "idp: " + err.Error()
	}

	ctx := context.Background()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
			defer cancel()
		}
	}
	unlock, msg := lock(ctx, t, final)
	if msg != "" || unlock == nil {
		return final, msg // nil unlock: another process built it meanwhile
	}
	defer unlock()
	// Holding the lock, no other build runs: what temporary files there are
	// were left by builds that were killed.
	if old, _ := filepath.Glob(final + ".*.tmp"); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}

	tmp := fmt.Sprintf("%s.%d-%d.tmp", final, os.Getpid(), time.Now().UnixNano())
	args := append([]string{"build"}, buildArgs...)
	args = append(args, "-o", tmp, hydraPackage)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	// GOWORK=off: the nested module builds alone even if a go.work is
	// around; cgo: the sqlite driver (mattn/go-sqlite3) is C.
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=1")
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Logf("idp: building Ory Hydra %s into %s (go %s in %s; a few minutes the first time)", HydraVersion, final, strings.Join(args, " "), dir)
	start := time.Now()
	err = cmd.Run()
	if err != nil {
		os.Remove(tmp)
		why := err.Error()
		if ctx.Err() != nil {
			why = "the test's deadline came first: run go test with -timeout 30m, or build once beforehand (see test/idp/README.md)"
		}
		return "", fmt.Sprintf("idp: building Ory Hydra %s failed after %v: %s\n(cd %s && GOWORK=off CGO_ENABLED=1 go %s)\n%s",
			HydraVersion, time.Since(start).Round(time.Second), why, dir, strings.Join(args, " "), tail(out.String(), 40))
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", "idp: " + err.Error()
	}
	t.Logf("idp: built Ory Hydra %s in %v", HydraVersion, time.Since(start).Round(100*time.Millisecond))
	return final, ""
}

// lock takes the build lock of final. It returns a nil unlock and no message
// once final exists (another process built it while this one waited).
func lock(ctx context.Context, t testing.TB, final string) (unlock func(), msg string) {
	t.Helper()
	name := final + ".lock"
	logged := false
	for {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			if isFile(final) {
				os.Remove(name)
				return nil, ""
			}
			return func() { os.Remove(name) }, ""
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "idp: " + err.Error()
		}
		if isFile(final) {
			return nil, ""
		}
		if lockAbandoned(name) {
			os.Remove(name)
			continue
		}
		if !logged {
			t.Logf("idp: waiting for another process building Hydra (lock %s)", name)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, "idp: gave up waiting for another process's Hydra build before the test's deadline (lock " + name + ")"
		case <-time.After(time.Second):
		}
	}
}

// lockAbandoned reports whether the lock file name was left by a process that
// is gone, or is older than staleLock.
func lockAbandoned(name string) bool {
	fi, err := os.Stat(name)
	if err != nil {
		return false // removed meanwhile: the next create tells
	}
	if time.Since(fi.ModTime()) > staleLock {
		return true
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		// Being written right now, or garbage: only its age tells.
		return time.Since(fi.ModTime()) > 10*time.Second
	}
	if runtime.GOOS == "windows" {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	return p.Signal(syscall.Signal(0)) != nil
}

// moduleDir finds the nested module test/idp/hydra: next to this source file,
// or else above the working directory.
func moduleDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "hydra")
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		dir := filepath.Join(d, "test", "idp", "hydra")
		if isFile(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no test/idp/hydra/go.mod next to the idp package's source or above %s", wd)
		}
	}
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
