package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/rego"
)

// servedOpenAPI fetches GET /v1/openapi.json from a server and decodes it.
func servedOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	api.New(api.Config{}).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d %s", rec.Code, body)
	}
	if !bytes.Equal(body, api.OpenAPI()) {
		t.Error("the served document is not api.OpenAPI()")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("the OpenAPI document has trailing data")
	}
	return doc
}

// at returns the value at a JSON pointer ("#/components/schemas/Stage") in
// doc, and false if there is none.
func at(doc any, pointer string) (any, bool) {
	rest, ok := strings.CutPrefix(pointer, "#")
	if !ok {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(rest, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func mustAt(t *testing.T, doc any, pointer string) map[string]any {
	t.Helper()
	v, ok := at(doc, pointer)
	m, isObj := v.(map[string]any)
	if !ok || !isObj {
		t.Fatalf("the OpenAPI document has no object at %s", pointer)
	}
	return m
}

// strs returns v, a JSON array of strings, as a slice.
func strs(v any) []string {
	a, _ := v.([]any)
	out := []string{}
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func names[T ~string](values []T) []string {
	out := []string{}
	for _, v := range values {
		out = append(out, string(v))
	}
	return out
}

// TestOpenAPIRefsResolve walks the served document: every $ref points at
// something in it.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := servedOpenAPI(t)
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					refs++
					if _, ok := at(doc, fmt.Sprint(x)); !ok {
						t.Errorf("%s: $ref %v resolves to nothing", path, x)
					}
				}
				walk(path+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", path, i), x)
			}
		}
	}
	walk("#", doc)
	if refs < 100 {
		t.Errorf("only %d $refs: the walk is broken", refs)
	}
}

// TestOpenAPIMatchesTheRegistry checks what the served document says of the
// domain against the domain: each registered type's data schema against its
// data struct and its decoder, the vocabulary's enumerations, which types
// may be appended through the events endpoint and which are items.
func TestOpenAPIMatchesTheRegistry(t *testing.T) {
	doc := servedOpenAPI(t)
	schemas := mustAt(t, doc, "#/components/schemas")

	t.Run("vocabulary", func(t *testing.T) {
		codes, practiceNames := []string{}, []string{}
		for _, p := range domain.Practices {
			codes, practiceNames = append(codes, string(p.Code)), append(practiceNames, p.Name)
		}
		for name, want := range map[string][]string{
			"Stage":        names(domain.Stages),
			"SectionName":  names(domain.Sections),
			"TLP":          names(domain.TLPs),
			"Purpose":      names(domain.Purposes),
			"LegalBasis":   domain.LegalBases,
			"PracticeCode": codes,
		} {
			if got := strs(mustAt(t, doc, "#/components/schemas/"+name)["enum"]); !slices.Equal(got, want) {
				t.Errorf("%s.enum = %v, the domain's is %v", name, got, want)
			}
		}
		if got := strs(schemas["PracticeCode"].(map[string]any)["x-enum-descriptions"]); !slices.Equal(got, practiceNames) {
			t.Errorf("PracticeCode names %v, the domain's are %v", got, practiceNames)
		}
		if got := mustAt(t, doc, "#/components/parameters/Purpose/schema")["$ref"]; got != "#/components/schemas/Purpose" {
			t.Errorf("the Purpose parameter's schema is %v", got)
		}
	})

	t.Run("event types", func(t *testing.T) {
		var appendable, readable []string
		for _, typ := range domain.EventTypes {
			if domain.OwnEndpoint(typ) == "" {
				appendable = append(appendable, string(typ))
			}
			if len(domain.SectionsOf(typ)) > 0 {
				readable = append(readable, string(typ))
			}
		}
		if got := strs(mustAt(t, doc, "#/components/schemas/AppendRequest/properties/type")["enum"]); !slices.Equal(got, appendable) {
			t.Errorf("AppendRequest.type.enum = %v, the types appended through the events endpoint are %v", got, appendable)
		}
		if got := strs(mustAt(t, doc, "#/components/schemas/Item/properties/type")["enum"]); !slices.Equal(got, readable) {
			t.Errorf("Item.type.enum = %v, the types that feed a section are %v", got, readable)
		}
		req := mustAt(t, doc, "#/components/schemas/AppendRequest")
		mapping := mustAt(t, doc, "#/components/schemas/AppendRequest/discriminator/mapping")
		oneOf, _ := req["oneOf"].([]any)
		if len(oneOf) != len(appendable) || len(mapping) != len(appendable) {
			t.Errorf("AppendRequest: %d variants, %d mapped, for %d types", len(oneOf), len(mapping), len(appendable))
		}
		for i, typ := range appendable {
			variant, _ := mapping[typ].(string)
			if i < len(oneOf) && oneOf[i].(map[string]any)["$ref"] != variant {
				t.Errorf("AppendRequest.oneOf[%d] = %v, mapping[%s] = %s", i, oneOf[i], typ, variant)
			}
			if got := mustAt(t, doc, variant+"/properties/type")["const"]; got != typ {
				t.Errorf("%s: type %v, want %s", variant, got, typ)
			}
			if got := mustAt(t, doc, variant+"/properties/data")["$ref"]; got != "#/components/schemas/"+typ+"Data" {
				t.Errorf("%s: data %v, want %sData", variant, got, typ)
			}
		}
		if got := mustAt(t, doc, "#/paths/~1v1~1cases/post/requestBody/content/application~1json/schema")["$ref"]; got != "#/components/schemas/CaseOpenedData" {
			t.Errorf("POST /v1/cases takes %v, want the CaseOpened data", got)
		}
	})

	for _, typ := range domain.EventTypes {
		t.Run(string(typ)+"Data", func(t *testing.T) {
			s, ok := schemas[string(typ)+"Data"].(map[string]any)
			if !ok {
				t.Fatalf("the document has no schema %sData", typ)
			}
			d, err := domain.RehydrateData(typ, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			checkJSONSchema(t, string(typ), s, reflect.TypeOf(d), domain.DataSchema(typ))
			// Required is what the decoder refuses an empty object for.
			if got, want := strs(s["required"]), requiredByDecoder(typ); !slices.Equal(got, want) {
				t.Errorf("required %v, the decoder requires %v", got, want)
			}
		})
	}
}

// requiredByDecoder returns the fields DecodeData refuses {} for as "is
// required".
func requiredByDecoder(typ domain.EventType) []string {
	_, _, err := domain.DecodeData(typ, json.RawMessage(`{}`), domain.MapDirectory{}, "")
	out := []string{}
	var e *domain.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			if f.Message == "is required" {
				out = append(out, f.Field)
			}
		}
	}
	return out
}

