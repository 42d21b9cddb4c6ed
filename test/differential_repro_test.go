package liaison_test

// The differential test's reproducers: a disagreement shrunk to a minimal
// history and printed as a protocol scenario, the ones kept under
// testdata/differential/ replayed against a hub (TestDifferentialRegressions)
// and against the model alone (TestRefModelReproducers).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reproScenario and reproCheck print a reproducer: a protocol scenario
// (testdata/SCENARIOS.md) in the key order of testdata/scenarios.json, with
// the extensions that TestDifferentialRegressions reads (reproExtension).
type reproScenario struct {
	Name   string          `json:"name"`
	Events []scenarioEvent `json:"events"`
	Checks []reproCheck    `json:"checks"`
}

type reproCheck struct {
	As         identity       `json:"as"`
	Purpose    string         `json:"purpose,omitempty"`
	Get        string         `json:"get,omitempty"`
	Append     *scenarioEvent `json:"append,omitempty"`
	OpenCase   map[string]any `json:"open_case,omitempty"`
	BreakGlass any            `json:"break_glass,omitempty"` // a justification, or the expected flag
	Expect     int            `json:"expect"`
	Items      *int           `json:"items,omitempty"`
	Types      []string       `json:"types,omitempty"`
	Redacted   any            `json:"redacted,omitempty"`
	reproExtension
}

// reproExtension is what a reproducer's check may say beyond the scenario
// format:
//   - an erasure step, which the scenario format cannot say (a confirmation
//     names the request id of an earlier answer): "erasure" is "request"
//     (POST /v1/cases/{id}/erase with "legal_basis" and "reference"),
//     "confirm" or "cancel" (POST /v1/erasures/{request_id}/confirm or
//     /cancel, of the scenario's latest request, or of an id the hub never
//     made when "request" is "unknown"), with "expect";
//   - on a 200 read, the reader's "stage", the case's "version" and the
//     items' versions ("item_versions"), all of the reader's view (issue 13 N);
//   - on an append, the answer's "version": the writer's view version after
//     it (issue 13 N).
type reproExtension struct {
	Erasure      string  `json:"erasure,omitempty"`
	LegalBasis   string  `json:"legal_basis,omitempty"`
	Reference    string  `json:"reference,omitempty"`
	Request      string  `json:"request,omitempty"`
	Stage        *string `json:"stage,omitempty"`
	Version      *int    `json:"version,omitempty"`
	ItemVersions []int   `json:"item_versions,omitempty"`
}

// reproducer prints a disagreement as a reproducer: the writes as events
// (those with their own endpoint, and everything after them, as checks), then
// the probe as a check expecting the model's answer.
func reproducer(seed uint64, dis disagreement) string {
	sc := reproScenario{Name: fmt.Sprintf("differential (seed %d): %s", seed, dis.probe)}
	for _, a := range dis.before {
		if !ownEndpoint(a.Type) && len(sc.Checks) == 0 {
			sc.Events = append(sc.Events, a.scenarioEvent())
			continue
		}
		sc.Checks = append(sc.Checks, writeCheck(a, statusOf(a)))
	}
	if p := dis.probe; p.Append != nil {
		c := writeCheck(*p.Append, dis.expected.Status)
		if dis.expected.Version != 0 {
			version := dis.expected.Version
			c.Version = &version
		}
		sc.Checks = append(sc.Checks, c)
	} else {
		c := reproCheck{As: p.As, Purpose: p.Purpose, Get: p.Get, Expect: dis.expected.Status}
		if dis.expected.Status == 200 && p.Get != "case" {
			n := len(dis.expected.Items)
			c.Items = &n
			c.ItemVersions = []int{}
			for _, it := range dis.expected.Items {
				c.Types = append(c.Types, it.Type)
				c.ItemVersions = append(c.ItemVersions, it.Version)
			}
			if uniform := uniformRedacted(dis.expected.Items); uniform != nil {
				c.Redacted = uniform
			}
		}
		if dis.expected.Status == 200 && strings.HasPrefix(p.Get, "sections/") {
			c.BreakGlass = dis.expected.BreakGlass
		}
		if dis.expected.Status == 200 && !strings.HasPrefix(p.Get, "events") {
			stage, version := dis.expected.Stage, dis.expected.Version
			c.Stage, c.Version = &stage, &version
		}
		sc.Checks = append(sc.Checks, c)
	}
	b, _ := json.MarshalIndent(sc, "  ", " ")
	return "  " + string(b)
}

// ownEndpoint says whether a write goes through an endpoint of its own rather
// than POST /v1/cases/{id}/events.
func ownEndpoint(typ string) bool {
	switch typ {
	case "BreakGlassInvoked", "ErasureRequested", "CaseErased", "ErasureCancelled":
		return true
	}
	return false
}

