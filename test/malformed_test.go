package liaison_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/liaison-hub/liaison/domain"
)

// TestMalformedRequestsAreRefusedAndRecorded fires well over 1,000 malformed
// requests, generated systematically and by mutation, at a running hub
// (docs/targets.md, R4): none gets a 5xx, every refusal is a problem document,
// nothing is appended, and the access log holds exactly one record per request,
// a denial for each refusal.
func TestMalformedRequestsAreRefusedAndRecorded(t *testing.T) {
	// No rate limit: this hub is to see every malformed request, fast.
	h := startHub(t, "", "--rate-limit", "0")
	f := &malFixture{h: h, trail: newAccessTrail(t, h, malAuditor), noCase: "7d3c4a1e-0b6f-4e2a-9c1d-5f8e2b7a6c90"}
	f.setUp(t)
	probes := f.probes(t)
	counted := 0
	for _, p := range probes {
		if !p.beforeHub {
			counted++
		}
	}
	t.Logf("%d malformed requests (+%d refused by net/http before the hub)", counted, len(probes)-counted)
	if counted < 1000 {
		t.Fatalf("only %d malformed requests", counted)
	}

	before := f.snapshot(t)
	mark := f.trail.mark(t)
	answers := f.sendAll(t, probes)
	after := f.snapshot(t)

	t.Run("no request gets a 5xx", func(t *testing.T) {
		for _, a := range answers {
			if a.status >= 500 {
				t.Errorf("%s: %s %.80q answered %d: %.200s", a.name, a.method, a.target, a.status, a.body)
			}
		}
		if n := after.serverErrors; n != 0 {
			t.Errorf("the hub's metrics count %v answers with a 5xx", n)
		}
		if strings.Contains(h.Output(), "panic") {
			t.Errorf("the hub logged a panic:\n%s", h.Output())
		}
	})
	t.Run("every request is refused with its status as a problem document", func(t *testing.T) {
		for _, a := range answers {
			want := a.want
			if len(want) == 0 && (a.status < 400 || a.status >= 500) {
				t.Errorf("%s: %s %.80q answered %d, want a refusal: %.200s", a.name, a.method, a.target, a.status, a.body)
				continue
			}
			if len(want) > 0 && !slices.Contains(want, a.status) {
				t.Errorf("%s: %s %.80q answered %d, want %v: %.200s", a.name, a.method, a.target, a.status, want, a.body)
				continue
			}
			if a.status >= 400 && !a.beforeHub {
				checkProblem(t, a, a.field)
			}
		}
	})
	t.Run("nothing is appended", func(t *testing.T) {
		if before.String() != after.String() {
			t.Errorf("the hub changed:\nbefore %s\nafter  %s", before, after)
		}
	})
	t.Run("every request has one access record, every refusal a denial", func(t *testing.T) {
		checkTrail(t, f.trail.since(t, mark), answers, f.trail)
	})
}

var (
	malPrison    = identity{Agency: "prison-service", Roles: []string{"caseworker", "psychologist", "manager"}, Sub: "pc-mal"}
	malProbation = identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "po-mal"}
	malIntel     = identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "is-mal"}
	malAuditor   = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ob-mal"}
	malDPO       = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "ob-dpo"}
)

// malEvent is an event type with a valid data object (every field given:
// demo.Example), its required fields and who may write it.
type malEvent struct {
	typ      string
	as       identity
	data     string
	required []string
}

var malEvents = withExampleAndWriter([]malEvent{
	{typ: "CaseOpened", required: []string{"subject_ref", "target_group"}},
	{typ: "ConsentGiven", required: []string{"organisations"}},
	{typ: "ConsentWithdrawn", required: []string{"organisations"}},
	{typ: "RiskAssessmentRecorded", required: []string{"tool", "assessed_at", "overall_judgement"}},
	{typ: "NeedsAssessmentRecorded", required: []string{"needs", "needs[0].area", "needs[0].level"}},
	{typ: "TreatmentPlanAdopted", required: []string{"goals", "goals[0].stage", "goals[0].description", "goals[0].responsible"}},
	{typ: "InterventionRecorded", required: []string{"practice_code", "date"}},
	{typ: "CounsellingNoteAdded", required: []string{"date", "note"}},
	{typ: "CaseConferenceHeld", required: []string{"date", "participants", "actions[0].owner", "actions[0].description"}},
	{typ: "IntelligenceNoteAdded", required: []string{"note"}},
	{typ: "RiskDisclosureRaised", required: []string{"concern", "urgency"}},
	{typ: "FamilyContactRecorded", required: []string{"date"}},
	{typ: "TransitionPlanAgreed", required: []string{"planned_release"}},
	{typ: "MentorAssigned", required: []string{"mentor_org"}},
	{typ: "ReleaseScheduled", required: []string{"release_date"}},
	{typ: "Released", required: []string{"released_at"}},
	{typ: "ProbationHandoverCompleted", required: []string{"date"}},
	{typ: "OutcomeRecorded", required: []string{"follow_up_at"}},
	{typ: "CaseClosed", required: []string{"reason"}},
})

// withExampleAndWriter gives each event its example data (demo.Example) and
// its writer: the first of malPrison, malProbation and malIntel that the
// reference model's write table lets write the type without consent.
func withExampleAndWriter(events []malEvent) []malEvent {
	for i := range events {
		e := &events[i]
		e.data = string(domain.Example(domain.EventType(e.typ)))
		for _, id := range []identity{malPrison, malProbation, malIntel} {
			if inRemit(id, e.typ, caseState{}, time.Now()) {
				e.as = id
				break
			}
		}
		if e.data == "" || e.as.Agency == "" {
			panic("no example or no writer of " + e.typ)
		}
	}
	return events
}

func malEventOf(typ string) malEvent {
	for _, e := range malEvents {
		if e.typ == typ {
			return e
		}
	}
	panic("no event " + typ)
}

