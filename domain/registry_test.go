package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

// protocolTable is docs/protocol.md's "Sections and the events that feed
// them" and "Stages", the write table's after_close, and the endpoints of
// docs/api.md, in the contract's order: what the registry must say of each
// type.
var protocolTable = []struct {
	typ        domain.EventType
	sections   []domain.Section
	stage      domain.Stage
	sealed     bool
	own        bool // appended through an endpoint of its own
	afterClose bool
}{
	{domain.CaseOpened, []domain.Section{domain.SectionProfile}, domain.StageIntake, true, true, false},
	{domain.ConsentGiven, []domain.Section{domain.SectionConsent}, "", true, false, false},
	{domain.ConsentWithdrawn, []domain.Section{domain.SectionConsent}, "", true, false, false},
	{domain.ParticipationChanged, []domain.Section{domain.SectionProfile}, "", true, false, false},
	{domain.Transferred, []domain.Section{domain.SectionProfile}, "", true, false, false},
	{domain.RiskAssessmentRecorded, []domain.Section{domain.SectionRisk}, domain.StageAssessment, true, false, false},
	{domain.NeedsAssessmentRecorded, []domain.Section{domain.SectionNeeds}, domain.StageAssessment, true, false, false},
	{domain.TreatmentPlanAdopted, []domain.Section{domain.SectionPlan}, domain.StageIntervention, true, false, false},
	{domain.GoalUpdated, []domain.Section{domain.SectionPlan}, "", true, false, false},
	{domain.PlanReviewed, []domain.Section{domain.SectionPlan}, "", true, false, false},
	{domain.InterventionRecorded, []domain.Section{domain.SectionInterventions}, "", true, false, false},
	{domain.CounsellingNoteAdded, []domain.Section{domain.SectionCounselling}, "", true, false, false},
	{domain.CaseConferenceHeld, []domain.Section{domain.SectionConferences}, "", true, false, false},
	{domain.ConferenceActionCompleted, []domain.Section{domain.SectionConferences}, "", true, false, false},
	{domain.IntelligenceNoteAdded, []domain.Section{domain.SectionSecurity}, "", true, false, false},
	{domain.RiskDisclosureRaised, []domain.Section{domain.SectionSecurity}, "", true, false, false},
	{domain.FamilyContactRecorded, []domain.Section{domain.SectionFamily}, "", true, false, false},
	{domain.TransitionPlanAgreed, []domain.Section{domain.SectionTransition}, domain.StageTransition, true, false, false},
	{domain.MentorAssigned, []domain.Section{domain.SectionTransition}, "", true, false, false},
	{domain.MentoringEnded, []domain.Section{domain.SectionTransition}, "", true, false, false},
	{domain.ReleaseScheduled, []domain.Section{domain.SectionProfile, domain.SectionTransition}, domain.StageTransition, true, false, false},
	{domain.Released, []domain.Section{domain.SectionProfile}, domain.StageReleased, true, false, false},
	{domain.ProbationHandoverCompleted, []domain.Section{domain.SectionTransition}, domain.StageTransition, true, false, false},
	{domain.OutcomeRecorded, []domain.Section{domain.SectionOutcomes}, "", true, false, false},
	{domain.CaseClosed, []domain.Section{domain.SectionProfile}, domain.StageClosed, true, false, false},
	{domain.CaseErased, nil, "", false, true, true},
	{domain.BreakGlassInvoked, nil, "", true, true, false},
	{domain.ErasureRequested, nil, "", false, true, true},
	{domain.ErasureCancelled, nil, "", false, true, true},
}

