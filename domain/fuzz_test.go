package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/liaison-hub/liaison/domain"
)

// Fuzz targets of docs/targets.md, R4, for event decoding and validation. Their
// seed corpora are in testdata/fuzz/<target>/ (written by TestWriteFuzzSeeds)
// and run as plain tests; test/fuzz_test.go runs each target for a few seconds
// in CI.
//
// Every target checks the same contract: no panic; an accepted input was
// valid JSON and valid UTF-8, names no unknown field, and its canonical bytes
// are valid UTF-8, hold no control or invisible formatting character, and
// decode again to the same bytes; a refused input gives a KindInvalid error
// naming at least one field.

// fuzzExamples holds one valid data object per event type, every field given:
// the examples the tests share (demo.Example).
var fuzzExamples = func() map[domain.EventType]string {
	out := make(map[domain.EventType]string, len(domain.EventTypes))
	for _, typ := range domain.EventTypes {
		out[typ] = string(domain.Example(typ))
	}
	return out
}()

// dataTypes gives the Go type of each event type's data, for the shape checks.
var dataTypes = map[domain.EventType]reflect.Type{}

func init() {
	for typ, raw := range fuzzExamples {
		d, _, err := domain.DecodeData(typ, json.RawMessage(raw), dir, "data")
		if err != nil {
			panic(fmt.Sprintf("the %s example is invalid: %v", typ, err))
		}
		dataTypes[typ] = reflect.TypeOf(d)
	}
}

func FuzzDecodeData(f *testing.F) {
	f.Fuzz(func(t *testing.T, typIndex uint8, data []byte) {
		typ := domain.EventTypes[int(typIndex)%len(domain.EventTypes)]
		d, canonical, err := domain.DecodeData(typ, data, dir, "data")
		if err != nil {
			checkRefusal(t, err, "data")
			_, _, again := domain.DecodeData(typ, data, dir, "data")
			var e1, e2 *domain.Error
			if !errors.As(err, &e1) || !errors.As(again, &e2) || !reflect.DeepEqual(e1.Fields, e2.Fields) {
				t.Errorf("refusal is not deterministic: %v, then %v", err, again)
			}
			return
		}
		if d == nil || d.EventType() != typ {
			t.Fatalf("accepted %s data as %T", typ, d)
		}
		checkAccepted(t, data, canonical, dataTypes[typ])
		_, again, err := domain.DecodeData(typ, canonical, dir, "data")
		if err != nil {
			t.Fatalf("canonical bytes %q refused: %v", canonical, err)
		}
		if !bytes.Equal(again, canonical) {
			t.Fatalf("canonical bytes are not stable:\n%s\n%s", canonical, again)
		}
	})
}

var appendFields = reflect.TypeOf(struct {
	Type            string   `json:"type"`
	Data            any      `json:"data"`
	Classification  string   `json:"classification"`
	ShareWith       []string `json:"share_with"`
	ExpectedVersion int64    `json:"expected_version"`
}{})

func FuzzParseAppendRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := domain.ParseAppendRequest(body, dir)
		if err != nil {
			checkRefusal(t, err, "")
			return
		}
		checkAccepted(t, body, req.RawData, dataTypes[req.Type])
		if !domain.KnownEventType(req.Type) || slices.Contains([]domain.EventType{domain.CaseOpened, domain.CaseErased, domain.BreakGlassInvoked}, req.Type) {
			t.Fatalf("accepted an append of type %q", req.Type)
		}
		if req.Classification != "" && !slices.Contains(domain.TLPs, req.Classification) {
			t.Errorf("accepted classification %q", req.Classification)
		}
		if req.ExpectedVersion < -1 || req.ExpectedVersion > 1<<53 {
			t.Errorf("accepted expected_version %d", req.ExpectedVersion)
		}
		if len(req.ShareWith) > domain.MaxShareWith {
			t.Errorf("accepted %d organisations to share with", len(req.ShareWith))
		}
		seen := map[string]bool{}
		for _, org := range req.ShareWith {
			if _, ok := dir[org]; !ok || seen[org] {
				t.Errorf("accepted share_with %q", req.ShareWith)
			}
			seen[org] = true
		}
		d, again, err := domain.DecodeData(req.Type, req.RawData, dir, "data")
		if err != nil || !bytes.Equal(again, req.RawData) {
			t.Fatalf("canonical data %q decodes again as %q, %v", req.RawData, again, err)
		}
		if !reflect.DeepEqual(mustMarshal(t, d), mustMarshal(t, req.Data)) {
			t.Errorf("Data and RawData differ: %+v vs %s", req.Data, req.RawData)
		}
	})
}

func FuzzParseOpenRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		d, canonical, err := domain.ParseOpenRequest(body, dir)
		if err != nil {
			checkRefusal(t, err, "")
			return
		}
		checkAccepted(t, body, canonical, dataTypes[domain.CaseOpened])
		if !strings.ContainsAny(d.SubjectRef, "0123456789") {
			t.Errorf("accepted subject_ref %q, which holds no digit", d.SubjectRef)
		}
		_, again, err := domain.ParseOpenRequest(canonical, dir)
		if err != nil || !bytes.Equal(again, canonical) {
			t.Fatalf("canonical bytes %q parse again as %q, %v", canonical, again, err)
		}
	})
}

// singleTextFields are the fields ParseSingleText is called with.
var singleTextFields = []string{"justification", "legal_basis"}

func FuzzParseSingleText(f *testing.F) {
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		field := singleTextFields[int(which)%len(singleTextFields)]
		v, err := domain.ParseSingleText(body, field)
		if err != nil {
			checkRefusal(t, err, "")
			return
		}
		canonical := mustMarshal(t, map[string]string{field: v})
		checkAccepted(t, body, canonical, reflect.TypeOf(map[string]string{}))
		if m, ok := decodeAny(t, body).(map[string]any); !ok || len(m) != 1 || m[field] == nil {
			t.Errorf("accepted %q for the single field %s", body, field)
		}
		if strings.TrimSpace(v) == "" || len(v) > domain.MaxTextLen {
			t.Errorf("accepted %s %q", field, v)
		}
		if again, err := domain.ParseSingleText(canonical, field); err != nil || again != v {
			t.Fatalf("canonical %s parses again as %q, %v", canonical, again, err)
		}
	})
}

// checkRefusal checks that err is a KindInvalid *domain.Error naming at least
// one field, every field under prefix.
func checkRefusal(t *testing.T, err error, prefix string) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Kind != domain.KindInvalid {
		t.Fatalf("refused with %v (%T, kind %v), want a KindInvalid *domain.Error", err, err, domain.KindOf(err))
	}
	if len(e.Fields) == 0 {
		t.Fatalf("refused with %q naming no field", e.Message)
	}
	for _, fe := range e.Fields {
		if fe.Message == "" {
			t.Errorf("field error %q has no message", fe.Field)
		}
		if prefix != "" && fe.Field != prefix && !strings.HasPrefix(fe.Field, prefix+".") && !strings.HasPrefix(fe.Field, prefix+"[") && fe.Field != "type" {
			t.Errorf("field error %q is not under %q", fe.Field, prefix)
		}
	}
}

// checkAccepted checks an accepted input and its canonical bytes.
func checkAccepted(t *testing.T, input, canonical []byte, shape reflect.Type) {
	t.Helper()
	if !json.Valid(input) {
		t.Errorf("accepted input that is not valid JSON: %q", clipBytes(input))
	}
	if !utf8.Valid(input) {
		t.Errorf("accepted input that is not valid UTF-8 (its bytes were silently replaced): %q", clipBytes(input))
	}
	if i := loneSurrogate(input); i >= 0 {
		t.Errorf("accepted input holding the unpaired surrogate escape %q (silently replaced by U+FFFD)", input[i:i+6])
	}
	if !utf8.Valid(canonical) {
		t.Errorf("canonical bytes are not valid UTF-8: %q", clipBytes(canonical))
	}
	if shape == nil {
		t.Fatal("no shape for the accepted data")
	}
	if json.Valid(input) {
		v := decodeAny(t, input)
		if m, ok := v.(map[string]any); ok && m["type"] != nil && m["data"] != nil && shape.Kind() == reflect.Struct {
			checkShape(t, v, appendFields, "") // an append body: its data has the shape
			v = m["data"]
		}
		checkShape(t, v, shape, "")
	}
	c := decodeAny(t, canonical)
	checkShape(t, c, shape, "")
	checkTextSafe(t, c, "")
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("does not decode: %v: %q", err, clipBytes(b))
	}
	return v
}