// malFixture is the hub under test, its cases and the access trail.
type malFixture struct {
	h      *hub
	trail  *accessTrail
	caseA  string // receives the appends
	caseB  string
	noCase string // a valid UUID of no case
}

func (f *malFixture) setUp(t *testing.T) {
	t.Helper()
	open := func(subject string) string {
		r := f.h.do("POST", "/v1/cases", &malPrison, "", map[string]string{"subject_ref": subject, "target_group": "right-wing"})
		if r.Status != http.StatusCreated {
			t.Fatalf("opening a case: %d %s", r.Status, r.Body)
		}
		return r.json(t)["case_id"].(string)
	}
	f.caseA, f.caseB = open("P-MAL-1"), open("P-MAL-2")
	for _, id := range []string{f.caseA, f.caseB} {
		for _, body := range []string{
			`{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`,
			`{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`,
		} {
			if r := f.h.do("POST", "/v1/cases/"+id+"/events", &malPrison, "", body); r.Status != http.StatusCreated {
				t.Fatalf("appending: %d %s", r.Status, r.Body)
			}
		}
	}
	// Every valid example is valid, so that its variants test one fault each.
	dir := malDirectory()
	for _, e := range malEvents {
		var err error
		if e.typ == "CaseOpened" {
			_, _, err = domain.ParseOpenRequest([]byte(e.data), dir)
		} else {
			_, err = domain.ParseAppendRequest(appendJSON(e.typ, e.data), dir)
		}
		if err != nil {
			t.Fatalf("the %s example is invalid: %v", e.typ, err)
		}
	}
}

func malDirectory() domain.MapDirectory {
	return domain.MapDirectory{"prison-service": "prison", "probation-service": "probation", "intelligence-service": "intelligence",
		"municipality": "municipality", "exit-ngo": "civil-society", "family-support": "family-support",
		"oversight-board": "oversight", "research-institute": "research"}
}

func appendJSON(typ, data string) []byte {
	return []byte(`{"type":"` + typ + `","data":` + data + `}`)
}

// hubState is what the malformed requests must leave unchanged.
type hubState struct {
	versions     map[string]float64
	events       map[string]int
	cases        int
	writes       map[string]float64 // write calls allowed, by action
	serverErrors float64
}

func (s hubState) String() string {
	return fmt.Sprintf("versions %v, events %v, %d cases, writes allowed %v", s.versions, s.events, s.cases, s.writes)
}

func (f *malFixture) snapshot(t *testing.T) hubState {
	t.Helper()
	s := hubState{versions: map[string]float64{}, events: map[string]int{}, writes: map[string]float64{}}
	for _, id := range []string{f.caseA, f.caseB} {
		// A case that cannot be read any more (erased: 410) shows its status.
		r := f.trail.note(t, wireRequest{name: "read case", method: "GET", target: "/v1/cases/" + id, header: bearer(f.h.token(malPrison), "case-management")})
		var c struct {
			Version float64 `json:"version"`
		}
		if json.Unmarshal(r.body, &c); r.status != http.StatusOK {
			c.Version = -float64(r.status)
		}
		s.versions[id] = c.Version
		r = f.trail.note(t, wireRequest{name: "read events", method: "GET", target: "/v1/cases/" + id + "/events", header: bearer(f.h.token(malPrison), "case-management")})
		var ev struct {
			Items []json.RawMessage `json:"items"`
		}
		s.events[id] = -r.status
		if json.Unmarshal(r.body, &ev) == nil && r.status == http.StatusOK {
			s.events[id] = len(ev.Items)
		}
	}
	s.cases = f.trail.countCases(t, malPrison)
	m := sendWire(t, f.h, wireRequest{name: "metrics", method: "GET", target: "/metrics"})
	sc := bufio.NewScanner(bytes.NewReader(m.body))
	for sc.Scan() {
		line := sc.Text()
		name, value, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseFloat(value, 64)
		switch {
		case strings.HasPrefix(name, "liaison_access_decisions_total{") && !strings.Contains(name, `decision="deny"`):
			for _, action := range []string{"case.open", "event.append", "break-glass", "case.erase"} {
				if strings.Contains(name, `action="`+action+`"`) {
					s.writes[action] += n
				}
			}
		case strings.HasPrefix(name, "liaison_http_request_duration_seconds_count{") && strings.Contains(name, `status="5`):
			s.serverErrors += n
		}
	}
	return s
}

// sendAll sends the probes from a few connections at once.
func (f *malFixture) sendAll(t *testing.T, probes []wireRequest) []wireAnswer {
	t.Helper()
	answers := make([]wireAnswer, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				answers[i], errs[i] = trySendWire(f.h, probes[i])
			}
		}()
	}
	for i := range probes {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", probes[i].name, err)
		}
	}
	return answers
}

// probes returns the malformed requests, each with the answer it must get.
func (f *malFixture) probes(t *testing.T) []wireRequest {
	t.Helper()
	var out []wireRequest
	var counts []string
	add := func(class string, ps []wireRequest) {
		out = append(out, ps...)
		counts = append(counts, fmt.Sprintf("%s %d", class, len(ps)))
	}
	add("broken JSON", f.brokenJSON())
	add("bad fields", f.badFields(t))
	add("unicode tricks", f.badText(t))
	add("huge bodies", f.hugeBodies())
	add("junk ids", f.junkIDs())
	add("bad query values", f.badQueries())
	add("bad headers", f.badHeaders())
	add("bad methods, routes and bodies", f.badRoutes())
	add("mutants", f.mutants(300))
	t.Logf("requests by class: %s", strings.Join(counts, ", "))
	return out
}

