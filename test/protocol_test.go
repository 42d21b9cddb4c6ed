package liaison_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// scenarioFile is one file of protocol scenarios (testdata/SCENARIOS.md).
type scenarioFile struct {
	Scenarios []scenario `json:"scenarios"`
}

type scenario struct {
	Name       string          `json:"name"`
	Events     []scenarioEvent `json:"events"`
	Checks     []check         `json:"checks"`
	Then       []scenarioEvent `json:"then"`
	ThenChecks []check         `json:"then_checks"`
}

type scenarioEvent struct {
	Type            string          `json:"type"`
	As              identity        `json:"as"`
	Data            json.RawMessage `json:"data"`
	Classification  string          `json:"classification,omitempty"`
	ShareWith       []string        `json:"share_with,omitempty"`
	ExpectedVersion *int            `json:"expected_version,omitempty"`
}

type check struct {
	As         identity        `json:"as"`
	Purpose    string          `json:"purpose"`
	Get        string          `json:"get"`
	Append     *scenarioEvent  `json:"append"`
	OpenCase   json.RawMessage `json:"open_case"`
	BreakGlass string          `json:"break_glass"`
	Erase      string          `json:"erase"`
	// ConfirmErasure and CancelErasure act on the scenario's last erasure
	// request (the project's own scenarios: four-eyes erasure).
	ConfirmErasure bool            `json:"confirm_erasure"`
	CancelErasure  bool            `json:"cancel_erasure"`
	Expect         json.RawMessage `json:"expect"`
	Items          *int            `json:"items"`
	MinItems       *int            `json:"min_items"`
	Redacted       []string        `json:"redacted"`
	Types          []string        `json:"types"`
	Absent         []string        `json:"absent"`
	Contains       []string        `json:"contains"`
	BGFlag         *bool           `json:"break_glass_flag"`
}

// UnmarshalJSON reads a check, where "break_glass" is a justification (string)
// on a break-glass call and the expected flag (bool) on a read.
func (c *check) UnmarshalJSON(b []byte) error {
	type plain check
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if bg, ok := raw["break_glass"]; ok && len(bg) > 0 && bg[0] != '"' {
		raw["break_glass_flag"] = bg
		delete(raw, "break_glass")
	}
	b2, _ := json.Marshal(raw)
	return json.Unmarshal(b2, (*plain)(c))
}

func loadScenarios(t *testing.T, path string) []scenario {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var f scenarioFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f.Scenarios
}

// TestProtocolScenarios runs every protocol scenario (the requirements' ones,
// scenarios.json, and the project's own, scenarios_liaison.json) against a real
// hub process: built binary, tokens from "liaison token", embedded store in a
// temporary directory (docs/targets.md, R2).
func TestProtocolScenarios(t *testing.T) {
	h := startHub(t, "")
	for _, file := range []string{"testdata/scenarios.json", "testdata/scenarios_liaison.json"} {
		for _, sc := range loadScenarios(t, file) {
			t.Run(sc.Name, func(t *testing.T) { runScenario(t, h, sc) })
		}
	}
}

func runScenario(t *testing.T, h *hub, sc scenario) {
	if len(sc.Events) == 0 || sc.Events[0].Type != "CaseOpened" {
		t.Fatal("a scenario starts with CaseOpened")
	}
	first := sc.Events[0]
	r := h.do("POST", "/v1/cases", &first.As, "", first.Data)
	if r.Status != 201 {
		t.Fatalf("opening the case: %d %s", r.Status, r.Body)
	}
	caseID := r.json(t)["case_id"].(string)
	st := &scenarioState{caseID: caseID}
	appendAll := func(events []scenarioEvent) {
		for i, e := range events {
			r := h.do("POST", "/v1/cases/"+caseID+"/events", &e.As, "", appendBody(e))
			if r.Status != 201 {
				t.Fatalf("set-up event %d (%s as %s): %d %s", i, e.Type, e.As.Agency, r.Status, r.Body)
			}
		}
	}
	appendAll(sc.Events[1:])
	for i, c := range sc.Checks {
		runCheckIn(t, h, st, fmt.Sprintf("check %d", i), c)
	}
	appendAll(sc.Then)
	for i, c := range sc.ThenChecks {
		runCheckIn(t, h, st, fmt.Sprintf("then-check %d", i), c)
	}
}

// scenarioState is what the checks of one scenario share: its case and its
// last erasure request.
type scenarioState struct {
	caseID, request string
}

func appendBody(e scenarioEvent) map[string]any {
	body := map[string]any{"type": e.Type, "data": e.Data}
	if e.Classification != "" {
		body["classification"] = e.Classification
	}
	if e.ShareWith != nil {
		body["share_with"] = e.ShareWith
	}
	if e.ExpectedVersion != nil {
		body["expected_version"] = *e.ExpectedVersion
	}
	return body
}

