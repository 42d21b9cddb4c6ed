package liaison_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestCohortStatistics: GET /v1/stats/cohorts on a hub holding the demo data
// set (docs/api.md, "Statistics"): research and oversight read it, nobody
// else; its tables have the shape the document describes; no shown count is
// under the minimum cell; no case id appears; bad parameters are named.
func TestCohortStatistics(t *testing.T) {
	h := startHub(t, "", "--demo", "--demo-cases", "60")
	h.waitDemo()
	researcher := identity{Agency: "research-institute", Roles: []string{"researcher"}, Sub: "rs-lea"}
	auditor := identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ov-jan"}

	r := h.do(http.MethodGet, "/v1/stats/cohorts", &researcher, "research", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("research: %d %s", r.Status, r.Body)
	}
	var got struct {
		MinCell    int                 `json:"min_cell"`
		AsOf       string              `json:"as_of"`
		Horizons   []int               `json:"horizons"`
		Dimensions []string            `json:"dimensions"`
		Outcomes   map[string][]string `json:"outcomes"`
		Tables     []struct {
			Dimension string   `json:"dimension"`
			Horizon   int      `json:"horizon"`
			Outcome   string   `json:"outcome"`
			Columns   []string `json:"columns"`
			Rows      []struct {
				Key        string `json:"key"`
				Cases      *int   `json:"cases"`
				Suppressed bool   `json:"suppressed"`
				Cells      []struct {
					Key        string `json:"key"`
					Cases      *int   `json:"cases"`
					Suppressed bool   `json:"suppressed"`
				} `json:"cells"`
			} `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.MinCell != 5 || !slices.Equal(got.Horizons, []int{6, 12, 24}) || len(got.Dimensions) != 5 || len(got.Outcomes) != 10 || len(got.AsOf) != 10 {
		t.Errorf("the header: min_cell %d, as_of %q, horizons %v, dimensions %v, outcomes %v", got.MinCell, got.AsOf, got.Horizons, got.Dimensions, got.Outcomes)
	}
	if len(got.Tables) != 5*3*10 {
		t.Errorf("%d tables, want 150", len(got.Tables))
	}
	shown := 0
	for _, tb := range got.Tables {
		if !slices.Equal(tb.Columns, got.Outcomes[tb.Outcome]) {
			t.Errorf("%s/%d/%s: columns %v, outcomes say %v", tb.Dimension, tb.Horizon, tb.Outcome, tb.Columns, got.Outcomes[tb.Outcome])
		}
		for _, row := range tb.Rows {
			if row.Suppressed != (row.Cases == nil) || row.Cases != nil && *row.Cases < 5 || len(row.Cells) != len(tb.Columns) {
				t.Errorf("%s/%d/%s row %s: %+v", tb.Dimension, tb.Horizon, tb.Outcome, row.Key, row)
			}
			for _, c := range row.Cells {
				if c.Suppressed != (c.Cases == nil) || c.Cases != nil && *c.Cases < 5 {
					t.Errorf("%s/%d/%s %s/%s shows %v (suppressed %v)", tb.Dimension, tb.Horizon, tb.Outcome, row.Key, c.Key, c.Cases, c.Suppressed)
				}
				if c.Cases != nil {
					shown++
				}
			}
		}
	}
	t.Logf("%d cells shown over %d tables", shown, len(got.Tables))
	// No case id, ever.
	list := h.do(http.MethodGet, "/v1/cases?limit=500", &caseworker, "case-management", nil)
	var cases struct {
		Items []struct {
			CaseID string `json:"case_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(list.Body, &cases); err != nil || len(cases.Items) == 0 {
		t.Fatalf("the cases: %v %s", err, list.Body)
	}
	for _, c := range cases.Items {
		if strings.Contains(string(r.Body), c.CaseID) {
			t.Fatalf("the cohort statistics name case %s", c.CaseID)
		}
	}

	// A selection; the oversight body reads it too.
	r = h.do(http.MethodGet, "/v1/stats/cohorts?dimension=regime&horizon=12&outcome=recidivism", &auditor, "oversight", nil)
	if r.Status != http.StatusOK || strings.Count(string(r.Body), `"dimension":"regime"`) != 1 || !strings.Contains(string(r.Body), `"horizon":12`) {
		t.Errorf("one table for the oversight body: %d %.300s", r.Status, r.Body)
	}
	// Bad parameters are named; case readers are refused.
	r = h.do(http.MethodGet, "/v1/stats/cohorts?dimension=religion&horizon=7", &researcher, "research", nil)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"dimension"`) || !strings.Contains(string(r.Body), `"field":"horizon"`) {
		t.Errorf("bad parameters: %d %s", r.Status, r.Body)
	}
	if r := h.do(http.MethodGet, "/v1/stats/cohorts", &caseworker, "case-management", nil); r.Status != http.StatusForbidden {
		t.Errorf("a prison caseworker: %d %s", r.Status, r.Body)
	}
}