// body returns the request that appends (or opens) data as e's writer, with
// the problem expected to name field (a path in the data; "*": any).
func (f *malFixture) body(name string, e malEvent, data []byte, field string) wireRequest {
	if !json.Valid(data) {
		field = "*" // the syntax error is named where the parser stops
	}
	r := wireRequest{name: name, method: "POST", header: bearer(f.h.token(e.as), ""), want: []int{400}, field: field}
	r.header.Set("Content-Type", "application/json")
	if e.typ == "CaseOpened" {
		r.target, r.body = "/v1/cases", data
		return r
	}
	r.target, r.body = "/v1/cases/"+f.caseA+"/events", []byte(`{"type":"`+e.typ+`","data":`+string(data)+`}`)
	if field != "*" && field != "" {
		r.field = "data." + field
	}
	return r
}

func (f *malFixture) brokenJSON() []wireRequest {
	var out []wireRequest
	for _, e := range malEvents {
		full := e.data
		step := 6
		if e.typ == "CaseOpened" {
			step = 1
		}
		for i := 0; i < len(full); i += step {
			out = append(out, f.body(fmt.Sprintf("%s truncated at %d", e.typ, i), e, []byte(full[:i]), "*"))
		}
		inner := strings.TrimSuffix(full, "}")
		first, _, _ := strings.Cut(strings.TrimPrefix(full, "{"), ",")
		deepArrays := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
		deepObjects := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
		for name, data := range map[string]string{
			"duplicate key": inner + "," + first + "}", "case-variant key": inner + `,"NOTE":"n"}`,
			"NaN": inner + `,"x":NaN}`, "Infinity": inner + `,"x":-Infinity}`, "single quotes": strings.ReplaceAll(full, `"`, `'`),
			"comment": "/* c */" + full, "byte order mark": "\ufeff" + full, "arrays 10k deep": inner + `,"x":` + deepArrays + "}",
			"objects 10k deep": inner + `,"x":` + deepObjects + "}", "an array": "[" + full + "]", "a string": strconv.Quote(full),
			"null": "null", "a number": "1e999", "trailing garbage": full + " x", "trailing comma": inner + ",}",
			"a second object": full + "{}",
		} {
			out = append(out, f.body(e.typ+" "+name, e, []byte(data), "*"))
		}
		if e.typ == "CaseOpened" || e.typ == "ConsentGiven" || e.typ == "CounsellingNoteAdded" {
			out = append(out, f.body(e.typ+" with a trailing brace", e, []byte(full+"}"), "*"), f.body(e.typ+" with a trailing bracket", e, []byte(full+"]"), "*"))
		}
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for name, body := range map[string]string{
		"type twice": `{"type":"CaseClosed","type":"Released","data":{"reason":"r"}}`, "data twice": `{"type":"CaseClosed","data":{"reason":"r"},"data":{"reason":"s"}}`,
		"data as a string": `{"type":"CaseClosed","data":"{\"reason\":\"r\"}"}`, "data as an array": `{"type":"CaseClosed","data":[{"reason":"r"}]}`,
		"data null": `{"type":"CaseClosed","data":null}`, "no data": `{"type":"CaseClosed"}`, "no type": `{"data":{"reason":"r"}}`,
		"type a number": `{"type":7,"data":{"reason":"r"}}`, "an empty object": `{}`, "arrays 100k deep": deep,
		"expected_version NaN": `{"type":"CaseClosed","data":{"reason":"r"},"expected_version":NaN}`,
	} {
		out = append(out, f.body("append "+name, malEventOf("ConsentGiven"), nil, "*"))
		out[len(out)-1].body = []byte(body)
	}
	return out
}

// badFields makes every field of every event type wrong in turn: wrong
// types, missing, unknown, bad enum values, bad dates, over the limits.
func (f *malFixture) badFields(t *testing.T) []wireRequest {
	var out []wireRequest
	wrong := map[string][]string{
		"string": {`1`, `true`, `[]`, `{}`, `1.5`, `["x"]`},
		"array":  {`"x"`, `{}`, `1`, `true`, `[1]`, `[{}]`},
		"object": {`"x"`, `[]`, `1`, `true`},
		"number": {`"90"`, `true`, `1.5`, `[]`, `{}`, `NaN`, `1e2`, `99999999999999999999`, `-1`, `0x10`},
		"bool":   {`"true"`, `1`, `[]`, `{}`},
	}
	for _, e := range malEvents {
		var doc map[string]any
		json.Unmarshal([]byte(e.data), &doc)
		for _, path := range leafPaths(doc, "") {
			for _, v := range wrong[path.kind] {
				out = append(out, f.body(fmt.Sprintf("%s.%s = %s", e.typ, path.path, v), e, withValue(t, e.data, path.path, &v), path.path))
			}
		}
		for _, req := range e.required {
			out = append(out, f.body(e.typ+" without "+req, e, withValue(t, e.data, req, nil), req))
			null := "null"
			out = append(out, f.body(e.typ+" with "+req+" null", e, withValue(t, e.data, req, &null), req))
		}
		surprise := `1`
		out = append(out, f.body(e.typ+" with an unknown field", e, withValue(t, e.data, "surprise", &surprise), "surprise"))
		out = append(out, f.body(e.typ+" with __proto__", e, withValue(t, e.data, "__proto__", &surprise), "__proto__"))
	}
	for _, nested := range []struct{ typ, path string }{{"NeedsAssessmentRecorded", "needs[0].x"}, {"TreatmentPlanAdopted", "goals[0].Stage"}, {"CaseConferenceHeld", "actions[0].x"}, {"OutcomeRecorded", "reintegration.x"}} {
		one := `1`
		out = append(out, f.body(nested.typ+" with unknown "+nested.path, malEventOf(nested.typ), withValue(t, malEventOf(nested.typ).data, nested.path, &one), nested.path))
	}
	enums := map[string][]string{
		"CaseOpened.target_group": {"Islamist", "islamist ", "right_wing", "extremist", ""}, "CaseOpened.gender": {"M", "unknown"},
		"CaseOpened.regime": {"solitary"}, "RiskAssessmentRecorded.overall_judgement": {"HIGH", "extreme", "1"},
		"RiskAssessmentRecorded.domains.beliefs_attitudes": {"severe"}, "NeedsAssessmentRecorded.needs[0].area": {"moon", "housing\u200b"},
		"NeedsAssessmentRecorded.needs[0].level": {"very-high"}, "TreatmentPlanAdopted.goals[0].stage": {"Basic-Needs"},
		"TreatmentPlanAdopted.goals[0].responsible": {"nobody", "prіson-service", "../etc"}, "InterventionRecorded.practice_code": {"1", "23", "00", "08 ", "８"},
		"InterventionRecorded.format": {"solo"}, "RiskDisclosureRaised.urgency": {"now", "Urgent"}, "OutcomeRecorded.recidivism": {"some"},
		"ConsentGiven.organisations[0]": {"nobody", "prіson-service", "EXIT-NGO", "exit-ngo "}, "MentorAssigned.mentor_org": {"mentors-r-us"},
		"CaseConferenceHeld.participants[0]": {"oversight board"}, "TransitionPlanAgreed.mentor_org": {"ｅxit-ngo"},
	}
	dates := map[string][]string{
		"CaseOpened": {"sentence_end"}, "ConsentGiven": {"expires_at"}, "RiskAssessmentRecorded": {"assessed_at", "next_review_due"},
		"TreatmentPlanAdopted": {"goals[0].due"}, "InterventionRecorded": {"date"}, "CaseConferenceHeld": {"date", "actions[0].due"},
		"IntelligenceNoteAdded": {"assessed_at"}, "TransitionPlanAgreed": {"planned_release"}, "ReleaseScheduled": {"release_date"},
		"Released": {"released_at"}, "ProbationHandoverCompleted": {"date"}, "OutcomeRecorded": {"follow_up_at"},
	}
	for typ, paths := range dates {
		for _, p := range paths {
			enums[typ+"."+p] = []string{"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "26-1-1", "2026-1-1", "2026-01-01T00:00:00Z",
				"2026-01-01 10:00", " 2026-01-01", "2026/01/01", "20260101", "０２０２６-01-01", "2026-01-01\u202e", "tomorrow", "+2026-01-01"}
		}
	}
	for key, values := range enums {
		typ, path, _ := strings.Cut(key, ".")
		for _, v := range values {
			q := strconv.Quote(v)
			out = append(out, f.body(fmt.Sprintf("%s.%s = %s", typ, path, q), malEventOf(typ), withValue(t, malEventOf(typ).data, path, &q), path))
		}
	}
	limits := []struct{ typ, path, value string }{
		{"CaseOpened", "subject_ref", strconv.Quote(strings.Repeat("1", 129))}, {"CaseOpened", "facility", strconv.Quote(strings.Repeat("f", 1025))},
		{"ConsentGiven", "form_ref", strconv.Quote(strings.Repeat("F", 129))}, {"RiskAssessmentRecorded", "notes", strconv.Quote(strings.Repeat("n", 32<<10+1))},
		{"RiskAssessmentRecorded", "protective_factors", "[" + strings.Repeat(`"x",`, 200) + `"x"]`},
		{"RiskAssessmentRecorded", "domains", "{" + manyKeys(201) + "}"},
		{"NeedsAssessmentRecorded", "needs", "[" + strings.Repeat(`{"area":"housing","level":"low"},`, 200) + `{"area":"housing","level":"low"}]`},
		{"InterventionRecorded", "summary", strconv.Quote(strings.Repeat("s", 32<<10+1))}, {"InterventionRecorded", "duration_minutes", "1441"},
		{"CaseConferenceHeld", "decisions", `["` + strings.Repeat("d", 1025) + `"]`}, {"CaseConferenceHeld", "participants", "[" + strings.Repeat(`"exit-ngo",`, 64) + `"exit-ngo"]`},
		{"TransitionPlanAgreed", "arrangements", "[" + strings.Repeat(`"a",`, 200) + `"a"]`}, {"MentorAssigned", "mentor_ref", strconv.Quote(strings.Repeat("m", 129))},
		{"OutcomeRecorded", "months_since_release", "1201"}, {"CaseClosed", "reason", strconv.Quote(strings.Repeat("r", 1025))},
		{"RiskDisclosureRaised", "concern", strconv.Quote(strings.Repeat("c", 32<<10+1))},
	}
	for _, l := range limits {
		e := malEventOf(l.typ)
		out = append(out, f.body(fmt.Sprintf("%s.%s over its limit", l.typ, l.path), e, withValue(t, e.data, l.path, &l.value), l.path))
	}
	closed := malEventOf("CaseClosed")
	for name, extra := range map[string]string{
		"unknown type": `"type":"NoSuchEvent"`, "own-endpoint type": `"type":"CaseOpened"`, "erasure type": `"type":"CaseErased"`,
		"break-glass type": `"type":"BreakGlassInvoked"`, "homoglyph type": `"type":"CaseClоsed"`, "lower-case type": `"type":"caseclosed"`,
	} {
		out = append(out, wireRequest{name: "append with " + name, method: "POST", target: "/v1/cases/" + f.caseA + "/events",
			header: http.Header{"Authorization": {"Bearer " + f.h.token(malPrison)}, "Content-Type": {"application/json"}},
			body:   []byte(`{` + extra + `,"data":` + closed.data + `}`), want: []int{400}, field: "type"})
	}
	for name, extra := range map[string][2]string{
		"classification lower case": {`"classification":"tlp:red"`, "classification"}, "classification unknown": {`"classification":"TLP:PURPLE"`, "classification"},
		"classification a number": {`"classification":3`, "classification"}, "share_with unknown": {`"share_with":["nobody"]`, "share_with[0]"},
		"share_with homoglyph": {`"share_with":["prіson-service"]`, "share_with[0]"}, "share_with twice": {`"share_with":["exit-ngo","exit-ngo"]`, "share_with[1]"},
		"share_with 65":       {`"share_with":[` + strings.TrimSuffix(strings.Repeat(`"exit-ngo",`, 65), ",") + `]`, "share_with"},
		"share_with a string": {`"share_with":"exit-ngo"`, "share_with"}, "share_with traversal": {`"share_with":["../../etc/passwd"]`, "share_with[0]"},
		"expected_version negative": {`"expected_version":-1`, "expected_version"}, "expected_version a string": {`"expected_version":"4"`, "expected_version"},
		"expected_version fractional": {`"expected_version":4.5`, "expected_version"}, "expected_version huge": {`"expected_version":9007199254740993`, "expected_version"},
		"expected_version 1e1": {`"expected_version":1e1`, "expected_version"}, "an unknown top-level field": {`"typo":1`, "typo"},
	} {
		out = append(out, wireRequest{name: "append with " + name, method: "POST", target: "/v1/cases/" + f.caseA + "/events",
			header: http.Header{"Authorization": {"Bearer " + f.h.token(malPrison)}, "Content-Type": {"application/json"}},
			body:   []byte(`{"type":"CaseClosed","data":` + closed.data + `,` + extra[0] + `}`), want: []int{400}, field: extra[1]})
	}
	return out
}

func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"d%d":"low"`, i)
	}
	return strings.Join(keys, ",")
}

// leafPath is a field of a data object and the JSON kind of its value.
type leafPath struct{ path, kind string }

// leafPaths lists the fields of doc and, for arrays of objects and objects,
// the fields of their first element, in a stable order.
func leafPaths(doc map[string]any, prefix string) []leafPath {
	var out []leafPath
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		switch v := doc[k].(type) {
		case string:
			out = append(out, leafPath{p, "string"})
		case float64:
			out = append(out, leafPath{p, "number"})
		case bool:
			out = append(out, leafPath{p, "bool"})
		case map[string]any:
			out = append(out, leafPath{p, "object"})
			if !strings.HasSuffix(p, "domains") {
				out = append(out, leafPaths(v, p)...)
			}
		case []any:
			out = append(out, leafPath{p, "array"})
			if len(v) > 0 {
				if m, ok := v[0].(map[string]any); ok {
					out = append(out, leafPaths(m, p+"[0]")...)
				}
			}
		}
	}
	return out
}

// withValue returns doc with the value at path ("needs[0].area", "domains.x")
// replaced by the raw JSON text raw, or removed when raw is nil.
func withValue(t *testing.T, doc, path string, raw *string) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	const marker = "\x01RAW\x01"
	parts := strings.Split(path, ".")
	cur := v
	for i, part := range parts {
		key, idx, indexed := strings.Cut(part, "[")
		obj := cur.(map[string]any)
		last := i == len(parts)-1
		if indexed {
			n, _ := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			arr := obj[key].([]any)
			if last {
				if raw == nil {
					obj[key] = append(arr[:n:n], arr[n+1:]...)
				} else {
					arr[n] = marker
				}
				break
			}
			cur = arr[n]
			continue
		}
		if last {
			if raw == nil {
				delete(obj, key)
			} else {
				obj[key] = marker
			}
			break
		}
		cur = obj[key]
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	out := bytes.TrimSpace(b.Bytes())
	if raw != nil {
		out = bytes.Replace(out, []byte(`"\u0001RAW\u0001"`), []byte(*raw), 1)
	}
	return out
}

// badText puts unicode tricks into text fields of several kinds.
func (f *malFixture) badText(t *testing.T) []wireRequest {
	tricks := map[string]string{
		"bidi override U+202E": `"a\u202eb"`, "bidi isolate U+2066": `"a\u2066b"`, "left-to-right mark": `"a\u200eb"`,
		"zero-width space": `"a\u200bb"`, "zero-width non-joiner": `"a\u200cb"`, "byte order mark": `"a\ufeffb"`,
		"word joiner": `"a\u2060b"`, "NUL escape": `"a\u0000b"`, "raw NUL": "\"a\x00b\"", "C1 control": `"a\u0085b"`,
		"escape character": `"a\u001bb"`, "raw tab in a line": "\"a\tb\"", "invalid UTF-8": "\"a\xff\xfeb\"",
		"overlong encoding": "\"a\xc0\xafb\"", "unpaired surrogate escape": `"a\ud800b"`, "truncated multi-byte": "\"a\xe2\x82\"",
	}
	fields := []struct{ typ, path string }{
		{"CaseOpened", "facility"}, {"CounsellingNoteAdded", "note"}, {"CaseClosed", "reason"}, {"NeedsAssessmentRecorded", "needs[0].note"},
	}
	// Bytes that are not UTF-8 (or escapes that encode none) may be refused
	// for the whole body or for their field.
	encoding := []string{"invalid UTF-8", "overlong encoding", "unpaired surrogate escape", "truncated multi-byte"}
	var out []wireRequest
	for name, v := range tricks {
		for _, fl := range fields {
			if name == "raw tab in a line" && fl.path != "facility" && fl.path != "reason" {
				continue
			}
			e, field := malEventOf(fl.typ), fl.path
			if slices.Contains(encoding, name) {
				field = "*"
			}
			out = append(out, f.body(fmt.Sprintf("%s.%s with %s", fl.typ, fl.path, name), e, withValue(t, e.data, fl.path, &v), field))
		}
		for _, single := range []struct{ path, field string }{{"break-glass", "justification"}, {"erase", "legal_basis"}} {
			as, field := malPrison, single.field
			if single.path == "erase" {
				as = malDPO
			}
			if slices.Contains(encoding, name) {
				field = "*"
			}
			out = append(out, wireRequest{name: single.path + " " + single.field + " with " + name, method: "POST",
				target: "/v1/cases/" + f.caseB + "/" + single.path, header: http.Header{"Authorization": {"Bearer " + f.h.token(as)}, "Content-Type": {"application/json"}},
				body: []byte(`{"` + single.field + `":` + v + `}`), want: []int{400}, field: field})
		}
	}
	for name, v := range map[string]string{"Cyrillic Р": `"Р-2026-1"`, "fullwidth digits": `"P-２０２６"`, "a name": `"JohnSmith"`, "a space": `"P 2026"`} {
		e := malEventOf("CaseOpened")
		out = append(out, f.body("subject_ref with "+name, e, withValue(t, e.data, "subject_ref", &v), "subject_ref"))
	}
	for name, body := range map[string]string{
		"justification too long": `{"justification":"` + strings.Repeat("j", 32<<10+1) + `"}`, "legal_basis too long": `{"legal_basis":"` + strings.Repeat("l", 1025) + `"}`,
		"legal_basis on two lines": `{"legal_basis":"a\nb"}`, "justification blank": `{"justification":"   "}`,
		"justification a number": `{"justification":1}`, "two fields": `{"justification":"a","legal_basis":"b"}`,
	} {
		path, as := "break-glass", malPrison
		if strings.HasPrefix(name, "legal_basis") {
			path, as = "erase", malDPO
		}
		out = append(out, wireRequest{name: path + " " + name, method: "POST", target: "/v1/cases/" + f.caseB + "/" + path,
			header: http.Header{"Authorization": {"Bearer " + f.h.token(as)}, "Content-Type": {"application/json"}}, body: []byte(body), want: []int{400}, field: "*"})
	}
	return out
}

func (f *malFixture) hugeBodies() []wireRequest {
	const limit = 1 << 20
	note := func(total int) []byte { // an append body of exactly total bytes
		head, tail := `{"type":"CounsellingNoteAdded","data":{"date":"2026-03-01","note":"`, `"}}`
		return []byte(head + strings.Repeat("n", total-len(head)-len(tail)) + tail)
	}
	post := func(name, target string, as identity, body []byte, want int, field string) wireRequest {
		return wireRequest{name: name, method: "POST", target: target, body: body, want: []int{want}, field: field,
			header: http.Header{"Authorization": {"Bearer " + f.h.token(as)}, "Content-Type": {"application/json"}}}
	}
	events := "/v1/cases/" + f.caseA + "/events"
	chunked := post("8 MiB chunked", events, malPrison, note(8<<20), 413, "")
	chunked.chunked = true
	return []wireRequest{
		post("a body of exactly 1 MiB", events, malPrison, note(limit), 400, "data.note"),
		post("a body of 1 MiB + 1 byte", events, malPrison, note(limit+1), 413, ""),
		post("a body of 2 MiB", events, malPrison, note(2<<20), 413, ""), chunked,
		post("1 MiB of whitespace and an object", events, malPrison, append(bytes.Repeat([]byte(" "), limit-2), '{', '}'), 400, "*"),
		post("1 MiB of brackets", events, malPrison, bytes.Repeat([]byte("["), limit), 400, "*"),
		post("an opening over 1 MiB", "/v1/cases", malPrison, append([]byte(`{"subject_ref":"P-1","target_group":"islamist","facility":"`), bytes.Repeat([]byte("f"), limit)...), 413, ""),
		post("a break-glass over 1 MiB", "/v1/cases/"+f.caseA+"/break-glass", malPrison, bytes.Repeat([]byte(" "), limit+1), 413, ""),
		post("an erasure over 1 MiB", "/v1/cases/"+f.caseA+"/erase", malDPO, bytes.Repeat([]byte(" "), limit+1), 413, ""),
		{name: "a GET with a 2 MiB body", method: "GET", target: "/v1/cases", header: bearer(f.h.token(malPrison), "case-management"), body: note(2 << 20), want: []int{200}},
	}
}

