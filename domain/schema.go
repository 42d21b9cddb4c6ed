package domain

import (
	"encoding/json"
	"slices"
)

// Schema describes the JSON form of a value of event data as DecodeData
// accepts it. It is never written by hand: DataSchema runs the decoder of an
// event type once in a describe mode, in which every field accessor of
// fields.go (ref, line, free, enum, date, org, orgs, integer, boolean,
// stringsOf, array and elem, object, …) records the field it was asked for
// (its name, whether it is required, and what the accessor would accept)
// instead of reading it. The schema and the validation therefore cannot part:
// a field is in the schema exactly when the decoder reads it, and the
// limits are the arguments the decoder passes.
//
// Only the constraints of single values are structural. A rule across fields
// (a reference required when the legal basis is "other") is checked by the
// decoder's own code (fieldReader.check), and the schema carries it in the
// decoder's own words (Rules).
//
// A Schema is a plain value; api renders it as JSON Schema for the OpenAPI
// document.
type Schema struct {
	// Type is the JSON type: "object", "array", "string", "integer" or
	// "boolean".
	Type string

	// Text says which characters a string may hold: TextRef, TextLine or
	// TextFree; empty for strings whose values are listed (Enum) or whose
	// Format says it all.
	Text string
	// MaxBytes bounds a string's length in bytes of UTF-8 (0: no bound of its
	// own).
	MaxBytes int
	// NotBlank says that a string must hold something besides white space.
	// Where it is false, the empty string stands for an absent optional
	// field and is accepted whatever Enum and Format say.
	NotBlank bool
	// Enum lists the values a string may take, in the contract's order (nil:
	// any value Text allows).
	Enum []string
	// EnumNames names each value of Enum, where the values have names (the
	// practice codes); nil otherwise.
	EnumNames []string
	// Format is FormatDate or FormatDateTime for a string that is a date or
	// an instant.
	Format string
	// Org says that a string is an organisation id of the directory.
	Org bool

	// Minimum and Maximum bound an integer (both inclusive; always set for
	// an integer).
	Minimum, Maximum int

	// Items describes the elements of an array.
	Items *Schema
	// MinItems and MaxItems bound the length of an array.
	MinItems, MaxItems int
	// Unique says that no element of an array may appear twice.
	Unique bool

	// Properties are the members of an object, in the order the decoder reads
	// them (the contract's order). An object holds no other member, unless it
	// is a map (Values).
	Properties []Property
	// Keys and Values describe the members of an object used as a map: any
	// name Keys allows, with a value Values allows; nil for other objects.
	Keys, Values *Schema
	// MaxProperties bounds the members of a map (0: no bound).
	MaxProperties int

	// Rules are the rules across fields that the value must also satisfy, in
	// the decoder's words, each completing a sentence whose subject is the
	// value ("is required when legal_basis is other: …").
	Rules []string
}

// Property is one member of an object.
type Property struct {
	// Name is the member's JSON name.
	Name string
	// Required says that the member must be present and not null.
	Required bool
	// Schema describes the member's value.
	Schema Schema
}

// The kinds of text (Schema.Text), as docs/api.md names them.
const (
	TextRef  = "ref"  // ASCII letters, digits and . _ : / -
	TextLine = "line" // printable, one line
	TextFree = "text" // printable; line breaks and tabs allowed
)

// The formats of strings (Schema.Format), as JSON Schema names them.
const (
	FormatDate     = "date"      // YYYY-MM-DD
	FormatDateTime = "date-time" // RFC 3339, in UTC
)

// Property returns the member of an object named name, and false if it has
// none.
func (s Schema) Property(name string) (Property, bool) {
	for _, p := range s.Properties {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

// Required lists the names of the required members of an object, in order.
func (s Schema) Required() []string {
	var out []string
	for _, p := range s.Properties {
		if p.Required {
			out = append(out, p.Name)
		}
	}
	return out
}

// clone returns a copy of s that shares no slice or schema with it.
func (s Schema) clone() Schema {
	c := s
	c.Enum, c.EnumNames, c.Rules = slices.Clone(s.Enum), slices.Clone(s.EnumNames), slices.Clone(s.Rules)
	for _, p := range []**Schema{&c.Items, &c.Keys, &c.Values} {
		if *p != nil {
			x := (*p).clone()
			*p = &x
		}
	}
	if s.Properties != nil {
		c.Properties = make([]Property, len(s.Properties))
		for i, p := range s.Properties {
			c.Properties[i] = Property{Name: p.Name, Required: p.Required, Schema: p.Schema.clone()}
		}
	}
	return c
}

func (k textKind) String() string {
	switch k {
	case textRef:
		return TextRef
	case textLine:
		return TextLine
	}
	return TextFree
}

// description is what a fieldReader in describe mode records: the members of
// the object it reads, and the elements of the array it is reading.
type description struct {
	props []Property
	items *Schema
	rules []string // rules naming no member read
}

// describer returns a fieldReader in describe mode for an object at path.
func describer(path string) *fieldReader {
	return &fieldReader{path: path, vals: map[string]json.RawMessage{}, used: map[string]bool{}, errs: new([]FieldError), dir: MapDirectory{}, desc: &description{}}
}

// describe records a member of the object being described.
func (r *fieldReader) describe(name string, required bool, s Schema) {
	r.desc.props = append(r.desc.props, Property{Name: name, Required: required, Schema: s})
}

// described returns the object a describing reader recorded.
func (r *fieldReader) described() Schema {
	return Schema{Type: "object", Properties: r.desc.props, Rules: r.desc.rules}
}

// check records msg as an error of field unless ok holds: a rule across
// fields. In describe mode it records the rule on field's schema instead
// (after the field was read), or on the object's when no such field was
// read.
func (r *fieldReader) check(ok bool, field, msg string) {
	if r.desc == nil {
		if !ok {
			r.fail(field, msg)
		}
		return
	}
	for i := range r.desc.props {
		if p := &r.desc.props[i]; p.Name == field {
			p.Schema.Rules = append(p.Schema.Rules, msg)
			return
		}
	}
	r.desc.rules = append(r.desc.rules, field+" "+msg)
}
