package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

// persona is a demo user with its development token and default purpose.
type persona struct {
	sub, agency, purpose string
	roles                []string
	token                string
}

// sections are the sections of docs/protocol.md, "Sections and the events
// that feed them".
var sections = []string{"profile", "consent", "risk", "needs", "plan", "interventions", "counselling",
	"conferences", "security", "family", "transition", "outcomes"}

// fixture is a running hub with its data, personas and cases.
type fixture struct {
	bin, data string
	hub       *child
	personas  []persona
	cases     []string
	client    *http.Client
	appends   []*request // valid appends found by probing, reused as templates
}

// newFixture mints a token for every demo persona (liaison token on the data
// directory).
func newFixture(bin, data string, hub *child) (*fixture, error) {
	f := &fixture{bin: bin, data: data, hub: hub, client: &http.Client{Timeout: time.Minute, Transport: newTransport(8)}}
	for _, p := range demo.Identities() {
		pe := persona{sub: p.Identity.Subject, agency: p.Identity.Agency, roles: p.Identity.Roles, purpose: string(p.Purpose)}
		tok, err := mintToken(bin, data, pe)
		if err != nil {
			return nil, err
		}
		pe.token = tok
		f.personas = append(f.personas, pe)
	}
	return f, nil
}

func (f *fixture) persona(sub string) persona {
	for _, p := range f.personas {
		if strings.HasPrefix(p.sub, sub+"@") {
			return p
		}
	}
	panic("no demo persona " + sub)
}