// junkIDs sends every call on a case to ids that are not one: traversal,
// encodings, near misses. The writes carry valid bodies.
func (f *malFixture) junkIDs() []wireRequest {
	a := f.caseA
	homoglyph := strings.Replace(a, "a", "%D0%B0", 1)
	if homoglyph == a {
		homoglyph = strings.Replace(a, "-", "‐", 1)
	}
	ids := []string{"..", ".", "%2e%2e", "%2E%2E%2F%2E%2E", "..%2f..%2fhealthz", "../../../../etc/passwd", "..%5c..%5cwindows", "%00", a + "%00",
		a + "%20", "%20" + a, a + "%0a", strings.ToUpper(a), a[:len(a)-1], a + "0", a + "/..", "%7B" + a + "%7D", "urn:uuid:" + a,
		strings.ReplaceAll(a, "-", ""), f.noCase, "00000000-0000-0000-0000-000000000000", strings.Repeat("a", 8000), "*", "%25",
		"%ff%fe", a + ";x=1", a + "%3f", "%2f" + a, homoglyph}
	pc, dpo := f.h.token(malPrison), f.h.token(malDPO)
	with := func(token, purpose string) http.Header {
		h := bearer(token, purpose)
		h.Set("Content-Type", "application/json")
		return h
	}
	var out []wireRequest
	for i, id := range ids {
		base := "/v1/cases/" + id
		name := fmt.Sprintf("junk id %d %.40q", i, id)
		out = append(out,
			wireRequest{name: name + " read", method: "GET", target: base, header: bearer(pc, "case-management")},
			wireRequest{name: name + " events", method: "GET", target: base + "/events", header: bearer(pc, "case-management")},
			wireRequest{name: name + " section", method: "GET", target: base + "/sections/needs", header: bearer(pc, "case-management")},
			wireRequest{name: name + " append", method: "POST", target: base + "/events", header: with(pc, ""), body: []byte(`{"type":"ConsentGiven","data":{"organisations":["family-support"]}}`)},
			wireRequest{name: name + " break-glass", method: "POST", target: base + "/break-glass", header: with(pc, ""), body: []byte(`{"justification":"imminent threat reported by staff"}`)},
			wireRequest{name: name + " erase", method: "POST", target: base + "/erase", header: with(dpo, ""), body: []byte(`{"legal_basis":"retention period over"}`)},
		)
	}
	for _, sec := range []string{"NEEDS", "..", "%2e%2e", "needs%00", "needs%20", "n%D0%B5eds", "needs/", strings.Repeat("s", 5000), "%ff", "needs;x", "*"} {
		out = append(out, wireRequest{name: fmt.Sprintf("junk section %.40q", sec), method: "GET", target: "/v1/cases/" + a + "/sections/" + sec, header: bearer(pc, "case-management")})
	}
	return out
}