// statusOf is the status of an accepted write.
func statusOf(a refAppend) int {
	switch a.Type {
	case "ErasureRequested":
		return 202
	case "CaseErased", "ErasureCancelled":
		return 200
	}
	return 201
}

// writeCheck is a write as a reproducer's check.
func writeCheck(a refAppend, status int) reproCheck {
	c := reproCheck{As: a.As, Expect: status}
	switch a.Type {
	case "BreakGlassInvoked":
		c.BreakGlass = a.Text
	case "ErasureRequested":
		c.Erasure, c.LegalBasis, c.Reference = "request", a.LegalBasis, a.Reference
	case "CaseErased":
		c.Erasure, c.Request = "confirm", a.Request
	case "ErasureCancelled":
		c.Erasure, c.Request = "cancel", a.Request
	case "CaseOpened":
		c.OpenCase = a.Data
	default:
		e := a.scenarioEvent()
		c.Append = &e
	}
	return c
}

// uniformRedacted returns the redacted fields shared by every item, or nil when
// they differ (the scenario format checks one set for all items).
func uniformRedacted(items []refItem) []string {
	if len(items) == 0 {
		return nil
	}
	for _, it := range items[1:] {
		if !slices.Equal(it.Redacted, items[0].Redacted) {
			return nil
		}
	}
	return items[0].Redacted
}

