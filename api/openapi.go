package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/liaison-hub/liaison/domain"
)

// openAPIStatic is the hand-written part of the OpenAPI 3 document of this
// API: the paths, the answers, the envelope of an append. It names no event
// type and describes no event data: everything that comes from the domain
// (the event types, the schema of each type's data, the vocabulary's
// enumerations) is added from the domain's registry by OpenAPI.
// TestOpenAPIMatchesRoutes keeps the paths and the registered routes equal;
// TestOpenAPIMatchesTheRegistry checks what is added.
//
//go:embed openapi.json
var openAPIStatic []byte

// OpenAPI returns the OpenAPI document: the hand-written one completed from
// the domain's registry. It is built once, when the program starts; the
// bytes must not be modified.
func OpenAPI() []byte { return openAPIDoc }

var openAPIDoc = func() []byte {
	b, err := buildOpenAPI(openAPIStatic)
	if err != nil {
		panic("api: the OpenAPI document does not build: " + err.Error()) // a defect of the build
	}
	return b
}()

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}

// schemaRef is a JSON reference to a schema of components.schemas.
func schemaRef(name string) *jsonObject {
	return jsonObj("$ref", "#/components/schemas/"+name)
}

// dataSchemaName names the schema of the data of events of type t.
func dataSchemaName(t domain.EventType) string { return string(t) + "Data" }