// checkShape checks that v has the JSON shape of Go type rt: objects name only
// the fields of rt (or of its elements), values have rt's kinds. null stands
// for an absent optional field.
func checkShape(t *testing.T, v any, rt reflect.Type, path string) {
	t.Helper()
	if v == nil {
		return
	}
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	switch rt.Kind() {
	case reflect.Interface:
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: accepted %T, want an object", path, v)
			return
		}
		fields := jsonFields(rt)
		for k, val := range m {
			ft, ok := fields[k]
			if !ok {
				t.Errorf("accepted the unknown field %q", fieldPath(path, k))
				continue
			}
			checkShape(t, val, ft, fieldPath(path, k))
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: accepted %T, want an object", path, v)
			return
		}
		for k, val := range m {
			checkShape(t, val, rt.Elem(), fieldPath(path, k))
		}
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			t.Errorf("%s: accepted %T, want an array", path, v)
			return
		}
		for i, e := range a {
			checkShape(t, e, rt.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			t.Errorf("%s: accepted %T, want a string", path, v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: accepted %T, want a boolean", path, v)
		}
	case reflect.Int, reflect.Int64:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseInt(string(n), 10, 64); !ok || err != nil {
			t.Errorf("%s: accepted %v, want an integer", path, v)
		}
	default:
		t.Fatalf("%s: no shape check for %s", path, rt)
	}
}

func jsonFields(rt reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

func fieldPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// checkTextSafe checks every string and key of v: valid UTF-8, no control
// character but tab and line breaks, no invisible formatting character but
// the zero-width joiner (docs/api.md, "Event types and their data").
func checkTextSafe(t *testing.T, v any, path string) {
	t.Helper()
	check := func(s, where string) {
		if !utf8.ValidString(s) {
			t.Errorf("%s: accepted invalid UTF-8 %q", where, s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' || unicode.Is(unicode.Cf, r) && r != '\u200d' {
				t.Errorf("%s: accepted the character %U in %q", where, r, s)
			}
		}
	}
	switch x := v.(type) {
	case string:
		check(x, path)
	case []any:
		for i, e := range x {
			checkTextSafe(t, e, fmt.Sprintf("%s[%d]", path, i))
		}
	case map[string]any:
		for k, e := range x {
			check(k, fieldPath(path, k))
			checkTextSafe(t, e, fieldPath(path, k))
		}
	}
}

// loneSurrogate returns the offset of the first \uXXXX escape of a UTF-16
// surrogate that is not part of a pair, -1 if there is none.
func loneSurrogate(b []byte) int {
	hex := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		switch {
		case !ok:
			i++ // an escape of one character, possibly a backslash
		case r >= 0xD800 && r < 0xDC00:
			if lo, ok := hex(i + 6); ok && lo >= 0xDC00 && lo < 0xE000 {
				i += 11
				continue
			}
			return i
		case r >= 0xDC00 && r < 0xE000:
			return i
		default:
			i += 5
		}
	}
	return -1
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func clipBytes(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

// TestWriteFuzzSeeds writes the seed corpora of this package's fuzz targets
// into testdata/fuzz when LIAISON_WRITE_FUZZ_SEEDS=1; the files are committed.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("LIAISON_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set LIAISON_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for target, seeds := range domainSeeds() {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range seeds {
			if err := os.WriteFile(filepath.Join(dir, seedFileName(s.name)), encodeSeed(s.args...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// seedFileName keeps letters, digits, '-' and '.' of a seed's name.
func seedFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '.') {
			return r
		}
		return '_'
	}, name)
}

type fuzzSeed struct {
	name string
	args []any
}

// encodeSeed writes a corpus file in the "go test fuzz v1" format.
func encodeSeed(args ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case uint8:
			fmt.Fprintf(&b, "uint8(%d)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		default:
			panic(fmt.Sprintf("no seed encoding for %T", a))
		}
	}
	return []byte(b.String())
}