// call sends one request and returns its status and body.
func (f *fixture) call(rq *request) (int, []byte, error) {
	req, err := http.NewRequest(rq.method, f.hub.Base+rq.path, nil)
	if rq.body != nil {
		req, err = http.NewRequest(rq.method, f.hub.Base+rq.path, strings.NewReader(string(rq.body)))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+rq.token)
	if rq.purpose != "" {
		req.Header.Set("Liaison-Purpose", rq.purpose)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func sectionRead(p persona, caseID, section string) *request {
	return &request{kind: "section", method: http.MethodGet, path: "/v1/cases/" + caseID + "/sections/" + section, token: p.token, purpose: p.purpose}
}

// listCases pages through GET /v1/cases as p and returns up to max case ids.
func (f *fixture) listCases(p persona, max int) ([]string, error) {
	var ids []string
	cursor := ""
	for len(ids) < max {
		path := "/v1/cases?limit=500"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, b, err := f.call(&request{method: http.MethodGet, path: path, token: p.token, purpose: p.purpose})
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("listing cases: %d %v %s", code, err, b)
		}
		var page struct {
			Items []struct {
				CaseID string `json:"case_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			ids = append(ids, it.CaseID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	return ids[:min(len(ids), max)], nil
}

// answer is a section read the hub allowed, with the body it answered.
type answer struct {
	rq   *request
	body []byte
}

// typicalRead picks P3's single read: as the prison caseworker, the allowed
// section read with items whose answer has the median size among a sample.
func (f *fixture) typicalRead() (answer, error) {
	p := f.persona("anna")
	var got []answer
	for _, id := range f.cases[:min(len(f.cases), 40)] {
		for _, sec := range []string{"interventions", "needs", "risk", "plan", "conferences", "family"} {
			rq := sectionRead(p, id, sec)
			code, b, err := f.call(rq)
			if err != nil {
				return answer{}, err
			}
			if code == http.StatusOK && !strings.Contains(string(b), `"items":[]`) {
				got = append(got, answer{rq, b})
			}
		}
	}
	if len(got) == 0 {
		return answer{}, fmt.Errorf("no allowed section read found")
	}
	sort.Slice(got, func(i, j int) bool { return len(got[i].body) < len(got[j].body) })
	return got[len(got)/2], nil
}

// allowedReads samples n random (persona, case, section) reads and returns the
// ones the hub allowed, with their answers: the many-identities variant of P3.
func (f *fixture) allowedReads(r *rand.Rand, n int) ([]answer, error) {
	var out []answer
	for range n {
		rq := sectionRead(f.personas[r.IntN(len(f.personas))], f.cases[r.IntN(len(f.cases))], sections[r.IntN(len(sections))])
		code, b, err := f.call(rq)
		if err != nil {
			return nil, err
		}
		if code == http.StatusOK {
			out = append(out, answer{rq, b})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of %d sampled reads was allowed", n)
	}
	return out, nil
}

// writers are the appends of the mix: who writes which type, each within the
// writer's remit (docs/protocol.md, "Write access"; the mix is docs/targets.md,
// "How targets are measured").
var writers = []struct {
	sub string
	typ domain.EventType
}{
	{"anna", domain.InterventionRecorded},  // prison caseworker
	{"clara", domain.CounsellingNoteAdded}, // prison psychologist
	{"greta", domain.CounsellingNoteAdded}, // probation officer
	{"leon", domain.InterventionRecorded},  // exit worker, with consent
	{"mira", domain.CounsellingNoteAdded},  // exit worker, with consent
	{"nora", domain.CounsellingNoteAdded},  // family support, with consent
}

// probeAppends finds, for every writer, up to per cases on which its append
// is accepted (by appending once: 201), and keeps those appends for the mix.
func (f *fixture) probeAppends(r *rand.Rand, per int) error {
	templates := map[domain.EventType][]json.RawMessage{}
	for _, c := range demo.Generate(7, 60) {
		for _, s := range c.Steps {
			if s.Type == domain.InterventionRecorded || s.Type == domain.CounsellingNoteAdded {
				templates[s.Type] = append(templates[s.Type], s.Data)
			}
		}
	}
	for _, w := range writers {
		p := f.persona(w.sub)
		found := 0
		for try := 0; try < 8*per && found < per; try++ {
			body, _ := json.Marshal(map[string]any{"type": w.typ, "data": templates[w.typ][r.IntN(len(templates[w.typ]))]})
			rq := &request{kind: "append", method: http.MethodPost, path: "/v1/cases/" + f.cases[r.IntN(len(f.cases))] + "/events",
				token: p.token, body: body}
			code, b, err := f.call(rq)
			if err != nil {
				return err
			}
			switch code {
			case http.StatusCreated:
				f.appends = append(f.appends, rq)
				found++
			case http.StatusForbidden, http.StatusNotFound, http.StatusConflict:
			default:
				return fmt.Errorf("probing appends as %s: %d %s", p.sub, code, b)
			}
		}
	}
	if len(f.appends) == 0 {
		return fmt.Errorf("no append accepted")
	}
	return nil
}

// mix is the realistic mix: mostly section reads by every persona over every
// case (refusals included), some case reads, some list calls, some appends.
func (f *fixture) mix() picker {
	return func(r *rand.Rand) *request {
		p := f.personas[r.IntN(len(f.personas))]
		c := f.cases[r.IntN(len(f.cases))]
		switch x := r.IntN(100); {
		case x < 80:
			return sectionRead(p, c, sections[r.IntN(len(sections))])
		case x < 88:
			return &request{kind: "case", method: http.MethodGet, path: "/v1/cases/" + c, token: p.token, purpose: p.purpose}
		case x < 92:
			return &request{kind: "list", method: http.MethodGet, path: "/v1/cases?limit=50", token: p.token, purpose: p.purpose}
		default:
			return f.appends[r.IntN(len(f.appends))]
		}
	}
}

// expected reports whether status is a correct answer for a call of kind:
// 2xx always; 403 and 404 for reads (the protocol refusing).
func expected(kind string, status int) bool {
	if status >= 200 && status < 300 {
		return true
	}
	return kind != "append" && (status == http.StatusForbidden || status == http.StatusNotFound)
}

// failures counts the answers of st that are not expected, and transport errors.
func failures(st *stats) (int, string) {
	n := 0
	var what []string
	for k, ks := range st.kinds {
		n += ks.errs
		for code, c := range ks.status {
			if !expected(k, code) {
				n += c
				what = append(what, fmt.Sprintf("%s %d×%d", k, code, c))
			}
		}
		if ks.errs > 0 {
			what = append(what, fmt.Sprintf("%s transport×%d", k, ks.errs))
		}
	}
	slices.Sort(what)
	return n, strings.Join(what, ", ")
}

// warm sends reads for d so that connections, caches and the policy's
// decision cache are warm before a measurement.
func warm(ctx context.Context, base string, next picker, d time.Duration) {
	closedLoop(ctx, base, 16, d, next)
}