// checkJSONSchema checks a rendered schema s against the Go type of the data
// (its members are exactly the JSON fields, with their kinds) and against the
// domain's schema ds it renders (enumerations, bounds, formats, required).
func checkJSONSchema(t *testing.T, path string, s map[string]any, rt reflect.Type, ds domain.Schema) {
	t.Helper()
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	kind := map[reflect.Kind]string{reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array", reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer"}[rt.Kind()]
	if s["type"] != kind || ds.Type != kind {
		t.Errorf("%s: type %v (domain: %s), the data's is %s", path, s["type"], ds.Type, kind)
		return
	}
	num := func(key string) int {
		n, _ := s[key].(json.Number)
		i, _ := n.Int64()
		return int(i)
	}
	switch rt.Kind() {
	case reflect.Struct:
		props, _ := s["properties"].(map[string]any)
		if s["additionalProperties"] != false {
			t.Errorf("%s: other members are not refused", path)
		}
		var fields []string
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
			p, ok := props[name].(map[string]any)
			dp, _ := ds.Property(name)
			if !ok {
				t.Errorf("%s: the data's field %s is not in the schema", path, name)
				continue
			}
			checkJSONSchema(t, path+"."+name, p, rt.Field(i).Type, dp.Schema)
		}
		for name := range props {
			if !slices.Contains(fields, name) {
				t.Errorf("%s: the schema has %s, the data does not", path, name)
			}
		}
		if got := strs(s["required"]); !slices.Equal(got, append([]string{}, ds.Required()...)) {
			t.Errorf("%s: required %v, the domain's %v", path, got, ds.Required())
		}
	case reflect.Map:
		v, ok := s["additionalProperties"].(map[string]any)
		if !ok || ds.Values == nil {
			t.Errorf("%s: a map with no schema of its values", path)
			return
		}
		if num("maxProperties") != ds.MaxProperties {
			t.Errorf("%s: maxProperties %v, the domain's %d", path, s["maxProperties"], ds.MaxProperties)
		}
		checkJSONSchema(t, path+".*", v, rt.Elem(), *ds.Values)
	case reflect.Slice:
		items, ok := s["items"].(map[string]any)
		if !ok || ds.Items == nil {
			t.Errorf("%s: an array with no schema of its items", path)
			return
		}
		if num("minItems") != ds.MinItems || num("maxItems") != ds.MaxItems || (s["uniqueItems"] == true) != ds.Unique {
			t.Errorf("%s: items %v–%v unique %v, the domain's %d–%d %v", path, s["minItems"], s["maxItems"], s["uniqueItems"], ds.MinItems, ds.MaxItems, ds.Unique)
		}
		checkJSONSchema(t, path+"[]", items, rt.Elem(), *ds.Items)
	case reflect.String:
		if got := strs(s["enum"]); !slices.Equal(got, append([]string{}, ds.Enum...)) {
			t.Errorf("%s: enum %v, the domain's %v", path, got, ds.Enum)
		}
		if got, _ := s["format"].(string); got != ds.Format {
			t.Errorf("%s: format %q, the domain's %q", path, got, ds.Format)
		}
		if num("maxLength") != ds.MaxBytes {
			t.Errorf("%s: maxLength %v, the domain's %d", path, s["maxLength"], ds.MaxBytes)
		}
	case reflect.Int:
		if num("minimum") != ds.Minimum || num("maximum") != ds.Maximum {
			t.Errorf("%s: %v–%v, the domain's %d–%d", path, s["minimum"], s["maximum"], ds.Minimum, ds.Maximum)
		}
	}
}