// buildOpenAPI adds to the static document what the domain's registry says:
//
//   - components.schemas.<Type>Data, the data of each event type, from its
//     decoder (domain.DataSchema); CaseOpenedData is the body of
//     POST /v1/cases;
//   - AppendRequest: the types appendable through the events endpoint
//     (properties.type.enum), and, for each, the schema of its data
//     (oneOf the Append<Type> schemas, discriminated by type);
//   - Item: the types a reader can meet as items (those feeding a section);
//   - the vocabulary: Stage, SectionName, TLP, Purpose, LegalBasis and
//     PracticeCode (with the practices' names).
//
// The static document must not define what is added.
func buildOpenAPI(static []byte) ([]byte, error) {
	doc, err := parseJSONObject(static)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	schemas, err := doc.path("components", "schemas")
	if err != nil {
		return nil, err
	}
	add := func(name string, s *jsonObject) error {
		if _, ok := schemas.get(name); ok {
			return fmt.Errorf("openapi.json defines components.schemas.%s, which is derived from the domain", name)
		}
		schemas.set(name, s)
		return nil
	}
	enum := func(name, description string, values []string) error {
		return add(name, jsonObj("type", "string", "description", description, "enum", values))
	}
	var codes, practiceNames []string
	for _, p := range domain.Practices {
		codes, practiceNames = append(codes, string(p.Code)), append(practiceNames, p.Name)
	}
	practices := jsonObj("type", "string", "description", "A practice code: the EUTEx survey's (01 to 14, 99) and the hub's own for the practices the survey did not code (15 to 22): "+describeNames(codes, practiceNames), "enum", codes, "x-enum-descriptions", practiceNames)
	for _, err := range []error{
		enum("Stage", "Where a case stands in its life; stages only move forward, in this order.", vocabStrings(domain.Stages)),
		enum("SectionName", "A section of a case, the unit of read access, in the protocol's order.", vocabStrings(domain.Sections)),
		enum("TLP", "A Traffic Light Protocol 2.0 label.", vocabStrings(domain.TLPs)),
		enum("Purpose", "Why a reader reads.", vocabStrings(domain.Purposes)),
		enum("LegalBasis", "The legal ground of an erasure; other needs a reference saying what the basis is.", domain.LegalBases),
		add("PracticeCode", practices),
	} {
		if err != nil {
			return nil, err
		}
	}

	var appendable, readable []string
	oneOf := []any{}
	mapping := &jsonObject{}
	for _, t := range domain.EventTypes {
		name := dataSchemaName(t)
		s := withDescription(jsonSchema(domain.DataSchema(t)), describeType(t))
		s.set("example", json.RawMessage(domain.Example(t)))
		if err := add(name, s); err != nil {
			return nil, err
		}
		if len(domain.SectionsOf(t)) > 0 {
			readable = append(readable, string(t))
		}
		if domain.OwnEndpoint(t) != "" {
			continue
		}
		appendable = append(appendable, string(t))
		variant := "Append" + string(t)
		if err := add(variant, jsonObj(
			"type", "object",
			"description", fmt.Sprintf("An append of %s: its data is %s.", t, name),
			"required", []string{"type", "data"},
			"properties", jsonObj("type", jsonObj("const", string(t)), "data", schemaRef(name)),
		)); err != nil {
			return nil, err
		}
		oneOf = append(oneOf, schemaRef(variant))
		mapping.set(string(t), "#/components/schemas/"+variant)
	}

	appendReq, err := doc.path("components", "schemas", "AppendRequest")
	if err != nil {
		return nil, err
	}
	appendType, err := appendReq.path("properties", "type")
	if err != nil {
		return nil, err
	}
	itemType, err := doc.path("components", "schemas", "Item", "properties", "type")
	if err != nil {
		return nil, err
	}
	for _, o := range []*jsonObject{appendType, itemType} {
		if _, ok := o.get("enum"); ok {
			return nil, errors.New("openapi.json lists event types, which are derived from the domain")
		}
	}
	appendType.set("enum", appendable)
	itemType.set("enum", readable)
	if _, ok := appendReq.get("oneOf"); ok {
		return nil, errors.New("openapi.json defines AppendRequest.oneOf, which is derived from the domain")
	}
	appendReq.set("oneOf", oneOf)
	appendReq.set("discriminator", jsonObj("propertyName", "type", "mapping", mapping))

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// vocabStrings returns the values of a vocabulary list as strings.
func vocabStrings[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// describeType says in words what the registry says of type t.
func describeType(t domain.EventType) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The data of %s events.", t)
	if secs := domain.SectionsOf(t); len(secs) > 0 {
		names := make([]string, len(secs))
		for i, s := range secs {
			names[i] = string(s)
		}
		if len(names) == 1 {
			fmt.Fprintf(&b, " It feeds the section %s.", names[0])
		} else {
			fmt.Fprintf(&b, " It feeds the sections %s.", strings.Join(names, " and "))
		}
	} else {
		b.WriteString(" It feeds no section: no reader ever gets it as an item.")
	}
	if st, ok := domain.StageOf(t); ok {
		fmt.Fprintf(&b, " It moves the case to %s.", st)
	}
	if hint := domain.OwnEndpoint(t); hint != "" {
		fmt.Fprintf(&b, " It is not appended through the events endpoint: %s.", hint)
	}
	if !domain.Sealed(t) {
		b.WriteString(" It is stored unsealed (codes and references, never content) and outlives the case's erasure.")
	}
	return b.String()
}

// refPattern is the characters of a reference (domain.TextRef).
const refPattern = `^[A-Za-z0-9._:/-]*$`

// jsonSchema renders s as JSON Schema (2020-12, as OpenAPI 3.1 has it). Its
// maxLength is the bound in bytes of UTF-8, which bounds the characters too;
// the description says bytes. An empty string stands for an absent optional
// field (domain.Schema.NotBlank) and is not listed as a value.
func jsonSchema(s domain.Schema) *jsonObject {
	o := jsonObj("type", s.Type)
	var words []string
	switch s.Type {
	case "string":
		if s.Enum != nil {
			o.set("enum", s.Enum)
			if s.EnumNames != nil {
				o.set("x-enum-descriptions", s.EnumNames)
				words = append(words, describeNames(s.Enum, s.EnumNames))
			}
		}
		switch s.Format {
		case domain.FormatDate:
			o.set("format", s.Format)
			words = append(words, "A date, YYYY-MM-DD.")
		case domain.FormatDateTime:
			o.set("format", s.Format)
			words = append(words, "An instant, RFC 3339 in UTC.")
		}
		if s.Org {
			words = append(words, "An organisation id of the directory.")
		}
		switch s.Text {
		case domain.TextRef:
			o.set("pattern", refPattern)
			if !s.Org {
				words = append(words, fmt.Sprintf("A reference: ASCII letters, digits and . _ : / -, at most %d bytes.", s.MaxBytes))
			}
		case domain.TextLine:
			words = append(words, fmt.Sprintf("One line of printable text, at most %d bytes of UTF-8.", s.MaxBytes))
		case domain.TextFree:
			words = append(words, fmt.Sprintf("Printable text (line breaks and tabs allowed), at most %d bytes of UTF-8.", s.MaxBytes))
		}
		if s.NotBlank && s.Text != "" {
			o.set("minLength", 1)
			words = append(words, "Not blank.")
		}
		if s.MaxBytes > 0 {
			o.set("maxLength", s.MaxBytes)
		}
	case "integer":
		o.set("minimum", s.Minimum)
		o.set("maximum", s.Maximum)
	case "array":
		if s.Items != nil {
			o.set("items", jsonSchema(*s.Items))
		}
		if s.MinItems > 0 {
			o.set("minItems", s.MinItems)
		}
		if s.MaxItems > 0 {
			o.set("maxItems", s.MaxItems)
		}
		if s.Unique {
			o.set("uniqueItems", true)
		}
	case "object":
		if s.Values != nil {
			if s.Keys != nil {
				o.set("propertyNames", jsonSchema(*s.Keys))
			}
			o.set("additionalProperties", jsonSchema(*s.Values))
			if s.MaxProperties > 0 {
				o.set("maxProperties", s.MaxProperties)
			}
			break
		}
		o.set("additionalProperties", false)
		if req := s.Required(); len(req) > 0 {
			o.set("required", req)
		}
		props := &jsonObject{}
		for _, p := range s.Properties {
			props.set(p.Name, jsonSchema(p.Schema))
		}
		o.set("properties", props)
	}
	for _, r := range s.Rules {
		words = append(words, ruleSentence(r))
	}
	if len(words) == 0 {
		return o
	}
	return withDescription(o, strings.Join(words, " "))
}

// withDescription returns schema o with text before its description, which reads
// first after the type.
func withDescription(o *jsonObject, text string) *jsonObject {
	if d, ok := o.get("description"); ok {
		text += " " + d.(string)
	}
	out := &jsonObject{}
	if t, ok := o.get("type"); ok {
		out.set("type", t)
	}
	out.set("description", text)
	for _, k := range o.keys {
		if k != "type" && k != "description" {
			out.set(k, o.vals[k])
		}
	}
	return out
}

// describeNames lists values with their names: "01 Motivational
// interviewing; 02 …".
func describeNames(values, names []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = v + " " + names[i]
	}
	return strings.Join(parts, "; ") + "."
}

