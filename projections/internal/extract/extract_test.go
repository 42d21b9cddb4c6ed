package extract

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

// checkExtract compares Data with domain.RehydrateData on one input:
// whenever Data answers, RehydrateData must succeed and agree on every
// field the projections read.
func checkExtract(t *testing.T, typ domain.EventType, b []byte) (answered bool) {
	t.Helper()
	var text Strings
	fast, ok := Data(typ, b, &text)
	if !ok {
		return false
	}
	slow, err := domain.RehydrateData(typ, b)
	if err != nil {
		t.Fatalf("%s %s: Data answered %#v, RehydrateData failed: %v", typ, b, fast, err)
	}
	if want := neededData(slow); !reflect.DeepEqual(fast, want) {
		t.Fatalf("%s %s:\nData   %#v\nRehydrateData %#v", typ, b, fast, want)
	}
	return true
}

// demoData returns the canonical data (as the hub stores it) of the demo
// data set's events of the types the projections read.
func demoData(t testing.TB, cases int) map[domain.EventType][][]byte {
	out := map[domain.EventType][][]byte{}
	for _, c := range demo.Generate(11, cases) {
		for _, s := range c.Steps {
			if !Reads(s.Type) {
				continue
			}
			raw := []byte(s.Data)
			if s.Type == domain.BreakGlassInvoked {
				raw, _ = json.Marshal(domain.BreakGlassData{Justification: s.Justification, ExpiresAt: "2026-01-01T00:00:00Z"})
			}
			_, canonical, err := domain.DecodeData(s.Type, raw, demo.Directory(), "data")
			if err != nil {
				t.Fatalf("demo %s: %v", s.Type, err)
			}
			out[s.Type] = append(out[s.Type], canonical)
		}
	}
	return out
}

func TestExtractMatchesRehydrateOnStoredData(t *testing.T) {
	data := demoData(t, 300)
	for typ := range keeps {
		switch typ {
		case domain.ConsentWithdrawn, domain.ErasureRequested, domain.ErasureCancelled, domain.CaseErased:
			if len(data[typ]) == 0 {
				continue // the demo may not withdraw consent nor erase; the cases below do
			}
		}
		if len(data[typ]) == 0 {
			t.Errorf("no demo data of type %s", typ)
		}
		for _, b := range data[typ] {
			if !checkExtract(t, typ, b) {
				t.Errorf("%s: Data did not read the canonical data %s", typ, b)
			}
		}
	}
}

