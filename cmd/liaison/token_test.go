package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/api"
)

// TestTokenRefusesWhatNoHubWouldAccept: "liaison token" mints only for an
// organisation of the directory with roles of its type, and only with the
// development key of a hub's data directory, which it never creates.
func TestTokenRefusesWhatNoHubWouldAccept(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	if _, err := api.LoadOrCreateDevKey(data); err != nil {
		t.Fatal(err)
	}
	mint := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"token"}, args...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	t.Run("a known organisation and role get a token", func(t *testing.T) {
		out, errOut, code := mint("--data", data, "--agency", "prison-service", "--roles", "caseworker,manager", "--sub", "pc-anna")
		if code != 0 || strings.Count(out, ".") != 2 {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"an unknown organisation is refused", []string{"--agency", "rogue-agency", "--roles", "caseworker"}, "not an organisation of the directory"},
		{"a role of another organisation type is refused", []string{"--agency", "exit-ngo", "--roles", "caseworker"}, `"caseworker" is not a role of exit-ngo`},
		{"an unknown role is refused", []string{"--agency", "prison-service", "--roles", "caseworker,janitor"}, `"janitor" is not a role`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := mint(append([]string{"--data", data, "--sub", "x-1"}, c.args...)...)
			if code == 0 || out != "" || !strings.Contains(errOut, c.says) {
				t.Errorf("exit %d, stdout %q, stderr %q; want a refusal saying %q", code, out, errOut, c.says)
			}
		})
	}
	t.Run("a data directory without a hub's key is refused and left alone", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nowhere")
		out, errOut, code := mint("--data", missing, "--agency", "prison-service", "--roles", "caseworker", "--sub", "pc-anna")
		if code == 0 || out != "" || !strings.Contains(errOut, "liaison serve --data") {
			t.Errorf("exit %d, stdout %q, stderr %q; want a refusal saying what to do", code, out, errOut)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Errorf("the data directory was created: %v", err)
		}
	})
}
