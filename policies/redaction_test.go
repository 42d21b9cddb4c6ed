package policies_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// allowLists reads the field allow-lists of the default bundle's data.
func allowLists(t testing.TB) map[domain.EventType][]string {
	t.Helper()
	var lists map[domain.EventType][]string
	if err := json.Unmarshal([]byte(defaultFile(t, "protocol/fields/data.json")), &lists); err != nil {
		t.Fatal(err)
	}
	return lists
}

// dataFields lists the JSON names of the data fields of an event type, as the
// domain defines them.
func dataFields(t testing.TB, typ domain.EventType) []string {
	t.Helper()
	d, err := domain.RehydrateData(typ, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	rt := reflect.TypeOf(d)
	for i := range rt.NumField() {
		names = append(names, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	return names
}

func TestRedactionByAllowList(t *testing.T) {
	ctx := context.Background()
	lists := allowLists(t)
	c := caseOf(opened, consent("exit-ngo"))
	readers := []policies.ReadQuery{
		{Identity: prisonCaseworker, Purpose: "case-management", Case: c, Now: now},
		{Identity: analyst, Purpose: "risk-management", Case: c, Now: now},
		{Identity: mentor, Purpose: "reintegration", Case: c, Now: now},
	}

	t.Run("the allow-lists name only fields the domain knows", func(t *testing.T) {
		for _, typ := range domain.EventTypes {
			known := dataFields(t, typ)
			for _, f := range lists[typ] {
				if !slices.Contains(known, f) {
					t.Errorf("%s: the allow-list names %q, which the domain's data lacks", typ, f)
				}
			}
			for _, f := range known {
				if !slices.Contains(lists[typ], f) {
					t.Logf("%s.%s is withheld from every reader (not in the allow-list)", typ, f)
				}
			}
		}
	})

	t.Run("no reader is granted a field outside the allow-list", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		for _, q := range readers {
			for _, s := range domain.Sections {
				for _, typ := range domain.EventTypes {
					for _, origin := range []string{"prison-service", "exit-ngo", q.Identity.Agency} {
						d, err := a.ReadItem(ctx, q, s, policies.Item{Type: typ, Originator: origin, Classification: domain.TLPGreen})
						if err != nil {
							t.Fatal(err)
						}
						for _, f := range d.Fields {
							if !slices.Contains(lists[typ], f) {
								t.Errorf("%s reads %s.%s in %s, which no allow-list grants", q.Identity.Subject, typ, f, s)
							}
						}
					}
				}
			}
		}
	})

	t.Run("a field dropped from the allow-list data is withheld even from the originator", func(t *testing.T) {
		fields := strings.Replace(defaultFile(t, "protocol/fields/data.json"), `"protective_factors", "notes", "next_review_due"`, `"protective_factors", "next_review_due"`, 1)
		a, err := policies.New(ctx, load(t, bundleDir(t, withoutTests(map[string]string{"protocol/fields/data.json": fields}))), policies.Options{})
		if err != nil {
			t.Fatal(err)
		}
		it := policies.Item{Type: domain.RiskAssessmentRecorded, Originator: "prison-service", Classification: domain.TLPGreen}
		for _, q := range readers[:2] {
			d, err := a.ReadItem(ctx, q, domain.SectionRisk, it)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Visible || slices.Contains(d.Fields, "notes") || !slices.Contains(d.Fields, "tool") {
				t.Errorf("%s reads fields %v, want tool and not notes", q.Identity.Subject, d.Fields)
			}
		}
	})

	t.Run("an event type the allow-list data does not know shows no field", func(t *testing.T) {
		a := newAuthorizer(t, policies.Options{})
		d, err := a.ReadItem(ctx, readers[0], domain.SectionRisk, policies.Item{Type: "RiskRumourRecorded", Originator: "prison-service", Classification: domain.TLPGreen})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Fields) != 0 {
			t.Errorf("fields %v of an unknown event type", d.Fields)
		}
	})
}