// badQueries sends bad query values to every call that takes them.
func (f *malFixture) badQueries() []wireRequest {
	pc, aud := bearer(f.h.token(malPrison), "case-management"), bearer(f.h.token(malAuditor), "oversight")
	var out []wireRequest
	q := func(h http.Header, field string, target string) {
		out = append(out, wireRequest{name: "GET " + target, method: "GET", target: target, header: h, want: []int{400}, field: field})
	}
	for _, v := range []string{"0", "-1", "501", "abc", "1e2", "1.5", "%201", "1%00", "99999999999999999999", "0x10", "+1", "%EF%BC%91", "abc&limit=5"} {
		q(pc, "limit", "/v1/cases?limit="+v)
	}
	for _, v := range []string{"!!!", "AAAA", "AAAAAAAAAAE%3D", "%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F8", "%00", strings.Repeat("A", 5000), "AAAAAAAAAAAAAAAAAAAAAA"} {
		q(pc, "cursor", "/v1/cases?cursor="+v)
	}
	for _, v := range []string{"Intake", "INTAKE", "prison", "intake%00", "%D1%96ntake", "intake,closed", "intake%20"} {
		q(pc, "stage", "/v1/cases?stage="+v)
	}
	for _, v := range []string{"-1", "abc", "1.5", "9223372036854775808", "%00", "%201", "0x1", "1e2", "+1", "%EF%BC%91"} {
		q(pc, "after_version", "/v1/cases/"+f.caseA+"/events?after_version="+v)
	}
	for field, values := range map[string][]string{
		"decision": {"ALLOW", "denied", "%00", "allow,deny"}, "break_glass": {"yes", "2", "truee", "%00"},
		"from": {"2026-02-30T00:00:00Z", "2026-01-01", "now", "1700000000", "2026-01-01T00:00:00", "2026-01-01T25:00:00Z"},
		"to":   {"2026-13-01T00:00:00Z", "yesterday", "-1"}, "limit": {"0", "1001", "abc", "-5"}, "cursor": {"!!", "AAAA", "%FF%FF"},
	} {
		for _, v := range values {
			q(aud, field, "/v1/audit/records?"+field+"="+v)
		}
	}
	for _, v := range []string{"index=-1&size=1", "index=a&size=1", "index=5&size=2", "index=0&size=99999999", "", "size=1", "index=0&size=0", "index=18446744073709551616&size=1"} {
		q(aud, "*", "/v1/audit/proofs/inclusion?"+v)
	}
	for _, v := range []string{"from=2&to=1", "from=a&to=1", "from=0&to=999999999", "to=1", "from=-1&to=1"} {
		q(aud, "*", "/v1/audit/proofs/consistency?"+v)
	}
	// The audit log refuses other readers before it reads their query.
	for _, target := range []string{"/v1/audit/records?limit=abc", "/v1/audit/records", "/v1/audit/checkpoint", "/v1/audit/proofs/inclusion?index=0&size=1"} {
		out = append(out, wireRequest{name: "GET " + target + " as a caseworker", method: "GET", target: target, header: pc, want: []int{403}})
	}
	return out
}