// mutations turn a valid JSON object into malformed variants, by name; all
// gives the larger ones too.
func mutations(valid string, all bool) [][2]string {
	inner := strings.TrimSuffix(valid, "}")
	first, _, _ := strings.Cut(strings.TrimPrefix(valid, "{"), ",")
	var out [][2]string
	if all {
		deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
		out = [][2]string{
			{"trailing-brace", valid + "}"},
			{"trailing-bracket", valid + "]"},
			{"deep-nesting", inner + `,"x":` + deep + "}"},
			{"bom", "\ufeff" + valid},
			{"null", "null"},
			{"empty", ""},
		}
	}
	return append(out, [][2]string{
		{"truncated", valid[:len(valid)/2]},
		{"trailing-garbage", valid + " x"},
		{"second-object", valid + "{}"},
		{"duplicate-key", inner + "," + first + "}"},
		{"unknown-field", inner + `,"surprise":1}`},
		{"case-variant-field", inner + `,"Note":"n"}`},
		{"nan", inner + `,"x":NaN}`},
		{"not-an-object", "[" + valid + "]"},
		{"empty-object", "{}"},
	}...)
}

// textTricks are values for a free-text field, most of them to be refused.
var textTricks = [][2]string{
	{"bidi-override", `"a\u202eb"`}, {"bidi-isolate", `"a\u2067b"`}, {"zero-width-space", `"a\u200bb"`},
	{"byte-order-mark", `"a\ufeffb"`}, {"nul-escape", `"a\u0000b"`}, {"raw-nul", "\"a\x00b\""},
	{"c1-control", `"a\u0085b"`}, {"invalid-utf8", "\"a\xff\xfeb\""}, {"overlong-slash", "\"a\xc0\xafb\""},
	{"encoded-surrogate", "\"a\xed\xa0\x80b\""}, {"lone-surrogate-escape", `"a\ud800b"`},
	{"number", `12`}, {"array", `["a"]`}, {"blank", `"   "`}, {"zero-width-joiner", `"a\u200db"`},
	{"oversize", `"` + strings.Repeat("x", domain.MaxTextLen+1) + `"`},
}

