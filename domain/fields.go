package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Size limits of validated input. A request body is at most 1 MiB as a whole.
const (
	MaxRefLen       = 128      // identifiers, references, enum-like values
	MaxShortTextLen = 1024     // one-line texts (housing, a decision)
	MaxTextLen      = 32 << 10 // free-text notes
	MaxListLen      = 200      // items in any list
	MaxShareWith    = 64       // organisations in a share list or consent
)

// fieldReader reads one JSON object strictly: duplicate and unknown keys, wrong
// types, bad enum values and oversize values become FieldErrors with the field's
// path. It never stops at the first error, so a caller learns every problem.
//
// In describe mode (desc set, see schema.go) it reads nothing: each accessor
// records the field it is asked for, and what it would accept, and returns
// the zero value.
type fieldReader struct {
	path string
	keys []string
	vals map[string]json.RawMessage
	used map[string]bool
	errs *[]FieldError
	dir  Directory
	desc *description
}

// readObject parses raw as a JSON object at path. On failure it records the error
// and returns nil.
func readObject(raw json.RawMessage, path string, dir Directory, errs *[]FieldError) *fieldReader {
	where := path
	if where == "" {
		where = "(body)"
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD silently: refuse it.
	if !utf8.Valid(raw) {
		addErr(errs, where, "must be valid UTF-8")
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		addErr(errs, where, "must be a JSON object")
		return nil
	}
	r := &fieldReader{path: path, vals: map[string]json.RawMessage{}, used: map[string]bool{}, errs: errs, dir: dir}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			addErr(errs, where, "is not valid JSON")
			return nil
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			addErr(errs, join(path, clipName(key)), "is not valid JSON")
			return nil
		}
		if _, dup := r.vals[key]; dup {
			addErr(errs, join(path, clipName(key)), "appears more than once")
			continue
		}
		r.keys = append(r.keys, key)
		r.vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		addErr(errs, where, "is not valid JSON")
		return nil
	}
	// Nothing but white space may follow the object (dec.More would not see a
	// stray closing bracket).
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		addErr(errs, where, "has trailing data after the object")
		return nil
	}
	return r
}

// clipName bounds a field name echoed back in an error.
func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func addErr(errs *[]FieldError, field, msg string) {
	*errs = append(*errs, FieldError{Field: field, Message: msg})
}

func (r *fieldReader) fail(name, msg string) { addErr(r.errs, join(r.path, clipName(name)), msg) }

// take returns the raw value of name, marking it known; absent and null are the
// same. A missing required field is recorded.
func (r *fieldReader) take(name string, required bool) (json.RawMessage, bool) {
	r.used[name] = true
	v, ok := r.vals[name]
	if !ok || string(v) == "null" {
		if required {
			r.fail(name, "is required")
		}
		return nil, false
	}
	return v, true
}

// done records every key that no reader asked for, in the order given.
func (r *fieldReader) done() {
	for _, k := range r.keys {
		if !r.used[k] {
			r.fail(k, "is not a known field")
		}
	}
}

// textKind says which characters a string may hold.
type textKind int

const (
	textRef  textKind = iota // identifiers: letters, digits and . _ : / - only
	textLine                 // printable, no line breaks
	textFree                 // printable, line breaks and tabs allowed
)

func checkText(s string, kind textKind, max int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if len(s) > max {
		return fmt.Sprintf("must be at most %d bytes", max)
	}
	for _, c := range s {
		switch {
		case kind == textRef:
			if !(c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:/-", c))) {
				return "may hold only letters, digits and . _ : / -"
			}
		case c == '\n' || c == '\t' || c == '\r':
			if kind == textLine {
				return "must be a single line"
			}
		case unicode.In(c, unicode.Zl, unicode.Zp):
			return "must not hold Unicode line or paragraph separators"
		case c == utf8.RuneError:
			// What encoding/json makes of an unpaired surrogate escape.
			return "must be valid UTF-8 (no unpaired surrogates)"
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c) && c != '\u200d':
			// Cf holds the bidirectional overrides and other invisible format
			// characters used to disguise text; the zero-width joiner stays, as
			// some scripts need it.
			return "must not hold control or invisible formatting characters"
		}
	}
	return ""
}

func (r *fieldReader) text(name string, required bool, kind textKind, max int) string {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "string", Text: kind.String(), MaxBytes: max, NotBlank: required})
		return ""
	}
	v, ok := r.take(name, required)
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		r.fail(name, "must be a string")
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		r.fail(name, "must not be empty")
		return ""
	}
	if msg := checkText(s, kind, max); msg != "" {
		r.fail(name, msg)
		return ""
	}
	return s
}

func (r *fieldReader) ref(name string, required bool) string {
	return r.text(name, required, textRef, MaxRefLen)
}

func (r *fieldReader) line(name string, required bool) string {
	return r.text(name, required, textLine, MaxShortTextLen)
}

