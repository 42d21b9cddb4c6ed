package accesslog

import (
	"bytes"
	"strconv"
	"time"
	"unsafe"
)

// decodeEncoded reads b when it is exactly in Encode's layout and holds no
// escaped string, and reports whether it was: records are decoded once per
// API call (by the indexes) and for every record a query reads, and
// encoding/json takes several times longer. A string without a backslash is
// its raw bytes, whether Encode wrote it itself or through json.Marshal.
// Both layouts are Encode's: the one before the optional fields (issuer,
// justification, legal_basis, reference) and the one with any of them, in
// that order and never empty.
//
// With view set, the record's strings are views of b's bytes, not copies:
// for a caller that drops the record before b may change (the query index).
func decodeEncoded(b []byte, view bool) (Record, bool) {
	d := decoder{b: b, ok: true, view: view}
	var r Record
	d.lit(`{"time":`)
	t := d.str()
	r.RequestID = d.field(`,"request_id":`)
	r.Sub = d.field(`,"sub":`)
	r.Agency = d.field(`,"agency":`)
	d.lit(`,"roles":`)
	r.Roles = d.strs()
	r.Purpose = d.field(`,"purpose":`)
	r.Action = d.field(`,"action":`)
	r.CaseID = d.field(`,"case_id":`)
	r.Section = d.field(`,"section":`)
	r.Decision = d.field(`,"decision":`)
	d.lit(`,"status":`)
	r.Status = d.int()
	d.lit(`,"reasons":`)
	r.Reasons = d.strs()
	r.PolicyRevision = d.field(`,"policy_revision":`)
	d.lit(`,"break_glass":`)
	r.BreakGlass = d.bool()
	d.lit(`,"withheld":`)
	r.Withheld = d.int()
	r.Issuer = d.optional(`,"issuer":`)
	r.Justification = d.optional(`,"justification":`)
	r.LegalBasis = d.optional(`,"legal_basis":`)
	r.Reference = d.optional(`,"reference":`)
	d.lit(`}`)
	if !d.ok || len(d.b) != 0 {
		return Record{}, false
	}
	var err error
	if r.Time, err = time.Parse(time.RFC3339Nano, t); err != nil {
		return Record{}, false
	}
	return r, true
}

// recordTime returns the time of the record b in Encode's layout, and false
// when b is not in it.
func recordTime(b []byte) (time.Time, bool) {
	d := decoder{b: b, ok: true}
	d.lit(`{"time":`)
	s := d.str()
	if !d.ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// decoder reads b from the front; ok turns false at the first surprise, and
// every later read returns a zero value.
type decoder struct {
	b    []byte
	ok   bool
	view bool // strings are views of b
}

func (d *decoder) lit(s string) {
	if d.ok && bytes.HasPrefix(d.b, []byte(s)) {
		d.b = d.b[len(s):]
		return
	}
	d.ok = false
}

func (d *decoder) field(name string) string {
	d.lit(name)
	return d.str()
}

// optional reads the field name and its string when b starts with name, and
// returns "" otherwise; an empty string after name is a surprise, because
// Encode leaves such a field out.
func (d *decoder) optional(name string) string {
	if !d.ok || !bytes.HasPrefix(d.b, []byte(name)) {
		return ""
	}
	s := d.field(name)
	if s == "" {
		d.ok = false
	}
	return s
}

// str reads a JSON string without escapes.
func (d *decoder) str() string {
	d.lit(`"`)
	if !d.ok {
		return ""
	}
	i := bytes.IndexAny(d.b, `"\`)
	if i < 0 || d.b[i] != '"' {
		d.ok = false
		return ""
	}
	var s string
	switch {
	case d.view && i > 0:
		s = unsafe.String(&d.b[0], i)
	default:
		s = string(d.b[:i])
	}
	d.b = d.b[i+1:]
	return s
}

// strs reads a JSON array of strings without escapes; [] is an empty, non-nil
// slice, as encoding/json makes it.
func (d *decoder) strs() []string {
	d.lit(`[`)
	out := []string{}
	for d.ok && len(d.b) > 0 && d.b[0] != ']' {
		if len(out) > 0 {
			d.lit(`,`)
		}
		out = append(out, d.str())
	}
	d.lit(`]`)
	return out
}

func (d *decoder) int() int {
	i := 0
	for i < len(d.b) && (d.b[i] == '-' || d.b[i] >= '0' && d.b[i] <= '9') {
		i++
	}
	n, err := strconv.Atoi(string(d.b[:i]))
	if err != nil {
		d.ok = false
	}
	d.b = d.b[i:]
	return n
}

func (d *decoder) bool() bool {
	switch {
	case bytes.HasPrefix(d.b, []byte("true")):
		d.b = d.b[4:]
		return true
	case bytes.HasPrefix(d.b, []byte("false")):
		d.b = d.b[5:]
		return false
	}
	d.ok = false
	return false
}
