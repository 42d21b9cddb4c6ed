package policies_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/policies"
	"github.com/open-policy-agent/opa/v1/ast"
)

// minimalData is a directory of two organisations, enough for New.
const minimalData = `{"protocol": {"organisations": {"prison-service": "prison", "exit-ngo": "civil-society"}}}`

// writeBundle writes a bundle of the given files (name → content) to a
// temporary directory.
func writeBundle(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarball archives dir as an OPA bundle (.tar.gz).
func tarball(t testing.TB, dir string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "bundle.tar.gz")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// load loads a bundle that must be accepted.
func load(t testing.TB, path string) *policies.Bundle {
	t.Helper()
	b, err := policies.Load(context.Background(), path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return b
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	dir := bundleDir(t, nil)

	t.Run("a directory and an archive of the default bundle load with its revision", func(t *testing.T) {
		want := policies.Default().Revision()
		if got := load(t, dir).Revision(); got != want {
			t.Errorf("directory revision = %s, want %s", got, want)
		}
		if got := load(t, tarball(t, dir)).Revision(); got != want {
			t.Errorf("archive revision = %s, want %s", got, want)
		}
		if len(want) != 16 {
			t.Errorf("revision %q is not 16 hex digits", want)
		}
	})

	t.Run("any change to a file changes the revision", func(t *testing.T) {
		a := load(t, bundleDir(t, withoutTests(nil)))
		b := load(t, bundleDir(t, withoutTests(map[string]string{"protocol/break_glass/data.json": `{"minutes": 30, "min_justification": 20, "excluded_sections": ["counselling"]}`})))
		if a.Revision() == b.Revision() {
			t.Errorf("both revisions are %s", a.Revision())
		}
	})

	t.Run("a bundle that does not compile is refused, naming the file and line", func(t *testing.T) {
		broken := bundleDir(t, map[string]string{"liaison/broken.rego": "package liaison.broken\n\nallow if {\n\tinput.x == y\n}\n"})
		for _, path := range []string{broken, tarball(t, broken)} {
			_, err := policies.Load(ctx, path)
			assertNamesFile(t, err, "liaison/broken.rego", 4)
		}
	})

	t.Run("a bundle that does not parse is refused, naming the file and line", func(t *testing.T) {
		_, err := policies.Load(ctx, bundleDir(t, map[string]string{"liaison/service.rego": "package liaison.service\n\ndecision := {\n"}))
		assertNamesFile(t, err, "liaison/service.rego", 0)
	})

	t.Run("a bundle whose tests fail is refused, listing the failing tests", func(t *testing.T) {
		// Intelligence loses its risk-management purpose: the purpose tests catch it.
		read := strings.Replace(defaultFile(t, "protocol/read/data.json"), `"intelligence": ["risk-management", "case-conference"]`, `"intelligence": ["case-conference"]`, 1)
		_, err := policies.Load(ctx, bundleDir(t, map[string]string{"protocol/read/data.json": read}))
		var failure *policies.TestFailure
		if !errors.As(err, &failure) {
			t.Fatalf("Load = %v, want a *TestFailure", err)
		}
		want := "data.liaison.subject_test.test_purposes/intelligence/risk-management"
		found := false
		for _, name := range failure.Report.Failed {
			found = found || strings.HasPrefix(name, want)
		}
		if !found {
			t.Errorf("failing tests %q do not name %s", failure.Report.Failed, want)
		}
	})

	t.Run("a missing path is refused", func(t *testing.T) {
		if _, err := policies.Load(ctx, filepath.Join(t.TempDir(), "nowhere")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load = %v, want not-exist", err)
		}
	})
}

// assertNamesFile checks that err carries ast errors located in file (at row,
// when row > 0).
func assertNamesFile(t *testing.T, err error, file string, row int) {
	t.Helper()
	var errs ast.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error = %v, want ast errors", err)
	}
	for _, e := range errs {
		if e.Location != nil && strings.HasSuffix(filepath.ToSlash(e.Location.File), file) && (row == 0 || e.Location.Row == row) {
			return
		}
	}
	t.Errorf("error %v does not name %s:%d", err, file, row)
}

func TestNewRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("no bundle", func(t *testing.T) {
		if _, err := policies.New(ctx, nil, policies.Options{}); err == nil {
			t.Error("New(nil) succeeded")
		}
	})
	t.Run("a bundle without one of the decision rules", func(t *testing.T) {
		b := load(t, bundleDir(t, withoutTests(map[string]string{"liaison/service.rego": "package liaison.service\n\nstatus := 403\n"})))
		if _, err := policies.New(ctx, b, policies.Options{}); err == nil {
			t.Error("New accepted a bundle without data.liaison.service.decision")
		}
	})
	t.Run("a bundle without a directory", func(t *testing.T) {
		b := load(t, bundleDir(t, withoutTests(map[string]string{"protocol/organisations/data.json": ""})))
		if _, err := policies.New(ctx, b, policies.Options{}); err == nil {
			t.Error("New accepted a bundle without an organisation directory")
		}
	})
}

func TestLoadKeepsAManifest(t *testing.T) {
	dir := bundleDir(t, withoutTests(map[string]string{".manifest": `{"revision": "deployment-7", "roots": ["liaison", "protocol"]}`}))
	b := load(t, dir)
	if !slices.Contains(b.Files(), ".manifest") {
		t.Errorf("files %v lack the manifest", b.Files())
	}
	if _, err := policies.New(context.Background(), b, policies.Options{}); err != nil {
		t.Errorf("New: %v", err)
	}
	outside := bundleDir(t, withoutTests(map[string]string{".manifest": `{"roots": ["liaison"]}`}))
	if _, err := policies.Load(context.Background(), outside); err == nil {
		t.Error("Load accepted data outside the manifest's roots")
	}
}
