package domain_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

var dir = domain.MapDirectory{
	"prison-service": domain.OrgPrison, "probation-service": domain.OrgProbation,
	"intelligence-service": domain.OrgIntelligence, "municipality": domain.OrgMunicipality,
	"exit-ngo": domain.OrgCivilSociety, "family-support": domain.OrgFamilySupport,
	"oversight-board": domain.OrgOversight, "research-institute": domain.OrgResearch,
}

// fieldsOf returns the field paths of a KindInvalid error, failing otherwise.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) || e.Kind != domain.KindInvalid {
		t.Fatalf("got %v, want a KindInvalid *domain.Error", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func decode(t *testing.T, typ domain.EventType, data string) (domain.Data, []byte, error) {
	t.Helper()
	return domain.DecodeData(typ, json.RawMessage(data), dir, "data")
}

func TestDecodeDataAcceptsTheContractsExamples(t *testing.T) {
	valid := fuzzExamples // one example per event type (demo.Example)
	for _, typ := range domain.EventTypes {
		t.Run(string(typ)+" round-trips", func(t *testing.T) {
			raw, ok := valid[typ]
			if !ok {
				t.Fatalf("no example for %s", typ)
			}
			d, canonical, err := decode(t, typ, raw)
			if err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			if got := d.EventType(); got != typ {
				t.Errorf("EventType() = %s, want %s", got, typ)
			}
			back, err := domain.RehydrateData(typ, canonical)
			if err != nil {
				t.Fatalf("RehydrateData: %v", err)
			}
			again, err := json.Marshal(back)
			if err != nil || string(again) != string(canonical) {
				t.Errorf("rehydrated data encodes as %s, want %s", again, canonical)
			}
		})
	}
}

func TestDecodeDataRefusesBadInputNamingTheField(t *testing.T) {
	cases := []struct {
		name string
		typ  domain.EventType
		data string
		want []string
	}{
		{"unknown enum value", domain.RiskAssessmentRecorded, `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"extreme"}`, []string{"data.overall_judgement"}},
		{"unknown field", domain.NeedsAssessmentRecorded, `{"needs":[],"surprise":1}`, []string{"data.surprise"}},
		{"missing required fields", domain.CaseOpened, `{}`, []string{"data.subject_ref", "data.target_group"}},
		{"null required field", domain.CounsellingNoteAdded, `{"date":null,"note":"n"}`, []string{"data.date"}},
		{"bad date", domain.CounsellingNoteAdded, `{"date":"2026-02-30","note":"n"}`, []string{"data.date"}},
		{"date with time", domain.CounsellingNoteAdded, `{"date":"2026-02-01T00:00:00Z","note":"n"}`, []string{"data.date"}},
		{"wrong type", domain.InterventionRecorded, `{"practice_code":8,"date":"2026-03-01"}`, []string{"data.practice_code"}},
		{"unknown practice code", domain.InterventionRecorded, `{"practice_code":"23","date":"2026-03-01"}`, []string{"data.practice_code"}},
		{"fractional minutes", domain.InterventionRecorded, `{"practice_code":"08","date":"2026-03-01","duration_minutes":1.5}`, []string{"data.duration_minutes"}},
		{"nested bad enum", domain.NeedsAssessmentRecorded, `{"needs":[{"area":"housing","level":"high"},{"area":"moon","level":"high"}]}`, []string{"data.needs[1].area"}},
		{"nested unknown field", domain.NeedsAssessmentRecorded, `{"needs":[{"area":"housing","level":"high","x":1}]}`, []string{"data.needs[0].x"}},
		{"unknown organisation", domain.ConsentGiven, `{"organisations":["nobody"]}`, []string{"data.organisations[0]"}},
		{"empty consent", domain.ConsentGiven, `{"organisations":[]}`, []string{"data.organisations"}},
		{"organisation twice", domain.ConsentGiven, `{"organisations":["exit-ngo","exit-ngo"]}`, []string{"data.organisations[1]"}},
		{"withdrawal of nothing", domain.ConsentWithdrawn, `{}`, []string{"data.organisations"}},
		{"duplicate key", domain.CaseClosed, `{"reason":"a","reason":"b"}`, []string{"data.reason"}},
		{"not an object", domain.CaseClosed, `["reason"]`, []string{"data"}},
		{"broken JSON", domain.CaseClosed, `{"reason":`, []string{"data.reason"}},
		{"trailing garbage", domain.CaseClosed, `{"reason":"a"} x`, []string{"data"}},
		{"a name as subject ref", domain.CaseOpened, `{"subject_ref":"JohnSmith","target_group":"islamist"}`, []string{"data.subject_ref"}},
		{"spaces in subject ref", domain.CaseOpened, `{"subject_ref":"John Smith 1","target_group":"islamist"}`, []string{"data.subject_ref"}},
		{"bidi override in text", domain.CaseClosed, `{"reason":"done \u202e"}`, []string{"data.reason"}},
		{"control character in text", domain.CaseClosed, `{"reason":"a\u0000b"}`, []string{"data.reason"}},
		{"line break in a one-line field", domain.CaseClosed, `{"reason":"a\nb"}`, []string{"data.reason"}},
		{"oversize note", domain.CounsellingNoteAdded, `{"date":"2026-03-01","note":"` + strings.Repeat("x", domain.MaxTextLen+1) + `"}`, []string{"data.note"}},
		{"bad domain rating", domain.RiskAssessmentRecorded, `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"low","domains":{"beliefs":"severe"}}`, []string{"data.domains.beliefs"}},
		{"unknown type", domain.EventType("NoSuchEvent"), `{}`, []string{"type"}},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			_, _, err := decode(t, c.typ, c.data)
			got := fieldsOf(t, err)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("fields %v, want %s among them", got, w)
				}
			}
		})
	}
}

func TestCanonicalDataDropsEmptyOptionalFields(t *testing.T) {
	_, canonical, err := decode(t, domain.RiskAssessmentRecorded, `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"low","notes":""}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(canonical), `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"low"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestShareWithAndClassification(t *testing.T) {
	if err := domain.CheckShareWith([]string{"exit-ngo", "municipality"}, dir, "share_with"); err != nil {
		t.Errorf("valid share list refused: %v", err)
	}
	if got := fieldsOf(t, domain.CheckShareWith([]string{"exit-ngo", "../etc"}, dir, "share_with")); !slices.Equal(got, []string{"share_with[1]"}) {
		t.Errorf("got %v", got)
	}
	if _, err := domain.ParseClassification("TLP:PURPLE", "classification"); domain.KindOf(err) != domain.KindInvalid {
		t.Errorf("unknown TLP accepted: %v", err)
	}
	if got, err := domain.ParseClassification("TLP:AMBER+STRICT", "classification"); err != nil || got != domain.TLPAmberStrict {
		t.Errorf("got %q, %v", got, err)
	}
}
