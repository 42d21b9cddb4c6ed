package liaison_test

// The differential test (TARGETS R3): random case histories, built through the
// API of a real hub, then read as every identity for every purpose — the case,
// every section, its events, and the case list — each answer compared with the
// reference model of PROTOCOL.md (refmodel_test.go, refmodel_read_test.go).
// Every write's status is compared too: those that build the histories, and a
// probe of the whole write table on every case (stale expected_version, so
// nothing is appended). A disagreement is shrunk to a minimal history and
// printed as a protocol scenario (differential_gen_test.go); the reproducers
// kept under testdata/differential/ are replayed by TestDifferentialRegressions.
//
//	LIAISON_DIFF_SEED=n   replay a run (the seed is printed)
//	LIAISON_DIFF_CASES=n  number of random cases (default diffDefaultCases)
//	LIAISON_DIFF_DUMP=f   write every disagreement (unshrunk) to f, one JSON a line
//
// The model's day is the UTC day of the run (consent expiry); a run that
// crosses midnight UTC is skipped. Break-glass grants are taken to run 60
// minutes from the moment the test sent the request, so a run longer than an
// hour may see a grant expire a second apart from the hub.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	diffDefaultCases = 12    // 1,386 reads per case
	diffMinReads     = 10000 // TARGETS R3, in CI
	diffReadWorkers  = 8
	diffBuildWorkers = 4
	diffMaxShrunk    = 4 // reproducers shrunk and printed per run
)

// diffIdentities is every organisation × its roles of PROTOCOL.md, plus a
// second prison manager and a second probation officer: break-glass is per user.
var diffIdentities = []identity{
	{"prison-service", []string{"caseworker"}, "pc-anna"},
	{"prison-service", []string{"psychologist"}, "pp-ben"},
	{"prison-service", []string{"security-officer"}, "ps-carl"},
	{"prison-service", []string{"manager"}, "pm-dora"},
	{"prison-service", []string{"manager"}, "pm-otto"},
	{"probation-service", []string{"officer"}, "po-emil"},
	{"probation-service", []string{"officer"}, "po-ida"},
	{"intelligence-service", []string{"analyst"}, "ia-fay"},
	{"municipality", []string{"coordinator"}, "mc-gus"},
	{"exit-ngo", []string{"mentor"}, "ng-hana"},
	{"family-support", []string{"counsellor"}, "fs-ivy"},
	{"oversight-board", []string{"auditor"}, "ov-jan"},
	{"oversight-board", []string{"dpo"}, "ov-kim"},
	{"research-institute", []string{"researcher"}, "rs-lea"},
}

// diffPurposes is every purpose of the protocol and one unknown purpose.
var diffPurposes = append(slices.Clone(refAllPurposes), "curiosity")

// diffEndpoints are the reads of one case: the case, every section, the events.
var diffEndpoints = append(append([]string{"case"}, prefixed("sections/", refSections)...), "events")

func prefixed(p string, s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = p + x
	}
	return out
}

// differ drives one run against one hub.
type differ struct {
	h      *hub
	tokens map[string]string // by subject, minted before any goroutine starts
	reads  atomic.Int64
	writes atomic.Int64

	mu       sync.Mutex
	coverage map[string]int // what the compared answers exercised
}