func TestTheRegistrySaysWhatTheProtocolSays(t *testing.T) {
	var order []domain.EventType
	for _, row := range protocolTable {
		order = append(order, row.typ)
		typ := row.typ
		if !domain.KnownEventType(typ) {
			t.Errorf("%s is not registered", typ)
		}
		if got := domain.SectionsOf(typ); !slices.Equal(got, row.sections) {
			t.Errorf("SectionsOf(%s) = %v, want %v", typ, got, row.sections)
		}
		st, ok := domain.StageOf(typ)
		if st != row.stage || ok != (row.stage != "") {
			t.Errorf("StageOf(%s) = %q, %v; want %q", typ, st, ok, row.stage)
		}
		if got := domain.Sealed(typ); got != row.sealed {
			t.Errorf("Sealed(%s) = %v, want %v", typ, got, row.sealed)
		}
		if got := domain.OwnEndpoint(typ); (got != "") != row.own {
			t.Errorf("OwnEndpoint(%s) = %q, want one: %v", typ, got, row.own)
		}
		closed := &domain.Case{ID: "c", Version: 2, Closed: true}
		if err := closed.CheckAppend(typ); (err == nil) != row.afterClose {
			t.Errorf("%s on a closed case: %v, want allowed: %v", typ, err, row.afterClose)
		}
	}
	if !slices.Equal(domain.EventTypes, order) {
		t.Errorf("EventTypes = %v, want %v", domain.EventTypes, order)
	}
	for _, s := range domain.Sections {
		fed := false
		for _, typ := range domain.EventTypes {
			fed = fed || slices.Contains(domain.SectionsOf(typ), s)
		}
		if !fed {
			t.Errorf("no event type feeds section %s", s)
		}
	}
	for _, typ := range []domain.EventType{"NoSuchEvent", ""} {
		if _, ok := domain.StageOf(typ); ok || domain.KnownEventType(typ) || domain.SectionsOf(typ) != nil || !domain.Sealed(typ) || domain.OwnEndpoint(typ) != "" || domain.DataSchema(typ).Type != "" {
			t.Errorf("the unknown type %q is known to the registry", typ)
		}
		if _, err := domain.RehydrateData(typ, []byte("{}")); domain.KindOf(err) != domain.KindInternal {
			t.Errorf("RehydrateData(%q): %v, want an internal error", typ, err)
		}
	}
}

func TestOwnEndpointTypesAreRefusedByTheEventsEndpoint(t *testing.T) {
	for _, typ := range domain.EventTypes {
		body := fmt.Sprintf(`{"type":%q,"data":%s}`, typ, fuzzExamples[typ])
		_, err := domain.ParseAppendRequest([]byte(body), dir)
		hint := domain.OwnEndpoint(typ)
		if hint == "" {
			if err != nil {
				t.Errorf("%s: %v", typ, err)
			}
			continue
		}
		var e *domain.Error
		if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "type" || !strings.HasSuffix(e.Fields[0].Message, hint) {
			t.Errorf("%s appended through the events endpoint: %v, want a refusal naming %q", typ, err, hint)
		}
	}
}