// badHeaders sends missing, oversized, duplicate and wrong headers.
func (f *malFixture) badHeaders() []wireRequest {
	pc := f.h.token(malPrison)
	valid := []byte(`{"subject_ref":"P-HDR-1","target_group":"islamist"}`)
	read := "/v1/cases/" + f.caseA
	var out []wireRequest
	h := func(name, method, target string, header http.Header, body []byte, want int, field string) {
		out = append(out, wireRequest{name: name, method: method, target: target, header: header, body: body, want: []int{want}, field: field})
	}
	h("no Authorization", "GET", "/v1/cases", http.Header{"Liaison-Purpose": {"case-management"}}, nil, 401, "")
	h("no Authorization on a write", "POST", "/v1/cases", http.Header{"Content-Type": {"application/json"}}, valid, 401, "")
	for name, v := range map[string]string{"Bearer alone": "Bearer", "Bearer and spaces": "Bearer    ", "Basic": "Basic cGM6cGM=",
		"Token scheme": "Token " + pc, "no scheme": pc, "two tokens": "Bearer " + pc + " " + pc, "16 KiB": "Bearer " + strings.Repeat("a", 16<<10),
		"60 KiB": "Bearer " + strings.Repeat("a.", 30<<10), "non-ASCII": "Bearer \xff\xfe" + pc} {
		h("Authorization "+name, "GET", read, http.Header{"Authorization": {v}, "Liaison-Purpose": {"case-management"}}, nil, 401, "")
	}
	h("Authorization twice, garbage first", "POST", "/v1/cases", http.Header{"Authorization": {"Bearer x", "Bearer " + pc}, "Content-Type": {"application/json"}}, valid, 401, "")
	h("no purpose", "GET", read, bearer(pc, ""), nil, 400, "Liaison-Purpose")
	h("an empty purpose", "GET", read, http.Header{"Authorization": {"Bearer " + pc}, "Liaison-Purpose": {""}}, nil, 400, "Liaison-Purpose")
	for name, v := range map[string]string{"unknown": "gossip", "homoglyph": "case-managеment", "upper case": "CASE-MANAGEMENT",
		"two purposes": "case-management, research", "16 KiB": strings.Repeat("p", 16<<10), "bidi": "case-management\u202e", "non-ASCII": "case-management\xff"} {
		out = append(out, wireRequest{name: "purpose " + name, method: "GET", target: read, header: bearer(pc, v)})
	}
	out = append(out, wireRequest{name: "purpose twice, unknown first", method: "GET", target: read, header: http.Header{"Authorization": {"Bearer " + pc}, "Liaison-Purpose": {"gossip", "case-management"}}})
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "text/json", "application/jsonx", "application/json-patch+json"} {
		h("Content-Type "+ct, "POST", "/v1/cases", http.Header{"Authorization": {"Bearer " + pc}, "Content-Type": {ct}}, valid, 400, "Content-Type")
	}
	h("Content-Type twice, text first", "POST", "/v1/cases", http.Header{"Authorization": {"Bearer " + pc}, "Content-Type": {"text/plain", "application/json"}}, valid, 400, "Content-Type")
	h("a spoofed request id", "GET", "/v1/cases/"+f.noCase, http.Header{"Authorization": {"Bearer " + pc}, "Liaison-Purpose": {"case-management"}, "X-Request-Id": {"spoofed-request-id"}}, nil, 404, "")
	// Refused by net/http before the hub: no access record, not counted.
	out = append(out,
		wireRequest{name: "a 256 KiB header", method: "GET", target: "/v1/cases", header: http.Header{"Authorization": {"Bearer " + pc}, "X-Junk": {strings.Repeat("j", 256<<10)}}, want: []int{431}, beforeHub: true},
		wireRequest{name: "a bad percent-encoding in the path", method: "GET", target: "/v1/cases/%zz", header: bearer(pc, "case-management"), want: []int{400}, beforeHub: true},
	)
	return out
}

