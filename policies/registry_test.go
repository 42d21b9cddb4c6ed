package policies_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

// bundleData decodes a data file of the default bundle into v.
func bundleData(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(defaultFile(t, name)), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestBundleMatchesTheRegistry checks the default bundle's data against the
// domain's registry of event types and its vocabulary: an event type is
// registered once, in Go (domain/events.go), and the bundle must have a write
// row and a field allow-list for each, and name nothing else. The defaults
// the bundle holds (labels, audiences, summaries) are a deployment's to
// change; they must still name registered types that a reader can read.
func TestBundleMatchesTheRegistry(t *testing.T) {
	registered := map[domain.EventType]bool{}
	readable := map[domain.EventType]bool{}
	for _, typ := range domain.EventTypes {
		registered[typ] = true
		readable[typ] = len(domain.SectionsOf(typ)) > 0
	}
	checkTypes := func(what string, types []domain.EventType, all bool) {
		t.Helper()
		for _, typ := range types {
			if !registered[typ] {
				t.Errorf("%s names %q, which is no registered event type", what, typ)
			}
		}
		for _, typ := range domain.EventTypes {
			if all && !slices.Contains(types, typ) {
				t.Errorf("%s has no entry for the event type %s", what, typ)
			}
		}
	}
	checkTLP := func(what string, label domain.TLP) {
		t.Helper()
		if !slices.Contains(domain.TLPs, label) {
			t.Errorf("%s is %q, which is no TLP label", what, label)
		}
	}
	checkOrgType := func(what string, ot domain.OrgType) {
		t.Helper()
		if !slices.Contains(domain.OrgTypes, ot) {
			t.Errorf("%s names %q, which is no organisation type", what, ot)
		}
	}

	t.Run("write", func(t *testing.T) {
		var write struct {
			Events map[domain.EventType]struct {
				Case       string       `json:"case"`
				AfterClose bool         `json:"after_close"`
				Labels     []domain.TLP `json:"labels"`
				Remit      []struct {
					OrgType domain.OrgType `json:"org_type"`
				} `json:"remit"`
			} `json:"events"`
			Classification struct {
				Default domain.TLP                      `json:"default"`
				ByType  map[domain.EventType]domain.TLP `json:"by_type"`
			} `json:"classification"`
			DefaultAudience map[domain.EventType][]domain.OrgType `json:"default_audience"`
		}
		bundleData(t, "protocol/write/data.json", &write)
		checkTypes("write.events", slices.Collect(maps.Keys(write.Events)), true)
		for typ, row := range write.Events {
			// The aggregate's own guard (Case.CheckAppend) and the policy
			// agree on what may open a case and what may follow closure.
			opens := (&domain.Case{}).CheckAppend(typ) == nil
			if opens != (row.Case == "new") {
				t.Errorf("write.events.%s: case %q, but the domain opens a case with it: %v", typ, row.Case, opens)
			}
			follows := (&domain.Case{ID: "c", Version: 2, Closed: true}).CheckAppend(typ) == nil
			if follows != row.AfterClose {
				t.Errorf("write.events.%s: after_close %v, but the domain lets it follow closure: %v", typ, row.AfterClose, follows)
			}
			for _, l := range row.Labels {
				checkTLP("write.events."+string(typ)+".labels", l)
			}
			if len(row.Remit) == 0 {
				t.Errorf("write.events.%s: nobody may append it", typ)
			}
			for _, r := range row.Remit {
				checkOrgType("write.events."+string(typ)+".remit", r.OrgType)
			}
		}
		checkTLP("classification.default", write.Classification.Default)
		checkTypes("classification.by_type", slices.Collect(maps.Keys(write.Classification.ByType)), false)
		for typ, l := range write.Classification.ByType {
			checkTLP("classification.by_type."+string(typ), l)
			if registered[typ] && !readable[typ] {
				t.Errorf("classification.by_type labels %s, which feeds no section: no reader would ever meet the label", typ)
			}
		}
		checkTypes("default_audience", slices.Collect(maps.Keys(write.DefaultAudience)), false)
		for typ, types := range write.DefaultAudience {
			if registered[typ] && !readable[typ] {
				t.Errorf("default_audience names %s, which feeds no section", typ)
			}
			for _, ot := range types {
				checkOrgType("default_audience."+string(typ), ot)
			}
		}
	})

	var fields map[domain.EventType][]string
	bundleData(t, "protocol/fields/data.json", &fields)
	t.Run("fields", func(t *testing.T) {
		checkTypes("fields", slices.Collect(maps.Keys(fields)), true)
		for typ, list := range fields {
			s := domain.DataSchema(typ)
			for i, f := range list {
				if _, ok := s.Property(f); !ok && registered[typ] {
					t.Errorf("fields.%s names %q, which the data of %s does not have", typ, f, typ)
				}
				if slices.Index(list, f) != i {
					t.Errorf("fields.%s names %q twice", typ, f)
				}
			}
		}
	})

	t.Run("read", func(t *testing.T) {
		var read struct {
			Sections      []domain.Section                               `json:"sections"`
			Stages        []domain.Stage                                 `json:"stages"`
			Table         map[domain.Section]map[domain.OrgType]string   `json:"table"`
			CellRoles     map[domain.Section]map[domain.OrgType][]string `json:"cell_roles"`
			SummaryFields map[domain.EventType][]string                  `json:"summary_fields"`
			Purposes      map[domain.OrgType][]domain.Purpose            `json:"purposes"`
		}
		bundleData(t, "protocol/read/data.json", &read)
		if !slices.Equal(read.Sections, domain.Sections) {
			t.Errorf("read.sections = %v, the domain's are %v", read.Sections, domain.Sections)
		}
		if !slices.Equal(read.Stages, domain.Stages) {
			t.Errorf("read.stages = %v, the domain's are %v", read.Stages, domain.Stages)
		}
		for _, s := range domain.Sections {
			row, ok := read.Table[s]
			if !ok {
				t.Errorf("read.table has no row for section %s", s)
			}
			for ot := range row {
				checkOrgType("read.table."+string(s), ot)
			}
		}
		if len(read.Table) != len(domain.Sections) {
			t.Errorf("read.table has rows %v, the sections are %v", slices.Sorted(maps.Keys(read.Table)), domain.Sections)
		}
		for s := range read.CellRoles {
			if _, ok := domain.ParseSection(string(s)); !ok {
				t.Errorf("read.cell_roles names %q, which is no section", s)
			}
		}
		checkTypes("read.summary_fields", slices.Collect(maps.Keys(read.SummaryFields)), false)
		for typ, list := range read.SummaryFields {
			if registered[typ] && !readable[typ] {
				t.Errorf("read.summary_fields names %s, which feeds no section", typ)
			}
			for _, f := range list {
				if !slices.Contains(fields[typ], f) {
					t.Errorf("read.summary_fields.%s names %q, which its allow-list (fields) does not", typ, f)
				}
			}
		}
		for ot, ps := range read.Purposes {
			checkOrgType("read.purposes", ot)
			for _, p := range ps {
				if _, ok := domain.ParsePurpose(string(p)); !ok {
					t.Errorf("read.purposes.%s names %q, which is no purpose", ot, p)
				}
			}
		}
	})
}
