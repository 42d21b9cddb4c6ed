package liaison_test

// The differential test's side of the wire: requests to the hub, each answer
// read into what the model predicts, and the comparisons.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dump writes every disagreement, one JSON object a line, for analysis.
func dump(t *testing.T, file string, found []disagreement) {
	t.Helper()
	var b bytes.Buffer
	for _, dis := range found {
		line, _ := json.Marshal(map[string]any{"case": dis.c.index, "probe": dis.probe.String(),
			"consent": dis.c.history.state().consent, "stage": dis.c.history.state().stage,
			"erased": dis.c.history.state().erased, "expected": dis.expected, "actual": dis.actual})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Errorf("LIAISON_DIFF_DUMP: %v", err)
	}
}

// parallel runs f(0..n-1) on a number of workers.
func parallel(n, workers int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// call sends one request without touching testing.T (it runs on workers).
func (d *differ) call(method, path string, id identity, purpose string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+d.tokens[id.Sub])
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// writeAnswer is what the model reads of a write's answer.
type writeAnswer struct {
	CaseID    string `json:"case_id"`
	Version   int    `json:"version"`
	RequestID string `json:"request_id"`
}

// unknownRequestID is an erasure request id the hub never made.
const unknownRequestID = "6f1c2a9e-3b1d-4c8e-9f2a-1b2c3d4e5f60"

// send sends one write attempt to a case (caseID "" for CaseOpened) whose
// history is h, and returns the status, the answer, and the write as sent:
// with the writer's view version, from which a given expected_version is
// computed (issue 13 N). A confirmation or a cancellation names the case's
// latest erasure request (or, without one, an id the hub never made).
func (d *differ) send(caseID string, a refAppend, h refHistory, now time.Time) (int, writeAnswer, refAppend, error) {
	d.writes.Add(1)
	a.ViewVersion = writerVersion(a.As, h, now)
	var path string
	var body any
	switch a.Type {
	case "CaseOpened":
		path, body = "/v1/cases", a.Data
	case "BreakGlassInvoked":
		path, body = "/v1/cases/"+caseID+"/break-glass", map[string]string{"justification": a.Text}
	case "ErasureRequested":
		path, body = "/v1/cases/"+caseID+"/erase", erasureBody(a)
	case "CaseErased", "ErasureCancelled":
		request := unknownRequestID
		if r := a.requestOf(h.state()); r != nil {
			request = r.id
		}
		path, body = "/v1/erasures/"+request+"/confirm", map[string]string{} // no field
		if a.Type == "ErasureCancelled" {
			path = "/v1/erasures/" + request + "/cancel"
		}
	default:
		path, body = "/v1/cases/"+caseID+"/events", appendBody(a.scenarioEvent())
	}
	status, b, err := d.call("POST", path, a.As, "", body)
	var ans writeAnswer
	if err != nil || status/100 != 2 {
		return status, ans, a, err
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return status, ans, a, fmt.Errorf("%s: the answer is not JSON: %s", path, b)
	}
	if a.Type == "CaseOpened" && ans.CaseID == "" {
		return status, ans, a, fmt.Errorf("opening a case: no case_id in %s", b)
	}
	return status, ans, a, nil
}

// erasureBody is the body of an erasure request.
func erasureBody(a refAppend) map[string]string {
	body := map[string]string{"legal_basis": a.LegalBasis}
	if a.Reference != "" {
		body["reference"] = a.Reference
	}
	return body
}

// answersVersion says whether a write's answer carries the case's version:
// a new case and an append (not break-glass, not the erasure steps).
func answersVersion(typ string) bool {
	switch typ {
	case "BreakGlassInvoked", "ErasureRequested", "CaseErased", "ErasureCancelled":
		return false
	}
	return true
}

// writeAndCompare sends a write, compares its status (and an append's
// version: the writer's view version after it, issue 13 N) with the model's
// and, when the hub accepted it, adds it to the case. It returns the
// disagreement, if any.
func (d *differ) writeAndCompare(c *diffCase, a refAppend) (*disagreement, error) {
	at := time.Now()
	want := refAnswer{Status: expectAppend(a, c.history, at)}
	if want.Status == 201 && answersVersion(a.Type) {
		want.Version = writerVersion(a.As, append(slices.Clip(c.history), a.accept(c.history, at, "")), at)
	}
	d.cover(probe{As: a.As, Append: &a}, want, c.history)
	got, ans, sent, err := d.send(c.id, a, c.history, at)
	if err != nil {
		return nil, err
	}
	actual := refAnswer{Status: got}
	if got == 201 && answersVersion(a.Type) {
		actual.Version = ans.Version
	}
	var dis *disagreement
	if !sameAnswer(want, actual) {
		dis = &disagreement{c: c, before: slices.Clone(c.actions), probe: probe{As: a.As, Append: &sent},
			expected: want, actual: actual}
	}
	if got/100 == 2 {
		if a.Type == "CaseOpened" {
			c.id = ans.CaseID
		}
		if a.Type == "RiskDisclosureRaised" && len(a.ShareWith) == 0 {
			if a.Classification == "" {
				d.count("disclosure with the default share list")
			} else {
				d.count("disclosure labelled without names: no default share list")
			}
		}
		c.actions = append(c.actions, sent)
		c.history = append(c.history, sent.accept(c.history, at, ans.RequestID))
	}
	return dis, nil
}

// hubItem is an item of the hub's answer, as far as the model predicts it.
type hubItem struct {
	Version        int      `json:"version"`
	Type           string   `json:"type"`
	Originator     string   `json:"originator"`
	Author         *string  `json:"author"`
	Classification string   `json:"classification"`
	ShareWith      []string `json:"share_with"`
	Redacted       []string `json:"redacted"`
}

// compareRead sends one read and returns the model's answer, the hub's (Status
// 0: no answer), and the hub's as it came.
func (d *differ) compareRead(caseID string, h refHistory, p probe) (refAnswer, refAnswer, rawAnswer) {
	d.reads.Add(1)
	now := time.Now()
	var expected refAnswer
	switch {
	case p.Get == "case":
		expected = expectCase(p.As, p.Purpose, h, now)
	case p.Get == "events":
		expected = expectEvents(p.As, p.Purpose, h, 0, now)
	case strings.HasPrefix(p.Get, "events?after_version="):
		after, _ := strconv.Atoi(strings.TrimPrefix(p.Get, "events?after_version="))
		expected = expectEvents(p.As, p.Purpose, h, after, now)
	default:
		expected = expectSection(p.As, p.Purpose, h, p.Get[len("sections/"):], now)
	}
	d.cover(p, expected, h)
	path := "/v1/cases/" + caseID
	if p.Get != "case" {
		path += "/" + p.Get
	}
	status, body, err := d.call("GET", path, p.As, p.Purpose, nil)
	if err != nil {
		return expected, refAnswer{}, rawAnswer{}
	}
	raw := rawAnswer{Status: status, Body: body}
	actual := refAnswer{Status: status}
	if status != 200 {
		return expected, actual, raw
	}
	var ans struct {
		Stage      string    `json:"stage"`
		Version    int       `json:"version"`
		Sections   []string  `json:"sections"`
		Items      []hubItem `json:"items"`
		BreakGlass bool      `json:"break_glass"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		actual.Stage = "unreadable answer: " + err.Error()
		return expected, actual, raw
	}
	actual.Stage, actual.Version, actual.BreakGlass = ans.Stage, ans.Version, ans.BreakGlass
	if p.Get == "case" {
		actual.Sections = ans.Sections
		if actual.Sections == nil {
			actual.Sections = []string{"<missing>"}
		}
	}
	for _, it := range ans.Items {
		redacted := it.Redacted
		if redacted == nil {
			redacted = []string{"<missing>"}
		}
		actual.Items = append(actual.Items, refItem{Version: it.Version, Type: it.Type, Originator: it.Originator,
			TLP: it.Classification, ShareWith: sortedCopy(it.ShareWith), Redacted: sortedCopy(redacted), AuthorNull: it.Author == nil})
	}
	return expected, actual, raw
}

// compareLists reads GET /v1/cases as every identity for every purpose (and
// none) and compares the cases listed, each with its stage, version and
// sections, with the model: the cases whose GET /v1/cases/{id} is 200, erased
// cases never (README). Cases are compared in case id order: they were opened
// concurrently. It returns the disagreements, described, and the answers (the
// pages' bodies, joined) by identity and purpose.
func (d *differ) compareLists(t *testing.T, built []*diffCase) ([]string, map[string]rawAnswer) {
	t.Helper()
	var out []string
	bodies := map[string]rawAnswer{}
	for _, id := range diffIdentities {
		for _, purpose := range append(slices.Clone(diffPurposes), "") {
			d.reads.Add(1)
			now := time.Now()
			want := map[string]string{}
			wantStatus := listGate(id, purpose)
			for _, c := range built {
				if wantStatus != 0 {
					break
				}
				if a := expectCase(id, purpose, c.history, now); a.Status == 200 {
					want[c.id] = fmt.Sprintf("case %d: %s v%d %v", c.index, a.Stage, a.Version, a.Sections)
				}
			}
			got := map[string]string{}
			status, cursor := 0, ""
			var all []byte
			for {
				path := "/v1/cases?limit=500"
				if cursor != "" {
					path += "&cursor=" + url.QueryEscape(cursor) // opaque (issue 13 N)
				}
				st, body, err := d.call("GET", path, id, purpose, nil)
				if err != nil {
					t.Fatalf("GET /v1/cases: %v", err)
				}
				status, all = st, append(append(all, body...), '\n')
				var page struct {
					Items []struct {
						CaseID   string   `json:"case_id"`
						Stage    string   `json:"stage"`
						Version  int      `json:"version"`
						Sections []string `json:"sections"`
					} `json:"items"`
					NextCursor *string `json:"next_cursor"`
				}
				if st != 200 || json.Unmarshal(body, &page) != nil {
					break
				}
				for _, it := range page.Items {
					index := slices.IndexFunc(built, func(c *diffCase) bool { return c.id == it.CaseID })
					got[it.CaseID] = fmt.Sprintf("case %d: %s v%d %v", index, it.Stage, it.Version, it.Sections)
				}
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
			}
			bodies[id.Sub+"|"+purpose] = rawAnswer{Status: status, Body: all}
			who := fmt.Sprintf("as %s/%s (%s) for purpose %q", id.Agency, id.Roles[0], id.Sub, purpose)
			if wantStatus == 0 {
				wantStatus = 200
			}
			if status != wantStatus {
				out = append(out, fmt.Sprintf("%s: status %d, want %d", who, status, wantStatus))
				continue
			}
			for caseID, w := range want {
				if got[caseID] != w {
					out = append(out, fmt.Sprintf("%s: listed %q, want %q", who, got[caseID], w))
				}
			}
			for caseID, g := range got {
				if _, ok := want[caseID]; !ok {
					out = append(out, fmt.Sprintf("%s: listed %q, want it not listed", who, g))
				}
			}
		}
	}
	return out, bodies
}

// sameAnswer compares the predicted parts of two answers.
func sameAnswer(a, b refAnswer) bool {
	norm := func(x refAnswer) refAnswer {
		if len(x.Items) == 0 {
			x.Items = nil
		}
		return x
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
