// Package policies decides who may read and write what in the hub. The sharing
// protocol (docs/protocol.md) is Rego over data under bundle/, embedded in the
// binary and replaceable by a directory or an OPA bundle archive; this package
// loads a bundle, refuses it unless it compiles and its own tests pass,
// prepares its queries once, and answers domain-shaped questions through an
// Authorizer, with a cache of decisions that holds only while they cannot
// change.
package policies

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader/filter"
)

//go:embed bundle
var embedded embed.FS

// embeddedRoot is the embedded bundle's directory; it also names its files in
// error messages.
const embeddedRoot = "bundle"

// maxBundleBytes bounds the size of a bundle read by Load.
const maxBundleBytes = 64 << 20

// testSuffix marks the files holding a bundle's own tests; they are compiled
// and run when the bundle is loaded, never evaluated for decisions.
const testSuffix = "_test.rego"

// Bundle is a verified policy bundle: Rego modules and JSON data that compile
// together and whose own tests pass. Make one with Load or Default; a Bundle is
// immutable and safe for concurrent use.
type Bundle struct {
	source   string // where it was read from: a path, or "bundle" for the embedded default
	files    map[string][]byte
	revision string
	opa      bundle.Bundle
	compiler *ast.Compiler // the modules without their tests
}

// Revision returns the bundle's revision: the first 16 hex digits of a SHA-256
// over its file names (sorted) and contents.
func (b *Bundle) Revision() string { return b.revision }

// Directory returns the bundle's organisation directory
// (data.protocol.organisations), or an error when it has none.
func (b *Bundle) Directory() (domain.MapDirectory, error) { return directory(b) }

// Roles returns the roles the bundle knows for organisations of type t
// (data.protocol.roles), nil when it lists none.
func (b *Bundle) Roles(t domain.OrgType) []string {
	return b.listsByType("protocol", "roles")[t]
}

// data returns the value of the bundle's data at path, nil when there is none.
func (b *Bundle) data(path ...string) any {
	var v any = b.opa.Data
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// listsByType reads an object of organisation type → list of strings out of
// the bundle's data at path.
func (b *Bundle) listsByType(path ...string) map[domain.OrgType][]string {
	byType, _ := b.data(path...).(map[string]any)
	out := make(map[domain.OrgType][]string, len(byType))
	for t, list := range byType {
		l, _ := list.([]any)
		for _, x := range l {
			if s, ok := x.(string); ok {
				out[domain.OrgType(t)] = append(out[domain.OrgType(t)], s)
			}
		}
	}
	return out
}

// Files returns the names of the bundle's files, slash-separated and relative to
// its root, sorted.
func (b *Bundle) Files() []string { return sortedNames(b.files) }

// WriteDir writes the bundle's files under dir (created if need be), so that it
// can be edited, archived or served by `opa run`. It returns the first error
// met creating a directory or writing a file.
func (b *Bundle) WriteDir(dir string) error {
	for _, name := range sortedNames(b.files) {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("policies: write bundle: %w", err)
		}
		if err := os.WriteFile(dst, b.files[name], 0o644); err != nil {
			return fmt.Errorf("policies: write bundle: %w", err)
		}
	}
	return nil
}

var (
	defaultOnce   sync.Once
	defaultBundle *Bundle
)

// Default returns the embedded default bundle (the protocol of
// docs/protocol.md). It is compiled on first use; its Rego tests are not run
// here but by this package's own tests (TestDefaultBundleRegoTests), which
// guard every build. It panics if the embedded bundle does not compile: that is
// a build defect.
func Default() *Bundle {
	defaultOnce.Do(func() {
		files, err := readFS(embedded, embeddedRoot)
		if err == nil {
			defaultBundle, err = parse(embeddedRoot, files)
		}
		if err != nil {
			panic(err)
		}
	})
	return defaultBundle
}

// Load reads a bundle from path, a directory or an OPA bundle archive
// (.tar.gz), and verifies it: it returns an error naming the file (and line)
// when a file cannot be read or parsed or the modules do not compile, and a
// *TestFailure listing the failing tests when the bundle's own _test.rego
// tests fail.
func Load(ctx context.Context, path string) (*Bundle, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policies: load bundle: %w", err)
	}
	var files map[string][]byte
	if info.IsDir() {
		files, err = readFS(os.DirFS(path), ".")
	} else {
		files, err = readTarball(path)
	}
	if err != nil {
		return nil, fmt.Errorf("policies: load bundle %s: %w", path, err)
	}
	b, err := parse(path, files)
	if err != nil {
		return nil, err
	}
	if _, err := b.RunTests(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// readFS reads every regular file under root of fsys.
func readFS(fsys fs.FS, root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	var total int64
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if total += int64(len(data)); total > maxBundleBytes {
			return fmt.Errorf("bundle larger than %d bytes", maxBundleBytes)
		}
		if root != "." {
			p = strings.TrimPrefix(p, root+"/")
		}
		files[p] = data
		return nil
	})
	return files, err
}

// readTarball reads every regular file of a gzip-compressed tar archive.
func readTarball(name string) (map[string][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var total int64
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxBundleBytes-total+1))
		if err != nil {
			return nil, err
		}
		if total += int64(len(data)); total > maxBundleBytes {
			return nil, fmt.Errorf("bundle larger than %d bytes", maxBundleBytes)
		}
		files[strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = data
	}
}

// parse reads files as an OPA bundle and compiles its modules (tests aside).
// Errors name the file and line at fault.
func parse(source string, files map[string][]byte) (*Bundle, error) {
	opa, err := bundle.NewCustomReader(&memLoader{source: source, names: sortedNames(files), files: files}).
		WithBaseDir(source).
		WithRegoVersion(ast.RegoV1).
		Read()
	if err != nil {
		return nil, fmt.Errorf("policies: bundle %s: %w", source, err)
	}
	modules := map[string]*ast.Module{}
	for _, m := range opa.Modules {
		if !strings.HasSuffix(m.Path, testSuffix) {
			modules[m.Path] = m.Parsed
		}
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("policies: bundle %s does not compile: %w", source, compiler.Errors)
	}
	return &Bundle{source: source, files: files, revision: revision(files), opa: opa, compiler: compiler}, nil
}

// revision hashes the sorted file names and contents, each length-prefixed.
func revision(files map[string][]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, name := range sortedNames(files) {
		for _, part := range [][]byte{[]byte(name), files[name]} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write(part)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// memLoader hands files held in memory to the OPA bundle reader.
type memLoader struct {
	source string
	names  []string
	files  map[string][]byte
	next   int
}

func (l *memLoader) NextFile() (*bundle.Descriptor, error) {
	if l.next >= len(l.names) {
		return nil, io.EOF
	}
	name := l.names[l.next]
	l.next++
	return bundle.NewDescriptor(l.source+"/"+name, "/"+name, bytes.NewReader(l.files[name])), nil
}

// The reader's options below do not apply to files already in memory.

func (l *memLoader) WithFilter(filter.LoaderFilter) bundle.DirectoryLoader   { return l }
func (l *memLoader) WithPathFormat(bundle.PathFormat) bundle.DirectoryLoader { return l }
func (l *memLoader) WithSizeLimitBytes(int64) bundle.DirectoryLoader         { return l }
func (l *memLoader) WithFollowSymlinks(bool) bundle.DirectoryLoader          { return l }