// extractCases are inputs that are not canonical, each with whether
// Data must read it (false: it must leave it to RehydrateData).
var extractCases = []struct {
	typ  domain.EventType
	data string
	read bool
}{
	{domain.CaseOpened, `{"subject_ref":"X","target_group":"radicalisation","gender":"f","regime":"r","programme":"p"}`, true},
	{domain.CaseOpened, ` { "target_group" : "a" , "extra" : {"x":[1,2,{"y":null}],"z":"\u00e9\n"} , "gender":null } `, true},
	{domain.CaseOpened, `{"target_group":"a","target_group":"b"}`, false}, // repeated key
	{domain.CaseOpened, `{"Target_Group":"a"}`, false},                    // case-insensitive match
	{domain.CaseOpened, `{"target_\u0067roup":"a"}`, false},               // escaped key
	{domain.CaseOpened, `{"target_group":"caf\u00e9"}`, false},            // escaped kept value
	{domain.CaseOpened, `{"target_group":5}`, false},                      // wrong type
	{domain.CaseOpened, `{"facility":5}`, false},                          // wrong type, field not kept
	{domain.CaseOpened, `{"facility":"a\"b","target_group":"g"}`, true},   // escape in a field not kept
	{domain.CaseOpened, `{"target_group":"a"} x`, false},                  // trailing bytes
	{domain.CaseOpened, `{"target_group":"a",}`, false},                   // syntax
	{domain.CaseOpened, `null`, false},                                    // not an object
	{domain.CaseOpened, `{}`, true},                                       // empty
	{domain.CaseOpened, `{"x":01}`, false},                                // bad number
	{domain.CaseOpened, `{"x":1.5e+3,"y":-0,"z":true,"w":false}`, true},   // numbers and literals skipped
	{domain.CaseOpened, `{"target_group":"a` + "\x01" + `"}`, false},      // control character
	{domain.CaseOpened, `{"target_group":"` + "\xff" + `"}`, false},       // invalid UTF-8 kept
	{domain.ConsentGiven, `{"organisations":["a","b"],"expires_at":"2027-01-01"}`, true},
	{domain.ConsentGiven, `{"organisations":[],"expires_at":null}`, true},
	{domain.ConsentGiven, `{"organisations":null}`, true},
	{domain.ConsentGiven, `{"organisations":["a",null]}`, false},
	{domain.ConsentGiven, `{"organisations":"a"}`, false},
	{domain.ConsentWithdrawn, `{"all":true}`, true},
	{domain.ConsentWithdrawn, `{"all":false,"organisations":["x"]}`, true},
	{domain.ConsentWithdrawn, `{"all":null}`, true},
	{domain.ConsentWithdrawn, `{"all":"yes"}`, false},
	{domain.ReleaseScheduled, `{"release_date":"2026-05-01"}`, true},
	{domain.Released, `{"released_at":"2026-05-01"}`, true},
	{domain.BreakGlassInvoked, `{"justification":"risk to life","expires_at":"2026-01-01T00:00:00Z"}`, true},
	{domain.InterventionRecorded, `{"practice_code":"P1","date":"2026-01-01","duration_minutes":60}`, true},
	{domain.InterventionRecorded, `{"practice_code":"P1","duration_minutes":1.5}`, false}, // not an int
	{domain.InterventionRecorded, `{"practice_code":"P1","duration_minutes":99999999999999999999}`, false},
	{domain.InterventionRecorded, `{"practice_code":"P1","duration_minutes":null}`, true},
	{domain.OutcomeRecorded, `{"follow_up_at":"2026-01-01","reintegration":{"housing":true,"employment":false,"social_network":null},"recidivism":"none"}`, true},
	{domain.OutcomeRecorded, `{"reintegration":null,"recidivism":"none"}`, true},
	{domain.OutcomeRecorded, `{"reintegration":{}}`, true},
	{domain.OutcomeRecorded, `{"reintegration":{"housing":true,"other":[1]}}`, true},
	{domain.OutcomeRecorded, `{"reintegration":{"housing":true,"housing":false}}`, false},
	{domain.OutcomeRecorded, `{"follow_up_at":"2027-03-01","reintegration":{"education":false,"family":true},"deceased":true,"lost_to_follow_up":null,"citizenship_lost":false}`, true},
	{domain.OutcomeRecorded, `{"deceased":"yes"}`, false},
	{domain.OutcomeRecorded, `{"deceased":true,"deceased":false}`, false},
	{domain.ConsentWithdrawn, `{"all":true,"all":true}`, false},
	{domain.ParticipationChanged, `{"participation":"mandated","date":"2026-01-01","reason":"r"}`, true},
	{domain.Transferred, `{"date":"2026-01-01","facility":"F","regime":"mixed"}`, true},
	{domain.Transferred, `{"regime":["mixed"]}`, false},
	{domain.OutcomeRecorded, `{"reintegration":{"housing":1}}`, false},
	{domain.OutcomeRecorded, `{"reintegration":[]}`, false},
	{domain.CaseClosed, `{"reason":"x"}`, false}, // not read by the projections
	{domain.ErasureRequested, `{"legal_basis":"court-order","reference":"F-1","expires_at":"2026-01-08T00:00:00Z"}`, true},
	{domain.ErasureRequested, `{"legal_basis":"court-order","reference":"F\u002d1","expires_at":"2026-01-08T00:00:00Z"}`, false}, // an escape in a kept string
	{domain.ErasureCancelled, `{"request_id":"0b8e9f4c-2f8e-4e4e-9d51-4a3c9c3f1a2b"}`, true},
	{domain.CaseErased, `{"legal_basis":"retention-expired"}`, true},
	{domain.CaseErased, `{"legal_basis":"subject-request","reference":"R-7","request_id":"0b8e9f4c-2f8e-4e4e-9d51-4a3c9c3f1a2b"}`, true},
	{domain.CaseErased, `{"legal_basis":3}`, false},
}