// ruleSentence makes a rule ("must name …") a sentence ("Must name ….").
func ruleSentence(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	s = string(r)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// jsonObject is a JSON object that keeps the order of its members, so that the
// document reads in the order it was written.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// jsonObj returns a JSON object of the given keys and values, in order.
func jsonObj(kv ...any) *jsonObject {
	o := &jsonObject{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *jsonObject) get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// set sets key to v, in its place if it is there, at the end otherwise.
func (o *jsonObject) set(key string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// path returns the object at the path of keys under o.
func (o *jsonObject) path(keys ...string) (*jsonObject, error) {
	cur := o
	for i, k := range keys {
		v, ok := cur.get(k)
		next, isObj := v.(*jsonObject)
		if !ok || !isObj {
			return nil, fmt.Errorf("openapi.json has no object at %s", strings.Join(keys[:i+1], "."))
		}
		cur = next
	}
	return cur, nil
}

// MarshalJSON writes o's members in order.
func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// parseJSONObject reads a JSON object, keeping the order of the members of
// every object in it.
func parseJSONObject(b []byte) (*jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := parseJSONValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data after the document")
	}
	o, ok := v.(*jsonObject)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return o, nil
}

func parseJSONValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &jsonObject{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			if _, dup := o.get(key); dup {
				return nil, fmt.Errorf("the key %q appears twice", key)
			}
			v, err := parseJSONValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(key, v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := parseJSONValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}