// TestOpenAPIDataSchemasValidate runs a JSON Schema validator (OPA's
// json.match_schema) over each type's data schema as served: data the
// decoder accepts matches it; data it refuses for a missing field, an
// unknown field or a value outside an enumeration does not.
func TestOpenAPIDataSchemasValidate(t *testing.T) {
	doc := servedOpenAPI(t)
	ctx := context.Background()
	query, err := rego.New(rego.Query(`[json.verify_schema(input.schema), json.match_schema(input.doc, input.schema)]`)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := domain.MapDirectory{"exit-ngo": domain.OrgCivilSociety, "municipality": domain.OrgMunicipality}
	for _, typ := range domain.EventTypes {
		schema := mustAt(t, doc, "#/components/schemas/"+string(typ)+"Data")
		ds := domain.DataSchema(typ)
		full := fullValue(ds).(map[string]any)
		for _, c := range []struct {
			name string
			doc  map[string]any
		}{
			{"every field", full},
			{"required fields only", requiredOnly(ds, full)},
			{"an unknown field", with(full, "surprise", 1)},
			{"a required field missing", without(full, ds.Required())},
			{"a value outside an enumeration", badEnum(ds, full)},
		} {
			if c.doc == nil {
				continue
			}
			raw, _ := json.Marshal(c.doc)
			_, _, decErr := domain.DecodeData(typ, raw, dir, "")
			rs, err := query.Eval(ctx, rego.EvalInput(map[string]any{"schema": schema, "doc": c.doc}))
			if err != nil || len(rs) != 1 {
				t.Fatalf("%s: %v", typ, err)
			}
			out := rs[0].Expressions[0].Value.([]any)
			if valid := out[0].([]any); valid[0] != true {
				t.Fatalf("%sData is not a valid JSON Schema: %v", typ, valid[1])
			}
			match := out[1].([]any)
			if (match[0] == true) != (decErr == nil) {
				t.Errorf("%s, %s %s: the schema matches: %v (%v), the decoder accepts: %v (%v)", typ, c.name, raw, match[0], match[1], decErr == nil, decErr)
			}
		}
	}
}

// fullValue returns a value of s with every member given, which the decoder
// accepts.
func fullValue(s domain.Schema) any {
	switch s.Type {
	case "boolean":
		return false
	case "integer":
		return s.Maximum
	case "array":
		return []any{fullValue(*s.Items)}
	case "object":
		m := map[string]any{}
		if s.Values != nil {
			m["beliefs"] = fullValue(*s.Values)
		}
		for _, p := range s.Properties {
			m[p.Name] = fullValue(p.Schema)
		}
		return m
	}
	switch {
	case s.Enum != nil:
		return s.Enum[0] // (a legal basis of "other" would need a reference: a rule the schema states in words only)
	case s.Format == domain.FormatDate:
		return "2026-03-01"
	case s.Format == domain.FormatDateTime:
		return "2026-03-01T10:00:00Z"
	case s.Org:
		return "exit-ngo"
	}
	return "R-1"
}

func requiredOnly(s domain.Schema, full map[string]any) map[string]any {
	m := map[string]any{}
	for _, name := range s.Required() {
		m[name] = full[name]
	}
	if len(s.Required()) == 0 {
		return nil // ConsentWithdrawn: nothing is required, yet {} is refused (a rule across fields)
	}
	return m
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func without(m map[string]any, keys []string) map[string]any {
	if len(keys) == 0 {
		return nil
	}
	out := with(m, keys[0], nil)
	delete(out, keys[0])
	return out
}

func badEnum(s domain.Schema, full map[string]any) map[string]any {
	for _, p := range s.Properties {
		if p.Schema.Enum != nil {
			return with(full, p.Name, "not-a-value")
		}
	}
	return nil
}