func TestExtractMatchesRehydrateOnOtherForms(t *testing.T) {
	for _, c := range extractCases {
		if got := checkExtract(t, c.typ, []byte(c.data)); got != c.read {
			t.Errorf("%s %s: read %v, want %v", c.typ, c.data, got, c.read)
		}
	}
}

// FuzzExtract: whatever the bytes, Data never disagrees with
// domain.RehydrateData.
func FuzzExtract(f *testing.F) {
	types := make([]domain.EventType, 0, len(keeps))
	for _, typ := range domain.EventTypes {
		if Reads(typ) {
			types = append(types, typ)
		}
	}
	for _, c := range extractCases {
		for i, typ := range types {
			if typ == c.typ {
				f.Add(uint8(i), []byte(c.data))
			}
		}
	}
	for typ, all := range demoData(f, 20) {
		for i, t := range types {
			if t == typ {
				f.Add(uint8(i), all[0])
			}
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, b []byte) {
		checkExtract(t, types[int(i)%len(types)], b)
	})
}

// TestEveryReadTypeHasAFastPath checks that Data can read every type the
// projections read, and every field of it (a field of a form it does not read
// would send every event with that field to domain.RehydrateData).
func TestEveryReadTypeHasAFastPath(t *testing.T) {
	for typ, keep := range keeps {
		fields, ok := schemas[typ]
		if !ok {
			t.Errorf("%s: Data cannot keep %v of its data (a field missing, of a form Data does not keep, or kept twice)", typ, keep)
			continue
		}
		var names []string
		for _, f := range fields {
			names = append(names, f.name)
			if f.kind == kOther {
				t.Errorf("%s.%s: Data does not read fields of its form and gives up on every event holding it", typ, f.name)
			}
		}
		var want []string
		for _, p := range domain.DataSchema(typ).Properties {
			want = append(want, p.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: Data reads the fields %v, the data has %v", typ, names, want)
		}
	}
}

// probeData has a field of every form Data may meet in data it reads but
// does not keep (and one it keeps), for TestFieldsNotKeptAreChecked.
type probeData struct {
	Kept  string   `json:"kept"`
	Text  string   `json:"text"`
	Flag  *bool    `json:"flag"`
	Count *int     `json:"count"`
	List  []string `json:"list"`
	Flags *struct {
		A *bool `json:"a"`
	} `json:"flags"`
	Things []struct {
		X string `json:"x"`
	} `json:"things"`
}

var probeSchema = domain.Schema{Type: "object", Properties: []domain.Property{
	{Name: "kept", Schema: domain.Schema{Type: "string"}},
	{Name: "text", Schema: domain.Schema{Type: "string"}},
	{Name: "flag", Schema: domain.Schema{Type: "boolean"}},
	{Name: "count", Schema: domain.Schema{Type: "integer"}},
	{Name: "list", Schema: domain.Schema{Type: "array", Items: &domain.Schema{Type: "string"}}},
	{Name: "flags", Schema: domain.Schema{Type: "object", Properties: []domain.Property{{Name: "a", Schema: domain.Schema{Type: "boolean"}}}}},
	{Name: "things", Schema: domain.Schema{Type: "array", Items: &domain.Schema{Type: "object", Properties: []domain.Property{{Name: "x", Schema: domain.Schema{Type: "string"}}}}}},
}}

// TestFieldsNotKeptAreChecked: whatever form the fields Data does not keep
// take, it reads an object only when encoding/json decodes it into the data
// too, and keeps the same value.
func TestFieldsNotKeptAreChecked(t *testing.T) {
	fields, ok := fieldsOf(probeSchema, map[string]int8{"kept": 0})
	if !ok {
		t.Fatal("fieldsOf refused the probe schema")
	}
	for _, c := range []struct {
		data string
		read bool
	}{
		{`{"kept":"k","text":"a\"b","flag":true,"count":3,"list":["a","\u00e9"],"flags":{"a":false,"b":[1]}}`, true},
		{`{"kept":"k","flag":null,"count":null,"list":null,"flags":null,"things":null}`, true},
		{`{"list":[]}`, true},
		{`{"text":1}`, false},
		{`{"flag":"yes"}`, false},
		{`{"count":1.5}`, false},
		{`{"list":"a"}`, false},
		{`{"list":[1]}`, false},
		{`{"list":["a",null]}`, false},
		{`{"flags":{"a":1}}`, false},
		{`{"flags":{"a":true,"a":false}}`, false},
		{`{"flags":[]}`, false},
		{`{"things":[{"x":"a"}]}`, false}, // a form Data does not read: it gives up
		{`{"things":[]}`, false},
	} {
		s := scanner{b: []byte(c.data), strs: &Strings{}}
		var k kept
		read := s.object(fields, func(f *field) bool { return s.keep(f, &k) })
		var d probeData
		err := json.Unmarshal([]byte(c.data), &d)
		if read && (err != nil || k.str[0] != d.Kept || k.strs != nil || k.flags != [5]*bool{} || k.reint != nil) {
			t.Errorf("%s: Data read it (kept %+v), encoding/json: %v, %+v", c.data, k, err, d)
		}
		if read != c.read {
			t.Errorf("%s: read %v, want %v", c.data, read, c.read)
		}
	}
}

// BenchmarkData measures Data on the canonical data of the demo's events of
// the types the projections read.
func BenchmarkData(b *testing.B) {
	type ev struct {
		typ  domain.EventType
		data []byte
	}
	var all []ev
	for typ, list := range demoData(b, 200) {
		for _, d := range list {
			all = append(all, ev{typ, d})
		}
	}
	var text Strings
	b.ResetTimer()
	for i := range b.N {
		e := all[i%len(all)]
		if _, ok := Data(e.typ, e.data, &text); !ok {
			b.Fatalf("%s %s not read", e.typ, e.data)
		}
	}
}

// neededData is what Data gives for the data d that
// domain.RehydrateData decoded: d without the fields projections do not read.
func neededData(d domain.Data) domain.Data {
	switch d := d.(type) {
	case domain.CaseOpenedData:
		return domain.CaseOpenedData{TargetGroup: d.TargetGroup, Gender: d.Gender, Regime: d.Regime, Programme: d.Programme, SubjectRef: d.SubjectRef, Participation: d.Participation}
	case domain.ConsentGivenData:
		return domain.ConsentGivenData{Organisations: d.Organisations, ExpiresAt: d.ExpiresAt}
	case domain.ConsentWithdrawnData:
		return domain.ConsentWithdrawnData{Organisations: d.Organisations, All: d.All}
	case domain.ReleaseScheduledData, domain.ReleasedData:
		return d
	case domain.BreakGlassData:
		return domain.BreakGlassData{ExpiresAt: d.ExpiresAt}
	case domain.InterventionData:
		return domain.InterventionData{PracticeCode: d.PracticeCode}
	case domain.OutcomeData:
		return domain.OutcomeData{
			Reintegration: d.Reintegration, Recidivism: d.Recidivism, FollowUpAt: d.FollowUpAt,
			HeavyPsychologicalSupport: d.HeavyPsychologicalSupport, CitizenshipLost: d.CitizenshipLost,
			NoSupportAfterRelease: d.NoSupportAfterRelease, Deceased: d.Deceased, LostToFollowUp: d.LostToFollowUp,
		}
	case domain.ParticipationChangedData:
		return domain.ParticipationChangedData{Participation: d.Participation}
	case domain.TransferredData:
		return domain.TransferredData{Regime: d.Regime}
	}
	return d
}