// TestDataSchemaIsTheDataStruct checks each type's schema against its data
// struct: the same JSON fields in the same order (the canonical encoding's),
// the same JSON kinds, nested structs included, and required exactly where
// the struct does not omit an empty value.
func TestDataSchemaIsTheDataStruct(t *testing.T) {
	for _, typ := range domain.EventTypes {
		d, err := domain.RehydrateData(typ, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		s := domain.DataSchema(typ)
		checkSchemaShape(t, string(typ), s, reflect.TypeOf(d))
		s.Properties[0].Name = "changed"
		if domain.DataSchema(typ).Properties[0].Name == "changed" {
			t.Fatalf("DataSchema(%s) shares its schema with the registry", typ)
		}
	}
}

func checkSchemaShape(t *testing.T, path string, s domain.Schema, rt reflect.Type) {
	t.Helper()
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	want := map[reflect.Kind]string{reflect.Struct: "object", reflect.Map: "object", reflect.Slice: "array", reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer"}[rt.Kind()]
	if s.Type != want {
		t.Errorf("%s: schema type %q, the data's is %s (%s)", path, s.Type, want, rt)
		return
	}
	switch rt.Kind() {
	case reflect.Struct:
		var names []string
		for i := range rt.NumField() {
			tag := rt.Field(i).Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			names = append(names, name)
			p, ok := s.Property(name)
			if !ok {
				continue
			}
			if omit := strings.Contains(opts, "omitempty"); p.Required == omit {
				t.Errorf("%s.%s: required %v, but omitempty %v", path, name, p.Required, omit)
			}
			checkSchemaShape(t, path+"."+name, p.Schema, rt.Field(i).Type)
		}
		var got []string
		for _, p := range s.Properties {
			got = append(got, p.Name)
		}
		if !slices.Equal(got, names) || s.Values != nil {
			t.Errorf("%s: schema properties %v (map: %v), the data's fields are %v", path, got, s.Values != nil, names)
		}
	case reflect.Map:
		if s.Values == nil || s.Keys == nil || len(s.Properties) > 0 {
			t.Errorf("%s: a map, but its schema is %+v", path, s)
			return
		}
		checkSchemaShape(t, path+".*", *s.Values, rt.Elem())
	case reflect.Slice:
		if s.Items == nil {
			t.Errorf("%s: an array with no item schema", path)
			return
		}
		checkSchemaShape(t, path+"[]", *s.Items, rt.Elem())
	case reflect.String:
		if len(s.EnumNames) > 0 && len(s.EnumNames) != len(s.Enum) {
			t.Errorf("%s: %d enum names for %d values", path, len(s.EnumNames), len(s.Enum))
		}
	}
}

// requiredErrors decodes raw as typ's data and returns the fields refused as
// "is required" under prefix, without it.
func requiredErrors(t *testing.T, typ domain.EventType, raw, prefix string) []string {
	t.Helper()
	_, _, err := domain.DecodeData(typ, json.RawMessage(raw), dir, "data")
	var e *domain.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		if name, ok := strings.CutPrefix(f.Field, prefix); ok && f.Message == "is required" && !strings.ContainsAny(name, ".[") {
			out = append(out, name)
		}
	}
	return out
}

// TestDataSchemaRequiresWhatTheDecoderRequires checks Required against the
// decoder: the fields an empty object is refused for, and, for each nested
// object, the fields an empty one is refused for.
func TestDataSchemaRequiresWhatTheDecoderRequires(t *testing.T) {
	for _, typ := range domain.EventTypes {
		s := domain.DataSchema(typ)
		if got := requiredErrors(t, typ, `{}`, "data."); !slices.Equal(got, s.Required()) {
			t.Errorf("%s: {} is refused for %v missing, the schema requires %v", typ, got, s.Required())
		}
		for _, p := range s.Properties {
			var raw, prefix string
			var nested domain.Schema
			switch {
			case p.Schema.Type == "array" && p.Schema.Items.Type == "object":
				raw, prefix, nested = fmt.Sprintf(`{%q:[{}]}`, p.Name), "data."+p.Name+"[0].", *p.Schema.Items
			case p.Schema.Type == "object" && p.Schema.Values == nil:
				raw, prefix, nested = fmt.Sprintf(`{%q:{}}`, p.Name), "data."+p.Name+".", p.Schema
			default:
				continue
			}
			if got := requiredErrors(t, typ, raw, prefix); !slices.Equal(got, nested.Required()) {
				t.Errorf("%s.%s: an empty element is refused for %v missing, the schema requires %v", typ, p.Name, got, nested.Required())
			}
		}
	}
}

// TestDataSchemaLimitsAreTheDecoders puts each field of each type's example
// at and past the limits its schema states (enum values, formats, lengths,
// ranges, list sizes, organisations, nested members) and checks that the
// decoder accepts and refuses exactly where the schema says. Fields under a
// rule across fields (Rules) are only checked for refusal.
func TestDataSchemaLimitsAreTheDecoders(t *testing.T) {
	for _, typ := range domain.EventTypes {
		s := domain.DataSchema(typ)
		for _, p := range s.Properties {
			var example map[string]json.RawMessage
			if err := json.Unmarshal([]byte(fuzzExamples[typ]), &example); err != nil {
				t.Fatal(err)
			}
			probes := probesOf(p.Schema)
			if !p.Required {
				probes = append(probes, probe{"absent", nil, true})
			} else {
				probes = append(probes, probe{"absent", nil, false})
			}
			for _, pr := range probes {
				if pr.value == nil {
					delete(example, p.Name)
				} else {
					example[p.Name] = mustJSON(t, pr.value)
				}
				raw := mustJSON(t, example)
				_, _, err := domain.DecodeData(typ, raw, dir, "data")
				named := namesField(err, "data."+p.Name)
				switch {
				case pr.ok && named && !underRules(p.Schema):
					t.Errorf("%s.%s %s: the schema allows it, the decoder refuses it: %v", typ, p.Name, pr.name, err)
				case !pr.ok && !named:
					t.Errorf("%s.%s %s: the schema forbids it, the decoder accepts it (%v)", typ, p.Name, pr.name, err)
				}
			}
		}
	}
}

// underRules reports whether a rule across fields (Rules) applies to s or
// to something inside it (the indicators of a risk assessment are rated on
// the scale of the assessment's tool).
func underRules(s domain.Schema) bool {
	if len(s.Rules) > 0 {
		return true
	}
	for _, p := range s.Properties {
		if underRules(p.Schema) {
			return true
		}
	}
	for _, x := range []*domain.Schema{s.Items, s.Keys, s.Values} {
		if x != nil && underRules(*x) {
			return true
		}
	}
	return false
}

type probe struct {
	name  string
	value any // nil: the field is absent
	ok    bool
}

// probesOf returns values at and past the limits of s, and whether s allows
// each.
func probesOf(s domain.Schema) []probe {
	var out []probe
	add := func(name string, v any, ok bool) { out = append(out, probe{name, v, ok}) }
	switch s.Type {
	case "boolean":
		add("true", true, true)
		add("false", false, true)
		add("a string", "yes", false)
	case "integer":
		add("minimum", s.Minimum, true)
		add("maximum", s.Maximum, true)
		add("below the minimum", s.Minimum-1, false)
		add("above the maximum", s.Maximum+1, false)
		add("a fraction", json.Number(fmt.Sprint(s.Minimum)+".5"), false)
		add("a string", fmt.Sprint(s.Minimum), false)
	case "string":
		add("a number", 1, false)
		switch {
		case s.Enum != nil:
			for _, v := range s.Enum {
				add(v, v, true)
			}
			add("not a value", "not-a-value", false)
		case s.Format == domain.FormatDate:
			add("a date", "2026-02-28", true)
			add("no such date", "2026-02-30", false)
			add("a time", "2026-02-28T00:00:00Z", false)
		case s.Format == domain.FormatDateTime:
			add("a time", "2026-11-26T21:00:00Z", true)
			add("a date", "2026-11-26", false)
		case s.Org:
			add("an organisation", "exit-ngo", true)
			add("an unknown organisation", "nobody", false)
		default:
			add("the longest", strings.Repeat("1", s.MaxBytes), true)
			add("too long", strings.Repeat("1", s.MaxBytes+1), false)
			add("a control character", "a\u0000b", false)
			add("a line break", "a\nb", s.Text == domain.TextFree)
			add("a space", "a b1", s.Text != domain.TextRef)
		}
		add("empty", "", !s.NotBlank)
	case "array":
		item := validValue(*s.Items)
		add("not an array", item, false)
		add("empty", []any{}, s.MinItems == 0)
		add("one item", []any{item}, true)
		if !s.Unique {
			add("the most", slices.Repeat([]any{item}, s.MaxItems), true)
			add("too many", slices.Repeat([]any{item}, s.MaxItems+1), false)
		} else {
			add("an item twice", []any{item, item}, false)
		}
		for _, pr := range probesOf(*s.Items) {
			if pr.value != nil && pr.name != "empty" || s.Items.Type == "string" {
				add("item "+pr.name, []any{pr.value}, pr.ok)
			}
		}
	case "object":
		add("not an object", "x", false)
		if s.Values != nil {
			v := validValue(*s.Values)
			add("one entry", map[string]any{"beliefs_attitudes": v}, true)
			add("a bad key", map[string]any{"no spaces": v}, false)
			for _, pr := range probesOf(*s.Values) {
				add("entry "+pr.name, map[string]any{"k": pr.value}, pr.ok)
			}
			for _, pr := range probesOf(*s.Keys) {
				if k, ok := pr.value.(string); ok {
					add("key "+pr.name, map[string]any{k: v}, pr.ok)
				}
			}
			most := map[string]any{}
			for i := range s.MaxProperties {
				most[fmt.Sprint("k", i)] = v
			}
			add("the most entries", most, true)
			over := maps.Clone(most)
			over["one-more"] = v
			add("too many entries", over, false)
			break
		}
		add("valid", validValue(s), true)
		m := validValue(s).(map[string]any)
		m["surprise"] = 1
		add("an unknown member", m, false)
	}
	return out
}

// validValue returns the smallest value s allows.
func validValue(s domain.Schema) any {
	switch s.Type {
	case "boolean":
		return true
	case "integer":
		return s.Minimum
	case "array":
		if s.MinItems > 0 {
			return []any{validValue(*s.Items)}
		}
		return []any{}
	case "object":
		m := map[string]any{}
		for _, p := range s.Properties {
			if p.Required {
				m[p.Name] = validValue(p.Schema)
			}
		}
		return m
	}
	switch {
	case s.Enum != nil:
		return s.Enum[0]
	case s.Format == domain.FormatDate:
		return "2026-02-28"
	case s.Format == domain.FormatDateTime:
		return "2026-11-26T21:00:00Z"
	case s.Org:
		return "exit-ngo"
	}
	return "x1"
}

// namesField reports whether err names field or something inside it.
func namesField(err error, field string) bool {
	var e *domain.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, f := range e.Fields {
		if f.Field == field || strings.HasPrefix(f.Field, field+".") || strings.HasPrefix(f.Field, field+"[") {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDataSchemaStatesTheRulesAcrossFields(t *testing.T) {
	for _, c := range []struct {
		typ   domain.EventType
		field string
		rule  string
	}{
		{domain.CaseOpened, "subject_ref", "never a name"},
		{domain.ConsentWithdrawn, "organisations", "or all must be true"},
		{domain.ConsentWithdrawn, "all", "not be given together with organisations"},
		{domain.CaseErased, "reference", "required when legal_basis is other"},
		{domain.ErasureRequested, "reference", "required when legal_basis is other"},
		{domain.InterventionRecorded, "session_number", "needs series_ref"},
		{domain.InterventionRecorded, "session_number", "must not exceed series_length"},
		{domain.OutcomeRecorded, "reintegration", "left out when lost_to_follow_up is true"},
		{domain.OutcomeRecorded, "recidivism", "left out when lost_to_follow_up is true"},
	} {
		p, ok := domain.DataSchema(c.typ).Property(c.field)
		if !ok || !slices.ContainsFunc(p.Schema.Rules, func(r string) bool { return strings.Contains(r, c.rule) }) {
			t.Errorf("%s.%s: rules %q, want one saying %q", c.typ, c.field, p.Schema.Rules, c.rule)
		}
	}
	practice, _ := domain.DataSchema(domain.InterventionRecorded).Property("practice_code")
	for i, p := range domain.Practices {
		if practice.Schema.Enum[i] != string(p.Code) || practice.Schema.EnumNames[i] != p.Name {
			t.Errorf("practice code %d: %s %q, want %s %q", i, practice.Schema.Enum[i], practice.Schema.EnumNames[i], p.Code, p.Name)
		}
	}
}
