package liaison_test

// The differential test's random case histories, and the shrinking of a
// disagreement to a minimal reproducer printed as a protocol scenario.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// diffEventWeights says how often each event type is attempted.
var diffEventWeights = []struct {
	typ    string
	weight int
}{
	{"ConsentGiven", 6}, {"ConsentWithdrawn", 3}, {"RiskAssessmentRecorded", 3},
	{"NeedsAssessmentRecorded", 2}, {"TreatmentPlanAdopted", 2}, {"InterventionRecorded", 2},
	{"CounsellingNoteAdded", 3}, {"CaseConferenceHeld", 2}, {"IntelligenceNoteAdded", 3},
	{"RiskDisclosureRaised", 3}, {"FamilyContactRecorded", 2}, {"TransitionPlanAgreed", 1},
	{"MentorAssigned", 1}, {"ReleaseScheduled", 1}, {"Released", 1},
	{"ProbationHandoverCompleted", 1}, {"OutcomeRecorded", 2}, {"BreakGlassInvoked", 3},
	{"CaseClosed", 1}, // closes only cases meant to end closed (see buildCase)
}

// pickType picks an event type that does not move the case past a stage.
func pickType(r *rand.Rand, last string) string {
	var types []string
	total := 0
	for _, e := range diffEventWeights {
		if s, moves := refStageOf[e.typ]; !moves || slices.Index(refStages, s) <= slices.Index(refStages, last) {
			types = append(types, e.typ)
			total += e.weight
		}
	}
	n := r.IntN(total)
	for _, e := range diffEventWeights {
		if slices.Contains(types, e.typ) {
			if n -= e.weight; n < 0 {
				return e.typ
			}
		}
	}
	panic("unreachable")
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// pickWriter returns, most of the time, an identity the model lets write the
// event (so that histories grow), and otherwise anyone (so that refusals are
// compared too).
func pickWriter(r *rand.Rand, a refAppend, h refHistory) identity {
	if allowed := allowedWriters(a, h); len(allowed) > 0 && r.IntN(10) < 7 {
		return pick(r, allowed)
	}
	return pick(r, diffIdentities)
}

// allowedWriters returns the identities the model lets make a write.
func allowedWriters(a refAppend, h refHistory) []identity {
	var allowed []identity
	for _, id := range diffIdentities {
		a.As = id
		if s := expectAppend(a, h, time.Now()); s == 200 || s == 201 {
			allowed = append(allowed, id)
		}
	}
	return allowed
}

// randomOrgs returns a non-empty random set of organisation ids, favouring
// those that need consent.
func randomOrgs(r *rand.Rand) []string {
	var out []string
	for len(out) == 0 {
		for _, id := range refOrgIDs {
			p := 10
			switch refDirectory[id] {
			case municipality, civilSociety, familySupport:
				p = 50
			}
			if r.IntN(100) < p {
				out = append(out, id)
			}
		}
	}
	return out
}

// randomLabel returns a classification and a share list as a writer gives them.
func randomLabel(r *rand.Rand) (string, []string) {
	label := ""
	if r.IntN(100) < 55 {
		label = pick(r, []string{tlpClear, tlpGreen, tlpAmber, tlpAmberStrict, tlpRed})
	}
	var share []string
	p := 15
	if label == tlpAmber || label == tlpRed || label == "" {
		p = 55
	}
	if r.IntN(100) < p {
		for _, id := range refOrgIDs {
			if r.IntN(3) == 0 {
				share = append(share, id)
			}
		}
	}
	return label, share
}

// randomData returns valid data of an event type (CONTRACT.md; examples of
// domain/events_test.go), with optional fields present or not.
func randomData(r *rand.Rand, typ string, day time.Time) map[string]any {
	m := map[string]any{}
	maybe := func(k string, v any) {
		if r.IntN(2) == 0 {
			m[k] = v
		}
	}
	switch typ {
	case "CaseOpened":
		m["subject_ref"] = fmt.Sprintf("P-2026-%04d", r.IntN(10000))
		m["target_group"] = pick(r, []string{"islamist", "right-wing", "left-wing", "other-ideology", "returnee", "vulnerable"})
		maybe("gender", pick(r, []string{"female", "male", "other", "undisclosed"}))
		maybe("facility", "JVA Nord")
		maybe("regime", pick(r, []string{"separation", "dispersion", "mixed"}))
		maybe("programme", "exit-pathway")
		maybe("sentence_end", "2027-09-30")
	case "ConsentGiven":
		m["organisations"] = randomOrgs(r)
		// Some expiries in the past, today (no longer holds), tomorrow, far ahead.
		switch r.IntN(8) {
		case 0:
			m["expires_at"] = "2020-01-31"
		case 1:
			m["expires_at"] = day.Format(time.DateOnly)
		case 2:
			m["expires_at"] = day.AddDate(0, 0, 1).Format(time.DateOnly)
		case 3:
			m["expires_at"] = "2099-12-31"
		}
		maybe("form_ref", "F-12")
	case "ConsentWithdrawn":
		if r.IntN(5) < 2 {
			m["all"] = true
		} else {
			m["organisations"] = randomOrgs(r)
		}
	case "RiskAssessmentRecorded":
		m["tool"] = "VERA-2R"
		m["assessed_at"] = "2026-02-01"
		m["overall_judgement"] = pick(r, []string{"low", "moderate", "high"})
		maybe("domains", map[string]string{"beliefs_attitudes": "high", "context_intent": "low"})
		maybe("protective_factors", []string{"family contact"})
		maybe("notes", "MARKER-RISK-NOTES")
		maybe("next_review_due", "2026-08-01")
	case "NeedsAssessmentRecorded":
		need := map[string]any{"area": pick(r, []string{"housing", "employment", "identity"}), "level": pick(r, []string{"none", "low", "moderate", "high"})}
		if r.IntN(2) == 0 {
			need["note"] = "no address after release"
		}
		m["needs"] = []any{need}
	case "TreatmentPlanAdopted":
		m["goals"] = []any{map[string]any{"stage": pick(r, []string{"basic-needs", "stabilisation", "identity", "reintegration"}),
			"description": "stable housing", "responsible": pick(r, refOrgIDs), "due": "2027-01-01"}}
	case "InterventionRecorded":
		m["practice_code"] = pick(r, []string{"01", "08", "11", "13", "99"})
		m["date"] = "2026-03-01"
		maybe("format", pick(r, []string{"individual", "group"}))
		maybe("duration_minutes", 90)
		maybe("summary", "MARKER-SESSION")
	case "CounsellingNoteAdded":
		m["date"], m["note"] = "2026-03-01", "MARKER-COUNSELLING"
	case "CaseConferenceHeld":
		m["date"], m["participants"] = "2026-03-01", randomOrgs(r)
		maybe("decisions", []string{"weekly mentoring"})
		maybe("actions", []any{map[string]any{"owner": "municipality", "description": "find a flat", "due": "2026-05-01"}})
	case "IntelligenceNoteAdded":
		m["note"] = "MARKER-INTEL"
		maybe("source_grading", "B2")
		maybe("assessed_at", "2026-03-01")
	case "RiskDisclosureRaised":
		m["concern"], m["urgency"] = "talks of travelling", pick(r, []string{"routine", "urgent", "imminent"})
	case "FamilyContactRecorded":
		m["date"] = "2026-03-01"
		maybe("contact_type", "visit")
		maybe("note", "MARKER-FAMILY")
	case "TransitionPlanAgreed":
		m["planned_release"] = "2027-09-30"
		maybe("housing", "supported flat")
		maybe("employment", "workshop")
		maybe("mentor_org", "exit-ngo")
		maybe("arrangements", []string{"weekly meeting"})
	case "MentorAssigned":
		m["mentor_org"] = "exit-ngo"
		maybe("mentor_ref", "M-12")
	case "ReleaseScheduled":
		m["release_date"] = "2027-09-30"
	case "Released":
		m["released_at"] = "2027-09-30"
	case "ProbationHandoverCompleted":
		m["date"] = "2027-10-01"
		maybe("officer_ref", "PO-7")
	case "OutcomeRecorded":
		m["follow_up_at"] = "2028-03-01"
		maybe("months_since_release", 6)
		maybe("reintegration", map[string]bool{"housing": true, "employment": false})
		maybe("recidivism", pick(r, []string{"none", "non-violent", "violent", "extremist"}))
		maybe("note", "MARKER-OUTCOME")
	case "CaseClosed":
		m["reason"] = "programme completed"
	}
	return m
}

// randomWrite returns a write attempt of an event type on a case.
func randomWrite(r *rand.Rand, typ string, h refHistory) refAppend {
	a := refAppend{Type: typ, Data: randomData(r, typ, time.Now().UTC())}
	switch typ {
	case "BreakGlassInvoked":
		a.Data, a.Text = nil, "imminent threat reported by the unit"
		if r.IntN(5) == 0 {
			a.Text = "too short" // under 20 characters: 400
		}
	case "CaseErased":
		a.Data, a.Text = nil, "retention period over"
	case "CaseOpened":
	default:
		a.Classification, a.ShareWith = randomLabel(r)
		switch r.IntN(12) {
		case 0:
			a.Expected = "fresh"
		case 1:
			a.Expected = "stale"
		}
	}
	a.As = pickWriter(r, a, h)
	return a
}

// buildCase generates one case history through the API, comparing each write.
func (d *differ) buildCase(r *rand.Rand, seed uint64, index int) (*diffCase, []disagreement, error) {
	c := &diffCase{index: index}
	var found []disagreement
	try := func(a refAppend) error {
		dis, err := d.writeAndCompare(c, a)
		if dis != nil {
			found = append(found, *dis)
		}
		return err
	}
	// Open the case, sometimes after a refused attempt by someone else.
	for c.id == "" {
		if err := try(randomWrite(r, "CaseOpened", nil)); err != nil {
			return c, found, err
		}
	}
	// Case i stops at stage (i+seed) mod 6, so that a run of six cases or more
	// reads every stage.
	last := refStages[(uint64(index)+seed)%uint64(len(refStages))]
	for range 6 + r.IntN(30) {
		if err := try(randomWrite(r, pickType(r, last), c.history)); err != nil {
			return c, found, err
		}
	}
	// Move the case to its last stage if it is not there yet (closing the cases
	// meant to end closed), by a writer allowed to.
	if st := c.history.state(); st.stage != last && !st.closed {
		var movers []string
		for typ, s := range refStageOf {
			if s == last {
				movers = append(movers, typ)
			}
		}
		slices.Sort(movers)
		a := randomWrite(r, pick(r, movers), c.history)
		if allowed := allowedWriters(a, c.history); len(allowed) > 0 {
			a.As = pick(r, allowed)
		}
		if err := try(a); err != nil {
			return c, found, err
		}
	}
	// One case in twelve is erased, by the DPO if the random writer may not.
	if (uint64(index)+seed/7)%12 == 0 {
		if err := try(randomWrite(r, "CaseErased", c.history)); err != nil {
			return c, found, err
		}
		if !c.history.state().erased {
			dpo := randomWrite(r, "CaseErased", c.history)
			dpo.As = identity{"oversight-board", []string{"dpo"}, "ov-kim"}
			if err := try(dpo); err != nil {
				return c, found, err
			}
		}
	}
	for range r.IntN(3) {
		if err := try(randomWrite(r, pickType(r, last), c.history)); err != nil {
			return c, found, err
		}
	}
	return c, found, nil
}

// scenarioEvent is a write as a scenario event; version is the case's version
// before it (for expected_version).
func (a refAppend) scenarioEvent(version int) scenarioEvent {
	data, _ := json.Marshal(a.Data)
	e := scenarioEvent{Type: a.Type, As: a.As, Data: data, Classification: a.Classification, ShareWith: a.ShareWith}
	switch a.Expected {
	case "fresh":
		e.ExpectedVersion = &version
	case "stale":
		v := version - 1
		e.ExpectedVersion = &v
	}
	return e
}

// replay builds a fresh case from writes, checking each against the model, and
// then runs the probe. It returns the writes the hub accepted, and the model's
// and the hub's answers to the probe; ok is false when a write's status
// differed from the model's (the candidate then shows another disagreement).
func (d *differ) replay(writes []refAppend, p probe) (accepted []refAppend, expected, actual refAnswer, ok bool, err error) {
	c := &diffCase{}
	for _, a := range writes {
		dis, err := d.writeAndCompare(c, a)
		if err != nil || dis != nil || c.id == "" {
			return nil, expected, actual, false, err
		}
	}
	if p.Append != nil {
		at := time.Now()
		expected = refAnswer{Status: expectAppend(*p.Append, c.history, at)}
		status, _, err := d.write(c.id, *p.Append, len(c.history))
		return c.actions, expected, refAnswer{Status: status}, err == nil, err
	}
	expected, actual = d.compareRead(c.id, c.history, p)
	return c.actions, expected, actual, actual.Status != 0, nil
}

// shrink drops writes one at a time (never the CaseOpened) while the probe
// still disagrees, replaying each candidate on a fresh case.
func (d *differ) shrink(t *testing.T, dis disagreement) disagreement {
	t.Helper()
	cur := dis
	for changed, budget := true, 300; changed && budget > 0; {
		changed = false
		for i := len(cur.before) - 1; i >= 1 && budget > 0; i-- {
			if i >= len(cur.before) {
				continue
			}
			budget--
			cand := slices.Delete(slices.Clone(cur.before), i, i+1)
			acc, exp, act, ok, err := d.replay(cand, cur.probe)
			if err != nil {
				t.Fatalf("replaying a candidate history: %v", err)
			}
			if ok && !sameAnswer(exp, act) {
				cur.before, cur.expected, cur.actual, changed = acc, exp, act, true
			}
		}
	}
	return cur
}

// report shrinks and prints the first disagreements, and fails the test.
func (d *differ) report(t *testing.T, seed uint64, found []disagreement) {
	t.Helper()
	if len(found) == 0 {
		return
	}
	t.Errorf("%d disagreements between the hub and the reference model (seed %d)", len(found), seed)
	// Shrink and show one disagreement of each kind (read or append, expected →
	// actual status), up to diffMaxShrunk, shortest history first.
	slices.SortStableFunc(found, func(a, b disagreement) int { return len(a.before) - len(b.before) })
	kindOf := func(dis disagreement) string {
		if dis.probe.Append != nil {
			return fmt.Sprintf("append %d→%d", dis.expected.Status, dis.actual.Status)
		}
		return fmt.Sprintf("read %d→%d", dis.expected.Status, dis.actual.Status)
	}
	counts := map[string]int{}
	for _, dis := range found {
		counts[kindOf(dis)]++
	}
	t.Logf("disagreements by kind (expected→actual status): %v", counts)
	seen := map[string]bool{}
	shown := 0
	for _, dis := range found {
		kind := kindOf(dis)
		if seen[kind] || shown == diffMaxShrunk {
			continue
		}
		seen[kind], shown = true, shown+1
		small := d.shrink(t, dis)
		exp, _ := json.Marshal(small.expected)
		act, _ := json.Marshal(small.actual)
		t.Errorf("disagreement (case %d of the run, %d writes shrunk to %d): %s\nexpected (model): %s\nactual (hub):     %s\nreproducer (for testdata/scenarios_liaison.json):\n%s",
			dis.c.index, len(dis.before), len(small.before), small.probe, exp, act, reproducer(seed, small))
	}
}

// reproScenario and reproCheck print a scenario in the key order of
// testdata/scenarios.json.
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
	Erase      string         `json:"erase,omitempty"`
	Expect     int            `json:"expect"`
	Items      *int           `json:"items,omitempty"`
	Types      []string       `json:"types,omitempty"`
	Redacted   any            `json:"redacted,omitempty"`
}