// cover counts one compared answer under the kinds of thing it exercised.
func (d *differ) cover(p probe, a refAnswer) {
	kinds := []string{fmt.Sprintf("status %d", a.Status)}
	if p.Append != nil {
		kinds = []string{fmt.Sprintf("append %d", a.Status)}
	}
	if a.BreakGlass {
		kinds = append(kinds, "200 section opened or widened by break-glass")
	}
	if a.Status == 200 && p.Append == nil && p.Get != "case" {
		if len(a.Items) == 0 {
			kinds = append(kinds, "200 with no item")
		}
		for _, it := range a.Items {
			if len(it.Redacted) > 0 {
				kinds = append(kinds, "200 with a risk summary")
				break
			}
		}
		for _, it := range a.Items {
			if it.Originator != p.As.Agency {
				kinds = append(kinds, "200 with others' items")
				break
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range kinds {
		d.coverage[k]++
	}
}

// diffCase is one generated case: the writes the hub accepted, and the model's
// history of them.
type diffCase struct {
	index   int
	id      string
	actions []refAppend // accepted writes, in order (the first opens the case)
	history refHistory
}

// probe is one comparison: a read (As, Purpose, Get) or a write (Append).
type probe struct {
	As      identity
	Purpose string
	Get     string     // "case", "events" or "sections/X"
	Append  *refAppend // a write instead of a read
}

func (p probe) String() string {
	if p.Append != nil {
		return fmt.Sprintf("append %s as %s/%s (%s)", p.Append.Type, p.As.Agency, p.As.Roles[0], p.As.Sub)
	}
	return fmt.Sprintf("GET %s as %s/%s (%s) for purpose %q", p.Get, p.As.Agency, p.As.Roles[0], p.As.Sub, p.Purpose)
}

// disagreement is one answer of the hub that the model did not predict.
type disagreement struct {
	c        *diffCase
	before   []refAppend // the accepted writes before the probe
	probe    probe
	expected refAnswer
	actual   refAnswer
}

// TestDifferential compares the hub with the reference model over random case
// histories (TARGETS R3: at least 10,000 reads in CI, 0 disagreements).
func TestDifferential(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIAISON_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LIAISON_DIFF_SEED: %v", err)
		}
		seed = n
	}
	cases := diffDefaultCases
	if s := os.Getenv("LIAISON_DIFF_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("LIAISON_DIFF_CASES: %q is not a positive number", s)
		}
		cases = n
	}
	t.Logf("differential run: seed %d, %d cases (replay with LIAISON_DIFF_SEED=%d LIAISON_DIFF_CASES=%d)", seed, cases, seed, cases)
	day := time.Now().UTC().Format(time.DateOnly)
	start := time.Now()

	d := &differ{h: startHub(t, ""), tokens: map[string]string{}, coverage: map[string]int{}}
	for _, id := range diffIdentities {
		d.tokens[id.Sub] = d.h.token(id)
	}

	// Build the cases through the API, comparing every write.
	built := make([]*diffCase, cases)
	var mu sync.Mutex
	var found []disagreement
	var failures []error
	parallel(cases, diffBuildWorkers, func(i int) {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		c, dis, err := d.buildCase(r, seed, i)
		mu.Lock()
		defer mu.Unlock()
		built[i], found = c, append(found, dis...)
		if err != nil {
			failures = append(failures, err)
		}
	})
	if len(failures) > 0 {
		t.Fatalf("building the cases: %v", failures[0])
	}
	for _, c := range built {
		st := c.history.state()
		d.coverage["case at stage "+st.stage]++
		if st.erased {
			d.coverage["case erased"]++
		}
	}
	buildTime := time.Since(start)

	// Read every case as every identity for every purpose, through every endpoint.
	var jobs []disagreement
	for _, c := range built {
		for _, id := range diffIdentities {
			jobs = append(jobs, disagreement{c: c, probe: probe{As: id, Get: "case"}}) // no purpose: 400
			for _, p := range diffPurposes {
				for _, e := range diffEndpoints {
					jobs = append(jobs, disagreement{c: c, probe: probe{As: id, Purpose: p, Get: e}})
				}
			}
		}
	}
	parallel(len(jobs), diffReadWorkers, func(i int) {
		j := jobs[i]
		j.expected, j.actual = d.compareRead(j.c.id, j.c.history, j.probe)
		mu.Lock()
		defer mu.Unlock()
		if j.actual.Status == 0 {
			failures = append(failures, fmt.Errorf("%s: no answer", j.probe))
		} else if !sameAnswer(j.expected, j.actual) {
			j.before = j.c.actions
			found = append(found, j)
		}
	})
	if len(failures) > 0 {
		t.Fatalf("reading the cases: %v", failures[0])
	}
	// Probe the whole write table on every case without changing it: every
	// identity tries every event type with a stale expected_version, which the
	// hub checks after every rule of the protocol (404, 410, 403, 409 closed)
	// and refuses with 409, appending nothing.
	var probes []disagreement
	for _, c := range built {
		r := rand.New(rand.NewPCG(seed, 1<<32+uint64(c.index)))
		for _, id := range diffIdentities {
			for _, e := range diffEventWeights {
				if e.typ == "BreakGlassInvoked" {
					continue // its own endpoint takes no expected_version
				}
				a := randomWrite(r, e.typ, c.history)
				a.As, a.Expected = id, "stale"
				probes = append(probes, disagreement{c: c, probe: probe{As: id, Append: &a}})
			}
		}
	}
	parallel(len(probes), diffReadWorkers, func(i int) {
		j := probes[i]
		want := expectAppend(*j.probe.Append, j.c.history, time.Now())
		d.cover(j.probe, refAnswer{Status: want})
		got, _, err := d.write(j.c.id, *j.probe.Append, len(j.c.history))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, err)
		} else if got != want {
			j.before, j.expected, j.actual = j.c.actions, refAnswer{Status: want}, refAnswer{Status: got}
			found = append(found, j)
		}
	})
	if len(failures) > 0 {
		t.Fatalf("probing the write table: %v", failures[0])
	}
	listed := d.compareLists(t, built)
	elapsed := time.Since(start)
	if now := time.Now().UTC().Format(time.DateOnly); now != day {
		t.Skipf("the UTC day changed during the run (%s → %s): consent expiry makes the model's day ambiguous", day, now)
	}
	t.Logf("differential run: %d cases, %d appends and %d reads compared, %d disagreements, in %s (building %s)",
		cases, d.writes.Load(), d.reads.Load(), len(found), elapsed.Round(time.Millisecond), buildTime.Round(time.Millisecond))
	var kinds []string
	for k, n := range d.coverage {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(kinds)
	t.Logf("what the model predicted: %s", strings.Join(kinds, "; "))
	for _, l := range listed {
		t.Errorf("GET /v1/cases disagrees with the model: %s", l)
	}
	if cases >= diffDefaultCases && d.reads.Load() < diffMinReads {
		t.Errorf("only %d reads compared, want at least %d", d.reads.Load(), diffMinReads)
	}
	if f := os.Getenv("LIAISON_DIFF_DUMP"); f != "" {
		dump(t, f, found)
	}
	d.report(t, seed, found)
}

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
	req, err := http.NewRequest(method, d.h.Base+path, rd)
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