func (r *fieldReader) free(name string, required bool) string {
	return r.text(name, required, textFree, MaxTextLen)
}

func (r *fieldReader) enum(name string, required bool, values []string) string {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "string", Enum: values, NotBlank: required})
		return ""
	}
	s := r.text(name, required, textLine, MaxRefLen)
	if s == "" {
		return ""
	}
	for _, v := range values {
		if s == v {
			return s
		}
	}
	r.fail(name, "must be one of "+strings.Join(values, ", "))
	return ""
}

// named reads an enum whose values have names (names[i] names values[i]):
// the names only describe the values.
func (r *fieldReader) named(name string, required bool, values, names []string) string {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "string", Enum: values, EnumNames: names, NotBlank: required})
		return ""
	}
	return r.enum(name, required, values)
}

// date reads a calendar date, YYYY-MM-DD.
func (r *fieldReader) date(name string, required bool) string {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "string", Format: FormatDate, NotBlank: required})
		return ""
	}
	s := r.text(name, required, textRef, MaxRefLen)
	if s == "" {
		return ""
	}
	if !IsDate(s) {
		r.fail(name, "must be a date, YYYY-MM-DD")
		return ""
	}
	return s
}

// instant reads an instant, RFC 3339 in UTC.
func (r *fieldReader) instant(name string, required bool) string {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "string", Format: FormatDateTime, NotBlank: required})
		return ""
	}
	s := r.ref(name, required)
	if s != "" && !isTime(s) {
		r.fail(name, "must be an RFC 3339 UTC time")
		return ""
	}
	return s
}

// IsDate reports whether s is a valid calendar date written YYYY-MM-DD.
func IsDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// org reads an organisation id that must be in the directory.
func (r *fieldReader) org(name string, required bool) string {
	if r.desc != nil {
		r.describe(name, required, orgSchema(required))
		return ""
	}
	s := r.ref(name, required)
	if s == "" {
		return ""
	}
	if _, ok := r.dir.TypeOf(s); !ok {
		r.fail(name, "is not an organisation of the directory")
		return ""
	}
	return s
}

// orgSchema describes an organisation id.
func orgSchema(notBlank bool) Schema {
	return Schema{Type: "string", Text: TextRef, MaxBytes: MaxRefLen, NotBlank: notBlank, Org: true}
}

func (r *fieldReader) boolean(name string) *bool {
	if r.desc != nil {
		r.describe(name, false, Schema{Type: "boolean"})
		return nil
	}
	v, ok := r.take(name, false)
	if !ok {
		return nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		r.fail(name, "must be true or false")
		return nil
	}
	return &b
}

func (r *fieldReader) integer(name string, required bool, min, max int) *int {
	if r.desc != nil {
		r.describe(name, required, Schema{Type: "integer", Minimum: min, Maximum: max})
		return nil
	}
	v, ok := r.take(name, required)
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		r.fail(name, "must be an integer")
		return nil
	}
	if n < min || n > max {
		r.fail(name, fmt.Sprintf("must be between %d and %d", min, max))
		return nil
	}
	return &n
}

// array reads a JSON array and calls each for every element with its path.
// In describe mode it calls each once, with a nil element, for each to
// describe the elements with elem.
func (r *fieldReader) array(name string, required, nonEmpty bool, each func(path string, v json.RawMessage)) bool {
	if r.desc != nil {
		r.desc.items = nil
		each(join(r.path, name)+"[]", nil)
		s := listSchema(r.desc.items, nonEmpty, MaxListLen)
		r.desc.items = nil
		r.describe(name, required, s)
		return false
	}
	v, ok := r.take(name, required)
	if !ok {
		return false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(v, &elems); err != nil || elems == nil {
		r.fail(name, "must be an array")
		return false
	}
	if nonEmpty && len(elems) == 0 {
		r.fail(name, "must not be empty")
		return false
	}
	if len(elems) > MaxListLen {
		r.fail(name, fmt.Sprintf("must have at most %d entries", MaxListLen))
		return false
	}
	for i, e := range elems {
		each(fmt.Sprintf("%s[%d]", join(r.path, name), i), e)
	}
	return true
}

// listSchema describes an array of items.
func listSchema(items *Schema, nonEmpty bool, max int) Schema {
	s := Schema{Type: "array", Items: items, MaxItems: max}
	if nonEmpty {
		s.MinItems = 1
	}
	return s
}

// stringsOf reads an array of strings, each checked as kind.
func (r *fieldReader) stringsOf(name string, required, nonEmpty bool, kind textKind, max int) []string {
	if r.desc != nil {
		r.describe(name, required, listSchema(&Schema{Type: "string", Text: kind.String(), MaxBytes: max, NotBlank: true}, nonEmpty, MaxListLen))
		return nil
	}
	out := []string{}
	ok := r.array(name, required, nonEmpty, func(path string, v json.RawMessage) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			addErr(r.errs, path, "must be a string")
			return
		}
		if msg := checkText(s, kind, max); msg != "" {
			addErr(r.errs, path, msg)
			return
		}
		if strings.TrimSpace(s) == "" {
			addErr(r.errs, path, "must not be empty")
			return
		}
		out = append(out, s)
	})
	if !ok {
		return nil
	}
	return out
}