// runCheck runs one check on a case.
func runCheck(t *testing.T, h *hub, caseID, name string, c check) {
	t.Helper()
	runCheckIn(t, h, &scenarioState{caseID: caseID}, name, c)
}

// runCheckIn runs one check of a scenario.
func runCheckIn(t *testing.T, h *hub, st *scenarioState, name string, c check) {
	t.Helper()
	caseID := st.caseID
	var r response
	var what string
	switch {
	case c.Get != "":
		path := c.Get
		switch {
		case strings.HasPrefix(path, "/"):
		case path == "case":
			path = "/v1/cases/" + caseID
		default:
			path = "/v1/cases/" + caseID + "/" + path
		}
		what = "GET " + c.Get
		r = h.do("GET", path, &c.As, c.Purpose, nil)
	case c.Append != nil:
		what = "append " + c.Append.Type
		r = h.do("POST", "/v1/cases/"+caseID+"/events", &c.As, c.Purpose, appendBody(*c.Append))
	case c.OpenCase != nil:
		what = "open case"
		r = h.do("POST", "/v1/cases", &c.As, c.Purpose, c.OpenCase)
	case c.BreakGlass != "":
		what = "break-glass"
		r = h.do("POST", "/v1/cases/"+caseID+"/break-glass", &c.As, c.Purpose, map[string]string{"justification": c.BreakGlass})
	case c.Erase != "":
		what = "erase"
		r = h.do("POST", "/v1/cases/"+caseID+"/erase", &c.As, c.Purpose, map[string]string{"legal_basis": c.Erase})
		if r.Status == 202 {
			st.request, _ = r.json(t)["request_id"].(string)
		}
	case c.ConfirmErasure:
		what = "confirm erasure"
		r = h.do("POST", "/v1/erasures/"+st.request+"/confirm", &c.As, c.Purpose, map[string]string{})
	case c.CancelErasure:
		what = "cancel erasure"
		r = h.do("POST", "/v1/erasures/"+st.request+"/cancel", &c.As, c.Purpose, map[string]string{})
	default:
		t.Fatalf("%s: no action", name)
	}
	label := fmt.Sprintf("%s: %s as %s/%s (%s)", name, what, c.As.Agency, strings.Join(c.As.Roles, ","), c.As.Sub)
	var want []int
	if err := json.Unmarshal(c.Expect, &want); err != nil {
		var one int
		if err := json.Unmarshal(c.Expect, &one); err != nil {
			t.Fatalf("%s: bad expect %s", label, c.Expect)
		}
		want = []int{one}
	}
	if !slices.Contains(want, r.Status) {
		t.Errorf("%s: status %d, want %v\n%s", label, r.Status, want, r.Body)
		return
	}
	body := string(r.Body)
	for _, s := range c.Absent {
		if strings.Contains(body, s) {
			t.Errorf("%s: answer holds %q, which must be absent", label, s)
		}
	}
	for _, s := range c.Contains {
		if !strings.Contains(body, s) {
			t.Errorf("%s: answer lacks %q", label, s)
		}
	}
	if c.Items == nil && c.MinItems == nil && c.Redacted == nil && c.Types == nil && c.BGFlag == nil {
		return
	}
	var ans struct {
		Items []struct {
			Type     string   `json:"type"`
			Redacted []string `json:"redacted"`
		} `json:"items"`
		BreakGlass *bool `json:"break_glass"`
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatalf("%s: %v\n%s", label, err, body)
	}
	if c.Items != nil && len(ans.Items) != *c.Items {
		t.Errorf("%s: %d items, want %d\n%s", label, len(ans.Items), *c.Items, body)
	}
	if c.MinItems != nil && len(ans.Items) < *c.MinItems {
		t.Errorf("%s: %d items, want at least %d", label, len(ans.Items), *c.MinItems)
	}
	if c.Redacted != nil {
		want := slices.Clone(c.Redacted)
		sort.Strings(want)
		for i, it := range ans.Items {
			got := slices.Clone(it.Redacted)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: item %d redacted %v, want %v", label, i, got, want)
			}
		}
	}
	if c.Types != nil {
		var got []string
		for _, it := range ans.Items {
			got = append(got, it.Type)
		}
		if !slices.Equal(got, c.Types) {
			t.Errorf("%s: types %v, want %v", label, got, c.Types)
		}
	}
	if c.BGFlag != nil && (ans.BreakGlass == nil || *ans.BreakGlass != *c.BGFlag) {
		t.Errorf("%s: break_glass %v, want %v", label, ans.BreakGlass, *c.BGFlag)
	}
}