func domainSeeds() map[string][]fuzzSeed {
	seeds := map[string][]fuzzSeed{}
	add := func(target, name string, args ...any) {
		seeds[target] = append(seeds[target], fuzzSeed{name, args})
	}
	for i, typ := range domain.EventTypes {
		valid := fuzzExamples[typ]
		add("FuzzDecodeData", "valid-"+string(typ), uint8(i), []byte(valid))
		for _, m := range mutations(valid, typ == domain.CaseClosed || typ == domain.NeedsAssessmentRecorded) {
			add("FuzzDecodeData", m[0]+"-"+string(typ), uint8(i), []byte(m[1]))
		}
		if typ != domain.CaseOpened && typ != domain.CaseErased && typ != domain.BreakGlassInvoked {
			body := `{"type":"` + string(typ) + `","data":` + valid + `}`
			add("FuzzParseAppendRequest", "valid-"+string(typ), []byte(body))
			add("FuzzParseAppendRequest", "shared-"+string(typ), []byte(`{"type":"`+string(typ)+`","data":`+valid+`,"classification":"TLP:AMBER","share_with":["exit-ngo"],"expected_version":3}`))
		}
	}
	counselling := slices.Index(domain.EventTypes, domain.CounsellingNoteAdded)
	opened := slices.Index(domain.EventTypes, domain.CaseOpened)
	for _, tr := range textTricks {
		add("FuzzDecodeData", "note-"+tr[0], uint8(counselling), []byte(`{"date":"2026-03-01","note":`+tr[1]+`}`))
		add("FuzzDecodeData", "facility-"+tr[0], uint8(opened), []byte(`{"subject_ref":"P-1","target_group":"islamist","facility":`+tr[1]+`}`))
		add("FuzzParseSingleText", "justification-"+tr[0], uint8(0), []byte(`{"justification":`+tr[1]+`}`))
	}
	for _, d := range []string{"2026-02-30", "26-1-1", "2026-1-1", "2026-01-01T00:00:00Z", "2026-13-01", "0000-00-00", "２０２６-01-01", "2026-01-01 ", "+2026-01-01"} {
		add("FuzzDecodeData", "date-"+d, uint8(counselling), []byte(`{"date":`+strconv.Quote(d)+`,"note":"n"}`))
	}
	open := fuzzExamples[domain.CaseOpened]
	add("FuzzParseOpenRequest", "valid", []byte(open))
	for _, m := range mutations(open, true) {
		add("FuzzParseOpenRequest", m[0], []byte(m[1]))
	}
	for _, v := range []string{`"JohnSmith"`, `"P 1"`, `"P-1\u202e"`, `"Р-1"`, `""`, `1`, `"` + strings.Repeat("1", domain.MaxRefLen+1) + `"`} {
		add("FuzzParseOpenRequest", "subject-ref-"+strconv.Itoa(len(seeds["FuzzParseOpenRequest"])), []byte(`{"subject_ref":`+v+`,"target_group":"islamist"}`))
	}
	for name, body := range map[string]string{
		"homoglyph-share-with":  `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]},"share_with":["prіson-service"]}`,
		"own-endpoint-type":     `{"type":"CaseOpened","data":` + open + `}`,
		"erasure-type":          `{"type":"CaseErased","data":{"legal_basis":"x"}}`,
		"unknown-type":          `{"type":"NoSuchEvent","data":{}}`,
		"homoglyph-type":        `{"type":"CaseClоsed","data":{"reason":"r"}}`,
		"bad-classification":    `{"type":"CaseClosed","data":{"reason":"r"},"classification":"TLP:red"}`,
		"negative-version":      `{"type":"CaseClosed","data":{"reason":"r"},"expected_version":-1}`,
		"huge-version":          `{"type":"CaseClosed","data":{"reason":"r"},"expected_version":1e400}`,
		"fractional-version":    `{"type":"CaseClosed","data":{"reason":"r"},"expected_version":1.5}`,
		"string-version":        `{"type":"CaseClosed","data":{"reason":"r"},"expected_version":"1"}`,
		"duplicate-type":        `{"type":"CaseClosed","type":"Released","data":{"reason":"r"}}`,
		"share-with-twice":      `{"type":"CaseClosed","data":{"reason":"r"},"share_with":["exit-ngo","exit-ngo"]}`,
		"share-with-traversal":  `{"type":"CaseClosed","data":{"reason":"r"},"share_with":["../etc/passwd"]}`,
		"missing-data":          `{"type":"CaseClosed"}`,
		"null-data":             `{"type":"CaseClosed","data":null}`,
		"data-string":           `{"type":"CaseClosed","data":"{\"reason\":\"r\"}"}`,
		"trailing-brace":        `{"type":"CaseClosed","data":{"reason":"r"}}}`,
		"invalid-utf8-note":     "{\"type\":\"CounsellingNoteAdded\",\"data\":{\"date\":\"2026-03-01\",\"note\":\"a\xffb\"}}",
		"lone-surrogate-note":   `{"type":"CounsellingNoteAdded","data":{"date":"2026-03-01","note":"a\udc00b"}}`,
		"escaped-surrogate-ok":  `{"type":"CounsellingNoteAdded","data":{"date":"2026-03-01","note":"a\ud83d\ude00b"}}`,
		"escaped-backslash-u":   `{"type":"CounsellingNoteAdded","data":{"date":"2026-03-01","note":"a\\ud800b"}}`,
		"unknown-top-level-key": `{"type":"CaseClosed","data":{"reason":"r"},"__proto__":{}}`,
	} {
		add("FuzzParseAppendRequest", name, []byte(body))
	}
	for name, body := range map[string]string{
		"valid": `{"justification":"imminent threat reported"}`, "legal-basis": `{"legal_basis":"retention"}`,
		"both": `{"justification":"a","legal_basis":"b"}`, "empty": ``, "empty-object": `{}`,
		"trailing-brace": `{"justification":"a"}}`, "duplicate": `{"justification":"a","justification":"b"}`,
		"null": `{"justification":null}`, "nested": `{"justification":{"text":"a"}}`,
	} {
		add("FuzzParseSingleText", name, uint8(0), []byte(body))
		add("FuzzParseSingleText", name+"-erasure", uint8(1), []byte(body))
	}
	return seeds
}