// TestDifferentialRegressions replays the shrunk reproducers kept under
// testdata/differential/: scenario files (testdata/SCENARIOS.md) whose checks
// may use reproExtension.
func TestDifferentialRegressions(t *testing.T) {
	files, _ := filepath.Glob("testdata/differential/*.json")
	if len(files) == 0 {
		t.Skip("no reproducers kept under testdata/differential/")
	}
	h := startHub(t, "")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Scenarios []struct {
				Name   string            `json:"name"`
				Events []scenarioEvent   `json:"events"`
				Checks []json.RawMessage `json:"checks"`
			} `json:"scenarios"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, sc := range file.Scenarios {
			t.Run(sc.Name, func(t *testing.T) {
				// The events, as runScenario appends them, then the checks.
				caseID := openScenarioCase(t, h, scenario{Events: sc.Events})
				request := ""
				for i, raw := range sc.Checks {
					runReproCheck(t, h, caseID, fmt.Sprintf("check %d", i), raw, &request)
				}
			})
		}
	}
}

// openScenarioCase opens a scenario's case and appends its events (each must
// be accepted), as runScenario does, and returns the case id.
func openScenarioCase(t *testing.T, h *hub, sc scenario) string {
	t.Helper()
	if len(sc.Events) == 0 || sc.Events[0].Type != "CaseOpened" {
		t.Fatal("a scenario starts with CaseOpened")
	}
	first := sc.Events[0]
	r := h.do("POST", "/v1/cases", &first.As, "", first.Data)
	if r.Status != 201 {
		t.Fatalf("opening the case: %d %s", r.Status, r.Body)
	}
	caseID := r.json(t)["case_id"].(string)
	for i, e := range sc.Events[1:] {
		if r := h.do("POST", "/v1/cases/"+caseID+"/events", &e.As, "", appendBody(e)); r.Status != 201 {
			t.Fatalf("set-up event %d (%s as %s): %d %s", i+1, e.Type, e.As.Agency, r.Status, r.Body)
		}
	}
	return caseID
}

// runReproCheck runs one check of a reproducer: an erasure step or an append
// with a version itself, any other check through runCheck, followed, for a
// read with a stage, a version or item versions, by a second read that checks
// them. request is the id of the scenario's latest erasure request.
func runReproCheck(t *testing.T, h *hub, caseID, name string, raw json.RawMessage, request *string) {
	t.Helper()
	var ext reproExtension
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ext); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, k := range []string{"erasure", "legal_basis", "reference", "request", "stage", "version", "item_versions"} {
		delete(fields, k)
	}
	plain, _ := json.Marshal(fields)
	var c check
	if err := json.Unmarshal(plain, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var want int
	one := json.Unmarshal(c.Expect, &want) == nil
	if c.Append != nil && ext.Version != nil {
		// An append whose answer's version is checked.
		if !one {
			t.Fatalf("%s: an append with a version expects one status, not %s", name, c.Expect)
		}
		r := h.do("POST", "/v1/cases/"+caseID+"/events", &c.As, "", appendBody(*c.Append))
		var ans struct {
			Version int `json:"version"`
		}
		_ = json.Unmarshal(r.Body, &ans)
		if r.Status != want || ans.Version != *ext.Version {
			t.Errorf("%s: append %s as %s (%s): status %d version %d, want %d version %d (the writer's view)\n%s",
				name, c.Append.Type, c.As.Agency, c.As.Sub, r.Status, ans.Version, want, *ext.Version, r.Body)
		}
		return
	}
	if ext.Erasure == "" {
		runCheck(t, h, caseID, name, c)
		if c.Get != "" && (ext.Stage != nil || ext.Version != nil || ext.ItemVersions != nil) {
			checkView(t, h, caseID, name, c, ext)
		}
		return
	}
	if !one {
		t.Fatalf("%s: an erasure step expects one status, not %s", name, c.Expect)
	}
	id := *request
	if id == "" || ext.Request == "unknown" {
		id = unknownRequestID
	}
	var r response
	switch ext.Erasure {
	case "request":
		body := map[string]string{"legal_basis": ext.LegalBasis}
		if ext.Reference != "" {
			body["reference"] = ext.Reference
		}
		r = h.do("POST", "/v1/cases/"+caseID+"/erase", &c.As, "", body)
		if r.Status == 202 {
			*request, _ = r.json(t)["request_id"].(string)
		}
	case "confirm", "cancel":
		r = h.do("POST", "/v1/erasures/"+id+"/"+ext.Erasure, &c.As, "", map[string]string{})
	default:
		t.Fatalf("%s: unknown erasure step %q", name, ext.Erasure)
	}
	if r.Status != want {
		t.Errorf("%s: erasure %s as %s/%s (%s): status %d, want %d\n%s", name, ext.Erasure,
			c.As.Agency, strings.Join(c.As.Roles, ","), c.As.Sub, r.Status, want, r.Body)
	}
}

// checkView reads a check's answer again and compares the reader's stage, the
// case's version and the items' versions with the reproducer's.
func checkView(t *testing.T, h *hub, caseID, name string, c check, ext reproExtension) {
	t.Helper()
	path := "/v1/cases/" + caseID
	if c.Get != "case" {
		path += "/" + c.Get
	}
	r := h.do("GET", path, &c.As, c.Purpose, nil)
	var ans struct {
		Stage   string `json:"stage"`
		Version int    `json:"version"`
		Items   []struct {
			Version int `json:"version"`
		} `json:"items"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &ans) != nil {
		t.Errorf("%s: GET %s: %d %s", name, c.Get, r.Status, r.Body)
		return
	}
	if ext.Stage != nil && ans.Stage != *ext.Stage {
		t.Errorf("%s: GET %s: stage %q, want %q (the reader's view)", name, c.Get, ans.Stage, *ext.Stage)
	}
	if ext.Version != nil && ans.Version != *ext.Version {
		t.Errorf("%s: GET %s: version %d, want %d (the reader's view)", name, c.Get, ans.Version, *ext.Version)
	}
	if ext.ItemVersions != nil {
		got := []int{}
		for _, it := range ans.Items {
			got = append(got, it.Version)
		}
		if !slices.Equal(got, ext.ItemVersions) {
			t.Errorf("%s: GET %s: item versions %v, want %v (the reader's view)", name, c.Get, got, ext.ItemVersions)
		}
	}
}

// isDPO says whether an identity is a data-protection officer of the
// oversight body.
func isDPO(id identity) bool {
	return refDirectory[id.Agency] == oversight && hasRole(id, []string{"dpo"})
}