// badRoutes sends unknown methods and routes under /v1, empty bodies on
// writes and bodies on reads.
func (f *malFixture) badRoutes() []wireRequest {
	pc, aud := f.h.token(malPrison), f.h.token(malAuditor)
	a := "/v1/cases/" + f.caseA
	var out []wireRequest
	for _, path := range []string{"/v1/cases", a, a + "/events", a + "/sections/needs", "/v1/audit/records"} {
		for _, m := range []string{"PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "REPORT"} {
			out = append(out, wireRequest{name: m + " " + path, method: m, target: path, header: bearer(pc, "case-management")})
		}
	}
	for _, m := range []string{"BREW", "FOO"} {
		for _, path := range []string{"/v1/cases", a} {
			out = append(out, wireRequest{name: m + " " + path, method: m, target: path, header: bearer(pc, "case-management")})
		}
	}
	for _, path := range []string{"/v1", "/v1/", "/v1/case", a + "/sections", a + "/sections/needs/extra", a + "/evts", "/v1/admin", "/v1/audit",
		"/v1/audit/records/1", "/v1/stats", "/v1/openapi.yaml", a + "/break-glass", a + "/erase", "/v1/healthz", "/v1/metrics", "/v1/cases//events", "/v1//cases"} {
		out = append(out, wireRequest{name: "GET " + path, method: "GET", target: path, header: bearer(pc, "case-management")})
	}
	post := func(name, target string, token string, body []byte) {
		r := wireRequest{name: name, method: "POST", target: target, header: bearer(token, ""), body: body, field: "*", want: []int{400}}
		if body != nil {
			r.header.Set("Content-Type", "application/json")
		}
		out = append(out, r)
	}
	for _, target := range []string{"/v1/cases", a + "/events", a + "/break-glass", a + "/erase"} {
		token := pc
		if strings.HasSuffix(target, "erase") {
			token = f.h.token(malDPO)
		}
		post("an empty body on POST "+target, target, token, []byte{})
		post("no body on POST "+target, target, token, nil)
		post("whitespace on POST "+target, target, token, []byte(" \n\t "))
	}
	out = append(out,
		wireRequest{name: "POST on a case", method: "POST", target: a, header: http.Header{"Authorization": {"Bearer " + pc}, "Content-Type": {"application/json"}}, body: appendJSON("CaseClosed", `{"reason":"r"}`)},
		wireRequest{name: "POST on the audit log", method: "POST", target: "/v1/audit/records", header: http.Header{"Authorization": {"Bearer " + aud}, "Content-Type": {"application/json"}}, body: []byte(`{}`)},
		wireRequest{name: "GET /v1/cases with a body", method: "GET", target: "/v1/cases", header: bearer(pc, "case-management"), body: []byte(`{"limit":1}`), want: []int{200}},
		wireRequest{name: "GET events with a body", method: "GET", target: a + "/events", header: bearer(pc, "case-management"), body: appendJSON("CaseClosed", `{"reason":"r"}`), want: []int{200}},
		wireRequest{name: "GET the audit log with a body", method: "GET", target: "/v1/audit/records?limit=1", header: bearer(aud, "oversight"), body: []byte(`{"decision":"x"}`), want: []int{200}},
	)
	return out
}