// enumList reads an array of distinct values, each one of values (the need
// areas a goal answers).
func (r *fieldReader) enumList(name string, required, nonEmpty bool, values []string) []string {
	if r.desc != nil {
		l := listSchema(&Schema{Type: "string", Enum: values, NotBlank: true}, nonEmpty, MaxListLen)
		l.Unique = true
		r.describe(name, required, l)
		return nil
	}
	out := []string{}
	seen := map[string]bool{}
	ok := r.array(name, required, nonEmpty, func(path string, v json.RawMessage) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			addErr(r.errs, path, "must be a string")
			return
		}
		switch {
		case !slices.Contains(values, s):
			addErr(r.errs, path, "must be one of "+strings.Join(values, ", "))
		case seen[s]:
			addErr(r.errs, path, "is named twice")
		default:
			seen[s] = true
			out = append(out, s)
		}
	})
	if !ok {
		return nil
	}
	return out
}

// orgs reads an array of distinct organisation ids of the directory.
func (r *fieldReader) orgs(name string, required, nonEmpty bool) []string {
	if r.desc != nil {
		s := orgSchema(true)
		l := listSchema(&s, nonEmpty, MaxShareWith)
		l.Unique = true
		r.describe(name, required, l)
		return nil
	}
	ids := r.stringsOf(name, required, nonEmpty, textRef, MaxRefLen)
	return checkOrgs(ids, join(r.path, name), r.dir, r.errs)
}

func checkOrgs(ids []string, path string, dir Directory, errs *[]FieldError) []string {
	if len(ids) > MaxShareWith {
		addErr(errs, path, fmt.Sprintf("must name at most %d organisations", MaxShareWith))
		return nil
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if _, ok := dir.TypeOf(id); !ok {
			addErr(errs, fmt.Sprintf("%s[%d]", path, i), "is not an organisation of the directory")
			return nil
		}
		if seen[id] {
			addErr(errs, fmt.Sprintf("%s[%d]", path, i), "is named twice")
			return nil
		}
		seen[id] = true
	}
	return ids
}

// object reads a nested object with fn, then refuses its unknown fields.
func (r *fieldReader) object(name string, required bool, fn func(*fieldReader)) bool {
	if r.desc != nil {
		sub := describer(join(r.path, name))
		fn(sub)
		r.describe(name, required, sub.described())
		return false
	}
	v, ok := r.take(name, required)
	if !ok {
		return false
	}
	sub := readObject(v, join(r.path, name), r.dir, r.errs)
	if sub == nil {
		return false
	}
	fn(sub)
	sub.done()
	return true
}

// enumMap reads an object used as a map: each key a ref (what names it in
// errors: "domain name"), each value one of values, at most MaxListLen
// entries. It returns nil when the object is absent.
func (r *fieldReader) enumMap(name string, required bool, what string, values []string) map[string]string {
	if r.desc != nil {
		r.describe(name, required, Schema{
			Type:          "object",
			Keys:          &Schema{Type: "string", Text: TextRef, MaxBytes: MaxRefLen, NotBlank: true},
			Values:        &Schema{Type: "string", Enum: values, NotBlank: true},
			MaxProperties: MaxListLen,
		})
		return nil
	}
	var m map[string]string
	r.object(name, required, func(o *fieldReader) {
		m = map[string]string{}
		for _, k := range o.keys {
			if msg := checkText(k, textRef, MaxRefLen); msg != "" || k == "" {
				o.fail(k, "is not a valid "+what)
				o.used[k] = true
				continue
			}
			if v := o.enum(k, true, values); v != "" {
				m[k] = v
			}
		}
		if len(o.keys) > MaxListLen {
			r.fail(name, fmt.Sprintf("must have at most %d entries", MaxListLen))
		}
	})
	return m
}

// elem reads one array element as an object with fn. In describe mode it
// describes the elements of the array being described (array).
func (r *fieldReader) elem(path string, v json.RawMessage, fn func(*fieldReader)) {
	if r.desc != nil {
		sub := describer(path)
		fn(sub)
		s := sub.described()
		r.desc.items = &s
		return
	}
	sub := readObject(v, path, r.dir, r.errs)
	if sub == nil {
		return
	}
	fn(sub)
	sub.done()
}

// CheckRef checks s as a reference of the contract (a subject_ref, a
// mentor_ref: letters, digits and . _ : / -, at most MaxRefLen bytes) and
// returns what is wrong with it, "" when nothing is: for a query that names
// one, such as a search by subject reference.
func CheckRef(s string) string { return checkText(s, textRef, MaxRefLen) }