// write sends one write attempt to a case (caseID "" for CaseOpened) and returns
// the status and, for a new case, its id.
func (d *differ) write(caseID string, a refAppend, version int) (int, string, error) {
	d.writes.Add(1)
	var path string
	var body any
	switch a.Type {
	case "CaseOpened":
		path, body = "/v1/cases", a.Data
	case "BreakGlassInvoked":
		path, body = "/v1/cases/"+caseID+"/break-glass", map[string]string{"justification": a.Text}
	case "CaseErased":
		path, body = "/v1/cases/"+caseID+"/erase", map[string]string{"legal_basis": a.Text}
	default:
		path, body = "/v1/cases/"+caseID+"/events", appendBody(a.scenarioEvent(version))
	}
	status, b, err := d.call("POST", path, a.As, "", body)
	if err != nil || status != 201 || a.Type != "CaseOpened" {
		return status, "", err
	}
	var out struct {
		CaseID string `json:"case_id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.CaseID == "" {
		return status, "", fmt.Errorf("opening a case: no case_id in %s", b)
	}
	return status, out.CaseID, nil
}

// writeAndCompare sends a write, compares its status with the model's and, when
// the hub accepted it, adds it to the case. It returns the disagreement, if any.
func (d *differ) writeAndCompare(c *diffCase, a refAppend) (*disagreement, error) {
	at := time.Now()
	want := expectAppend(a, c.history, at)
	d.cover(probe{As: a.As, Append: &a}, refAnswer{Status: want})
	got, id, err := d.write(c.id, a, len(c.history))
	if err != nil {
		return nil, err
	}
	var dis *disagreement
	if got != want {
		dis = &disagreement{c: c, before: slices.Clone(c.actions), probe: probe{As: a.As, Append: &a},
			expected: refAnswer{Status: want}, actual: refAnswer{Status: got}}
	}
	if got == 200 || got == 201 {
		if id != "" {
			c.id = id
		}
		c.actions = append(c.actions, a)
		c.history = append(c.history, a.accept(at))
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

// compareRead sends one read and returns the model's answer and the hub's
// (Status 0: no answer).
func (d *differ) compareRead(caseID string, h refHistory, p probe) (refAnswer, refAnswer) {
	d.reads.Add(1)
	now := time.Now()
	var expected refAnswer
	switch {
	case p.Get == "case":
		expected = expectCase(p.As, p.Purpose, h, now)
	case p.Get == "events":
		expected = expectEvents(p.As, p.Purpose, h, now)
	default:
		expected = expectSection(p.As, p.Purpose, h, p.Get[len("sections/"):], now)
	}
	d.cover(p, expected)
	path := "/v1/cases/" + caseID
	if p.Get != "case" {
		path += "/" + p.Get
	}
	status, body, err := d.call("GET", path, p.As, p.Purpose, nil)
	if err != nil {
		return expected, refAnswer{}
	}
	actual := refAnswer{Status: status}
	if status != 200 {
		return expected, actual
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
		return expected, actual
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
	return expected, actual
}

// compareLists reads GET /v1/cases as every identity for every purpose (and
// none) and compares the cases listed, each with its stage, version and
// sections, with the model: the cases whose GET /v1/cases/{id} is 200, erased
// cases never (README). Cases are compared in case id order: they were opened
// concurrently. It returns the disagreements, described.
func (d *differ) compareLists(t *testing.T, built []*diffCase) []string {
	t.Helper()
	var out []string
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
			for {
				path := "/v1/cases?limit=500"
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				st, body, err := d.call("GET", path, id, purpose, nil)
				if err != nil {
					t.Fatalf("GET /v1/cases: %v", err)
				}
				status = st
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
	return out
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