// reproducer prints a disagreement as a protocol scenario (testdata/SCENARIOS.md):
// the writes as events (those with their own endpoint, and everything after
// them, as checks), then the probe as a check expecting the model's answer.
func reproducer(seed uint64, dis disagreement) string {
	sc := reproScenario{Name: fmt.Sprintf("differential (seed %d): %s", seed, dis.probe)}
	for v, a := range dis.before {
		special := a.Type == "BreakGlassInvoked" || a.Type == "CaseErased"
		if !special && len(sc.Checks) == 0 {
			sc.Events = append(sc.Events, a.scenarioEvent(v))
			continue
		}
		sc.Checks = append(sc.Checks, writeCheck(a, v, statusOf(a)))
	}
	if p := dis.probe; p.Append != nil {
		sc.Checks = append(sc.Checks, writeCheck(*p.Append, len(dis.before), dis.expected.Status))
	} else {
		c := reproCheck{As: p.As, Purpose: p.Purpose, Get: p.Get, Expect: dis.expected.Status}
		if dis.expected.Status == 200 && p.Get != "case" {
			n := len(dis.expected.Items)
			c.Items = &n
			for _, it := range dis.expected.Items {
				c.Types = append(c.Types, it.Type)
			}
			if uniform := uniformRedacted(dis.expected.Items); uniform != nil {
				c.Redacted = uniform
			}
		}
		if dis.expected.Status == 200 && strings.HasPrefix(p.Get, "sections/") {
			c.BreakGlass = dis.expected.BreakGlass
		}
		sc.Checks = append(sc.Checks, c)
	}
	b, _ := json.MarshalIndent(sc, "  ", " ")
	return "  " + string(b)
}

func statusOf(a refAppend) int {
	if a.Type == "CaseErased" {
		return 200
	}
	return 201
}

// writeCheck is a write as a scenario check.
func writeCheck(a refAppend, version, status int) reproCheck {
	c := reproCheck{As: a.As, Expect: status}
	switch a.Type {
	case "BreakGlassInvoked":
		c.BreakGlass = a.Text
	case "CaseErased":
		c.Erase = a.Text
	case "CaseOpened":
		c.OpenCase = a.Data
	default:
		e := a.scenarioEvent(version)
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
// testdata/differential/ (scenario files, testdata/SCENARIOS.md).
func TestDifferentialRegressions(t *testing.T) {
	files, _ := filepath.Glob("testdata/differential/*.json")
	if len(files) == 0 {
		t.Skip("no reproducers kept under testdata/differential/")
	}
	h := startHub(t, "")
	for _, f := range files {
		for _, sc := range loadScenarios(t, f) {
			t.Run(sc.Name, func(t *testing.T) { runScenario(t, h, sc) })
		}
	}
}
