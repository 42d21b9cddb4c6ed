package policies

import (
	"fmt"
	"slices"

	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Keys of the decision documents.
var (
	keyStatus       = ast.StringTerm("status")
	keySections     = ast.StringTerm("sections")
	keyReasons      = ast.StringTerm("reasons")
	keyVisible      = ast.StringTerm("visible")
	keyFields       = ast.StringTerm("fields")
	keyAuthor       = ast.StringTerm("author")
	keyErrors       = ast.StringTerm("errors")
	keyField        = ast.StringTerm("field")
	keyMessage      = ast.StringTerm("message")
	keyBreakMinutes = ast.StringTerm("break_glass_minutes")
	keyErasureDays  = ast.StringTerm("erasure_days")
	keyLabels       = ast.StringTerm("labels")
	keyShareList    = ast.StringTerm("share_list")
	keyOptions      = ast.StringTerm("options")
)

// decoder reads fields of a decision object, remembering the first field that
// is missing or of the wrong type.
type decoder struct {
	obj ast.Object
	err error
}

func (d *decoder) value(key *ast.Term) ast.Value {
	t := d.obj.Get(key)
	if t == nil {
		d.fail(key, "missing")
		return nil
	}
	return t.Value
}

func (d *decoder) fail(key *ast.Term, what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s %s", ErrShape, key, what)
	}
}

func (d *decoder) int(key *ast.Term) int {
	n, ok := d.value(key).(ast.Number)
	if !ok {
		d.fail(key, "not a number")
		return 0
	}
	i, ok := n.Int()
	if !ok {
		d.fail(key, "not an integer")
	}
	return i
}

func (d *decoder) bool(key *ast.Term) bool {
	b, ok := d.value(key).(ast.Boolean)
	if !ok {
		d.fail(key, "not a boolean")
	}
	return bool(b)
}

func (d *decoder) string(key *ast.Term) string {
	s, ok := d.value(key).(ast.String)
	if !ok {
		d.fail(key, "not a string")
	}
	return string(s)
}

// strings reads an array or a set of strings (sets come out sorted).
func (d *decoder) strings(key *ast.Term) []string {
	var out []string
	add := func(t *ast.Term) {
		s, ok := t.Value.(ast.String)
		if !ok {
			d.fail(key, "holds a non-string")
		}
		out = append(out, string(s))
	}
	switch v := d.value(key).(type) {
	case *ast.Array:
		out = make([]string, 0, v.Len())
		v.Foreach(add)
	case ast.Set:
		out = make([]string, 0, v.Len())
		v.Sorted().Foreach(add)
	default:
		d.fail(key, "not a list")
	}
	return slices.Clip(out)
}

func (d *decoder) fieldErrors(key *ast.Term) []domain.FieldError {
	arr, ok := d.value(key).(*ast.Array)
	if !ok {
		d.fail(key, "not an array")
		return nil
	}
	var out []domain.FieldError
	arr.Foreach(func(t *ast.Term) {
		obj, ok := t.Value.(ast.Object)
		if !ok {
			d.fail(key, "holds a non-object")
			return
		}
		e := decoder{obj: obj}
		out = append(out, domain.FieldError{Field: e.string(keyField), Message: e.string(keyMessage)})
		if e.err != nil && d.err == nil {
			d.err = e.err
		}
	})
	return out
}

// statusKinds maps the statuses a policy answers to the outcome of a decision.
var statusKinds = map[int]struct {
	allow bool
	kind  domain.Kind
}{
	200: {allow: true},
	201: {allow: true},
	400: {kind: domain.KindInvalid},
	403: {kind: domain.KindForbidden},
	404: {kind: domain.KindNotFound},
	409: {kind: domain.KindConflict},
	410: {kind: domain.KindGone},
}

// decision reads status and reasons; a status outside allowed is a shape error.
func (d *decoder) decision(revision string, allowed ...int) Decision {
	status := d.int(keyStatus)
	out := Decision{Reasons: d.strings(keyReasons), Revision: revision}
	sk, ok := statusKinds[status]
	if !ok || !slices.Contains(allowed, status) {
		d.fail(keyStatus, fmt.Sprintf("%d not one of %v", status, allowed))
		return out
	}
	out.Allow, out.Kind = sk.allow, sk.kind
	return out
}
