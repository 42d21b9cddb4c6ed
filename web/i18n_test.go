package web_test

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/projections"
)

// The console's catalogues (static/ui/i18n/<lang>.json): every language has
// the same keys, none empty, with the same placeholders; every key the
// scripts look up exists; every word of the protocol's vocabulary has its
// entry, taken from the Go packages, so that a new event type, field,
// section, practice code, legal basis, role, organisation or action fails
// here until it is translated.

const catalogueDir = "static/ui/i18n"

// languages the console must offer.
var languages = []string{"en", "fr", "de"}

// readCatalogue reads one catalogue, refusing duplicate keys and values that
// are not strings.
func readCatalogue(t *testing.T, path string) (map[string]string, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not a JSON object (%v)", path, err)
	}
	out := map[string]string{}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		key := tok.(string)
		var v string
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %q is not a string: %v", path, key, err)
		}
		if _, dup := out[key]; dup {
			t.Errorf("%s: %q appears twice", path, key)
		}
		out[key] = v
		order = append(order, key)
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: data after the object", path)
	}
	return out, order
}

func catalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(catalogueDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, f := range files {
		c, _ := readCatalogue(t, f)
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	for _, l := range languages {
		if out[l] == nil {
			t.Fatalf("no catalogue for %q in %s", l, catalogueDir)
		}
	}
	return out
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

func TestI18nCataloguesAgree(t *testing.T) {
	cats := catalogues(t)
	en := cats["en"]
	for lang, c := range cats {
		for k, v := range c {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
			ref, ok := en[k]
			if !ok {
				t.Errorf("%s: %q is not in en.json", lang, k)
				continue
			}
			if got, want := placeholders(v), placeholders(ref); !slices.Equal(got, want) {
				t.Errorf("%s: %q has placeholders %v, en has %v", lang, k, got, want)
			}
		}
		for k := range en {
			if _, ok := c[k]; !ok {
				t.Errorf("%s: %q is missing (en: %q)", lang, k, en[k])
			}
		}
	}
}

// The scripts' look-ups: t('key') and tn('key', n) with a literal key;
// tv('kind', value) looks up kind.value, the vocabulary.
var (
	tCall     = regexp.MustCompile(`\bt\(\s*'([^']+)'`)
	tnCall    = regexp.MustCompile(`\btn\(\s*'([^']+)'`)
	tvCall    = regexp.MustCompile(`\btv\(\s*'([^']+)'`)
	dynamicT  = regexp.MustCompile(`\bt\(\s*[^'\s)]`)
	scriptDir = "static/ui"
)

// scripts returns the console's modules by name.
func scripts(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(scriptDir, "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in %s (%v)", scriptDir, err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

func TestI18nEveryKeyTheScriptsUseExists(t *testing.T) {
	en := catalogues(t)["en"]
	used := map[string]bool{}
	kinds := map[string]bool{}
	for name, src := range scripts(t) {
		for _, m := range tCall.FindAllStringSubmatch(src, -1) {
			used[m[1]] = true
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s looks up %q, which en.json lacks", name, m[1])
			}
		}
		for _, m := range tnCall.FindAllStringSubmatch(src, -1) {
			for _, form := range []string{".one", ".other"} {
				used[m[1]+form] = true
				if _, ok := en[m[1]+form]; !ok {
					t.Errorf("%s counts with %q, which en.json lacks", name, m[1]+form)
				}
			}
		}
		for _, m := range tvCall.FindAllStringSubmatch(src, -1) {
			kinds[m[1]+"."] = true
		}
		if name == "i18n.js" {
			continue
		}
		// A key built at run time escapes this test: say tv(kind, value) instead.
		for _, m := range dynamicT.FindAllString(src, -1) {
			t.Errorf("%s: %q looks up a key built at run time; use tv() for vocabulary", name, m)
		}
	}
	// Every other key must be used, so that the catalogues hold no dead text.
	vocabulary := append(slices.Collect(maps.Keys(kinds)), vocabularyPrefixes...)
	for k := range en {
		if used[k] || slices.ContainsFunc(vocabulary, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		t.Errorf("en.json: %q is used by no script", k)
	}
}

// vocabularyPrefixes are the keys the scripts look up by value (tv with a
// kind built at run time, or through i18n.js's own helpers).
var vocabularyPrefixes = []string{"enum.", "hint.", "org.", "orgtype.", "field."}

// vocabulary lists the keys the protocol's words need, from the Go packages.
func vocabulary(t *testing.T) []string {
	t.Helper()
	var keys []string
	add := func(prefix string, values ...string) {
		for _, v := range values {
			keys = append(keys, prefix+v)
		}
	}
	for _, e := range domain.EventTypes {
		add("event.", string(e))
		schemaKeys(domain.DataSchema(e), "", &keys)
	}
	for _, s := range domain.Sections {
		add("section.", string(s))
	}
	for _, s := range domain.Stages {
		add("stage.", string(s))
	}
	for _, p := range domain.Practices {
		add("practice.", string(p.Code))
	}
	for _, l := range domain.TLPs {
		add("tlpmeaning.", string(l))
	}
	for _, p := range domain.Purposes {
		add("purpose.", string(p))
	}
	for _, o := range domain.OrgTypes {
		add("orgtype.", string(o))
	}
	add("legal.", domain.LegalBases...)
	add("erasure.status.", projections.ErasurePending, projections.ErasureExpired, projections.ErasureCancelled,
		projections.ErasureConfirmed, projections.ErasureRetention)
	add("decision.", accesslog.Allow, accesslog.Partial, accesslog.Deny)
	for k := domain.Kind(0); !strings.HasPrefix(k.String(), "kind("); k++ {
		add("problem.", k.String())
	}
	add("problem.", "unreachable") // the console's own: the hub did not answer
	for _, tb := range (&projections.Stats{}).Breakdowns() {
		add("dimension.", tb.Dimension)
	}
	var roles map[string][]string
	readJSON(t, "../policies/bundle/protocol/roles/data.json", &roles)
	for _, rs := range roles {
		add("role.", rs...)
	}
	var orgs map[string]string
	readJSON(t, "../policies/bundle/protocol/organisations/data.json", &orgs)
	for id := range orgs {
		add("org.", id)
	}
	add("action.", actions(t)...)
	return keys
}

// schemaKeys adds the field names of a data schema (field.<name>) and its
// enumerated values (enum.<field>.<value>; practice codes are practice.<code>).
func schemaKeys(s domain.Schema, name string, keys *[]string) {
	if s.Enum != nil && s.EnumNames == nil && name != "" {
		for _, v := range s.Enum {
			*keys = append(*keys, "enum."+name+"."+v)
		}
	}
	for _, p := range s.Properties {
		*keys = append(*keys, "field."+p.Name)
		schemaKeys(p.Schema, p.Name, keys)
	}
	for _, sub := range []*domain.Schema{s.Items, s.Values} {
		if sub != nil {
			schemaKeys(*sub, name, keys)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var (
	routeAction = regexp.MustCompile(`s\.route\("([^"]+)"`)
	lastLiteral = regexp.MustCompile(`"([a-z][a-z.-]*)"\)\s*$`)
)

// actions lists the access records' actions: the API's routes
// (api/server.go) and the calls the hub makes of its own (hub.NewCall).
func actions(t *testing.T) []string {
	t.Helper()
	var out []string
	b, err := os.ReadFile("../api/server.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range routeAction.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	for _, dir := range []string{"../hub", "../api"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(src), "\n")
			for i, line := range lines {
				if !strings.Contains(line, "NewCall(") || strings.HasPrefix(strings.TrimSpace(line), "func ") {
					continue
				}
				for j := i; j < len(lines) && j < i+3; j++ {
					if m := lastLiteral.FindStringSubmatch(lines[j]); m != nil {
						out = append(out, m[1])
						break
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestI18nEveryWordOfTheProtocolIsTranslated(t *testing.T) {
	cats := catalogues(t)
	for _, k := range vocabulary(t) {
		for _, lang := range languages {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s.json: %q is missing", lang, k)
			}
		}
	}
}
