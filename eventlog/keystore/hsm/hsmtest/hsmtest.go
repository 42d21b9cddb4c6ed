// Package hsmtest makes SoftHSM tokens for tests: a token directory of the
// test's own, initialised with softhsm2-util, and the module that serves it.
// Tests that need one skip, saying how to install SoftHSM, where it is not
// installed (CI installs it: .ci/run).
package hsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/keystore/hsm"
)

// Modules are the places SoftHSM's PKCS#11 module is installed by Debian,
// Ubuntu, Fedora, Alpine and Homebrew.
var Modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// Module returns the path of SoftHSM's module, "" when it is not installed
// (or the build has no cgo, so no module can be loaded).
func Module() string {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return ""
	}
	if _, err := hsm.Open(hsm.Config{Module: "/", Token: "x"}); err == hsm.ErrNoSupport {
		return ""
	}
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			return m
		}
	}
	return ""
}

// Token creates a SoftHSM token labelled label with user PIN pin in a
// directory of the test's own, points SOFTHSM2_CONF at it for the rest of the
// test (child processes inherit it), and returns the configuration to reach
// it. It skips the test, saying how to install SoftHSM, where it is missing.
func Token(t testing.TB, label, pin string) hsm.Config {
	t.Helper()
	module := Module()
	if module == "" {
		t.Skipf("SoftHSM is not installed (or this build has no cgo): install it (Debian: apt-get install -y softhsm2; %s) to run the PKCS#11 tests", runtime.GOOS)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "so-"+pin, "--pin", pin).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return hsm.Config{Module: module, Token: label, PIN: pin}
}