// mutants returns n appends and openings mutated at random (seeded) that the
// domain's own validation refuses: the hub must refuse them all with 400.
func (f *malFixture) mutants(n int) []wireRequest {
	rng := rand.New(rand.NewPCG(8725, 4))
	dir := malDirectory()
	const structural = `{}[]:,"\ 0a-.e`
	seen := map[string]bool{}
	var out []wireRequest
	for len(out) < n {
		e := malEvents[rng.IntN(len(malEvents))]
		b := []byte(e.data)
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[i] = structural[rng.IntN(len(structural))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			case 2:
				b = slices.Insert(b, i, structural[rng.IntN(len(structural))])
			case 3:
				j := i + rng.IntN(len(b)-i)
				b = slices.Insert(b, j, b[i:j]...)
			case 4:
				b[i] = byte(rng.IntN(256))
			}
		}
		var err error
		if e.typ == "CaseOpened" {
			_, _, err = domain.ParseOpenRequest(b, dir)
		} else {
			_, err = domain.ParseAppendRequest(appendJSON(e.typ, string(b)), dir)
		}
		if err == nil || seen[string(b)] || !utf8.Valid(b) {
			continue
		}
		seen[string(b)] = true
		out = append(out, f.body(fmt.Sprintf("mutant %d of %s", len(out), e.typ), e, b, "*"))
	}
	return out
}