// TestRefModelReproducers replays the reproducers kept under
// testdata/differential/ through the reference model alone (no hub): every
// set-up event must be accepted, and every check must expect what the model
// predicts (status, items, types, redacted fields, break_glass, and the
// extensions' stage and versions). A kept reproducer states the model's
// answer; when the protocol changes, this test says which ones to revisit.
func TestRefModelReproducers(t *testing.T) {
	files, _ := filepath.Glob("testdata/differential/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Scenarios []struct {
				Name   string            `json:"name"`
				Events []scenarioEvent   `json:"events"`
				Checks []json.RawMessage `json:"checks"`
			} `json:"scenarios"`
		}
		if err := json.Unmarshal(b, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, sc := range file.Scenarios {
			t.Run(sc.Name, func(t *testing.T) {
				now := time.Now()
				var h refHistory
				write := func(a refAppend) int {
					s := expectAppend(a, h, now)
					if s/100 == 2 {
						h = append(h, a.accept(h, now, fmt.Sprintf("request-%d", len(h))))
					}
					return s
				}
				for i, e := range sc.Events {
					if s := write(modelWrite(e, h, now)); s != 201 {
						t.Fatalf("set-up event %d (%s as %s): the model answers %d", i, e.Type, e.As.Sub, s)
					}
				}
				for i, raw := range sc.Checks {
					var ext reproExtension
					var c check
					if err := json.Unmarshal(raw, &ext); err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(raw, &c); err != nil {
						t.Fatal(err)
					}
					var want int
					if err := json.Unmarshal(c.Expect, &want); err != nil {
						t.Fatalf("check %d: the model checks one status, not %s", i, c.Expect)
					}
					got := refAnswer{}
					switch {
					case c.Get != "":
						got = modelRead(c.As, c.Purpose, c.Get, h, now)
					case c.Append != nil:
						a := modelWrite(*c.Append, h, now)
						if ext.Version != nil && expectAppend(a, h, now) == 201 {
							got.Version = writerVersion(a.As, append(slices.Clip(h), a.accept(h, now, "")), now)
						}
						got.Status = write(a)
					case c.BreakGlass != "":
						got.Status = write(refAppend{As: c.As, Type: "BreakGlassInvoked", Text: c.BreakGlass})
					case ext.Erasure != "":
						a := refAppend{As: c.As, Type: map[string]string{"request": "ErasureRequested", "confirm": "CaseErased",
							"cancel": "ErasureCancelled"}[ext.Erasure], LegalBasis: ext.LegalBasis, Reference: ext.Reference, Request: ext.Request}
						got.Status = write(a)
					default:
						t.Fatalf("check %d: the model does not replay this check: %s", i, raw)
					}
					checkModelAnswer(t, fmt.Sprintf("check %d", i), c, ext, want, got)
				}
			})
		}
	}
}

// modelWrite is a scenario's event as a write for the model; an
// expected_version is fresh when it equals the writer's view version.
func modelWrite(e scenarioEvent, h refHistory, now time.Time) refAppend {
	a := refAppend{As: e.As, Type: e.Type, Classification: e.Classification, ShareWith: e.ShareWith}
	_ = json.Unmarshal(e.Data, &a.Data)
	if e.ExpectedVersion != nil {
		a.Expected = "stale"
		if *e.ExpectedVersion == writerVersion(e.As, h, now) {
			a.Expected = "fresh"
		}
	}
	return a
}

// modelRead is the model's answer to a scenario's read.
func modelRead(id identity, purpose, get string, h refHistory, now time.Time) refAnswer {
	switch {
	case get == "case":
		return expectCase(id, purpose, h, now)
	case get == "events":
		return expectEvents(id, purpose, h, 0, now)
	case strings.HasPrefix(get, "events?after_version="):
		after, _ := strconv.Atoi(strings.TrimPrefix(get, "events?after_version="))
		return expectEvents(id, purpose, h, after, now)
	}
	return expectSection(id, purpose, h, strings.TrimPrefix(get, "sections/"), now)
}

// checkModelAnswer compares the model's answer with what a check expects.
func checkModelAnswer(t *testing.T, name string, c check, ext reproExtension, want int, got refAnswer) {
	t.Helper()
	if got.Status != want {
		t.Errorf("%s: the model answers %d, the reproducer expects %d", name, got.Status, want)
		return
	}
	var types []string
	var versions []int
	for _, it := range got.Items {
		types = append(types, it.Type)
		versions = append(versions, it.Version)
		if c.Redacted != nil && !slices.Equal(it.Redacted, sortedCopy(c.Redacted)) {
			t.Errorf("%s: the model redacts %v, the reproducer %v", name, it.Redacted, c.Redacted)
		}
	}
	switch {
	case c.Items != nil && len(got.Items) != *c.Items:
		t.Errorf("%s: the model shows %d items, the reproducer %d", name, len(got.Items), *c.Items)
	case c.Types != nil && !slices.Equal(types, c.Types):
		t.Errorf("%s: the model shows %v, the reproducer %v", name, types, c.Types)
	case c.BGFlag != nil && got.BreakGlass != *c.BGFlag:
		t.Errorf("%s: the model's break_glass is %v, the reproducer's %v", name, got.BreakGlass, *c.BGFlag)
	case ext.Stage != nil && got.Stage != *ext.Stage:
		t.Errorf("%s: the model's stage is %q, the reproducer's %q", name, got.Stage, *ext.Stage)
	case ext.Version != nil && got.Version != *ext.Version:
		t.Errorf("%s: the model's version is %d, the reproducer's %d", name, got.Version, *ext.Version)
	case ext.ItemVersions != nil && !slices.Equal(versions, ext.ItemVersions):
		t.Errorf("%s: the model numbers the items %v, the reproducer %v", name, versions, ext.ItemVersions)
	}
}
