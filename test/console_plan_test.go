package liaison_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/liaison-hub/liaison/domain"
)

// The console for the practice as issue 18 describes it: the case page shows
// the linked plan — its goals by level of the hierarchy of needs, each with
// the needs it answers, its responsible organisation and its progress — and
// the statistics page shows the cohort chart with its table and its CSV,
// small cells suppressed. What the browser shows is compared with what the
// API answers the same reader.

func TestConsolePlanAndCohorts(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	h := startHub(t, "", "--demo", "--demo-cases", "150")
	h.waitDemo()
	en := englishCatalogue(t)
	b := newBrowser(t, exe)

	t.Run("a caseworker reads the plan: goals by level, the needs they answer, who is responsible, how far they got", func(t *testing.T) {
		p := pickPlanCase(t, h)
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, anna)
		tab.openCaseByID(h.Base, p.caseID)
		tab.do(chromedp.WaitVisible(chromedp.CSS(`#plan-overview`)))
		levels := tab.rows(`#plan-overview .plan-level`)
		if len(levels) != 4 {
			t.Fatalf("the plan shows %d levels, want the four of the hierarchy of needs:\n%s", len(levels), tab.text("#section-plan"))
		}
		if got := tab.count(`#plan-overview > section.plan-level li.goal`); got != len(p.goals) {
			t.Errorf("the plan shows %d goals, the latest plan the caseworker reads has %d", got, len(p.goals))
		}
		for _, g := range p.goals {
			sel := fmt.Sprintf(`#plan-overview section.plan-level[data-level=%q] li.goal[data-goal=%q]`, g.Stage, g.ID)
			if tab.count(sel) != 1 {
				t.Errorf("goal %s is not under its level %s:\n%s", g.ID, g.Stage, tab.text("#plan-overview"))
				continue
			}
			text := tab.text(sel)
			want := []string{g.Description, en["org."+g.Responsible]}
			for _, n := range g.Needs {
				want = append(want, en["enum.needs."+n])
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("goal %s does not show %q:\n%s", g.ID, w, text)
				}
			}
			if got := tab.attr(sel, "data-status"); got != g.status {
				t.Errorf("goal %s shows status %q, its plan and updates say %q", g.ID, got, g.status)
			}
			if g.status != "dropped" {
				if got := tab.text(sel + ` .goal-steps li[aria-current="step"]`); got != en["enum.status."+g.status] {
					t.Errorf("goal %s's current step is %q, want %q", g.ID, got, en["enum.status."+g.status])
				}
			}
			if got := tab.count(sel + ` ol.goal-events > li`); got != 1+g.updates {
				t.Errorf("goal %s's history has %d entries, want its plan and %d updates", g.ID, got, g.updates)
			}
			if links := tab.count(sel + ` button.need-link`); links != len(g.Needs) {
				t.Errorf("goal %s links %d needs, it answers %d", g.ID, links, len(g.Needs))
			}
		}
		moved := p.moved
		tab.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.goal[data-goal=%q] details.goal-history summary`, moved.ID))))
		events := tab.rows(fmt.Sprintf(`li.goal[data-goal=%q] ol.goal-events > li`, moved.ID))
		if last := events[len(events)-1]; !strings.Contains(last, en["enum.status."+moved.lastUpdate]) {
			t.Errorf("goal %s's last history entry %q does not say %q", moved.ID, last, en["enum.status."+moved.lastUpdate])
		}
		summary := tab.text(`#plan-overview .plan-progress`)
		if !strings.Contains(summary, fmt.Sprintf("%d goals", len(p.goals))) {
			t.Errorf("the plan's summary does not count its %d goals:\n%s", len(p.goals), summary)
		}
		if got := tab.attr(`#plan-overview progress`, "value"); got != strconv.Itoa(p.achieved) {
			t.Errorf("the progress bar says %s achieved, want %d", got, p.achieved)
		}
		// A linked need leads to the needs section, which shows its level.
		need := fmt.Sprintf(`li.goal[data-goal=%q] button.need-link`, moved.ID)
		if len(moved.Needs) > 0 {
			if got := tab.text(need + ` + .need-level`); !strings.Contains(got, "assessed") {
				t.Errorf("the need %s of goal %s does not show its assessed level: %q", moved.Needs[0], moved.ID, got)
			}
			tab.do(chromedp.Click(chromedp.CSS(need)))
			if got := tab.eval(`document.activeElement.id`); got != "h-needs" {
				t.Errorf("the need's link moved the focus to %q, want the needs section", got)
			}
		}
		tab.axe("case: the plan at a glance")
	})

	t.Run("a researcher reads the cohort chart, its table and its CSV, small cells suppressed", func(t *testing.T) {
		researcher := identity{Agency: "research-institute", Roles: []string{"researcher"}, Sub: "probe@research-institute"}
		// The table to show: the first with a count shown (the demo's few
		// released cases suppress most cells).
		var all cohortAnswer
		if r := h.do(http.MethodGet, "/v1/stats/cohorts", &researcher, "research", nil); r.Status != http.StatusOK || json.Unmarshal(r.Body, &all) != nil {
			t.Fatalf("GET /v1/stats/cohorts: %d %s", r.Status, r.Body)
		}
		var want *cohortTable
		for i, tb := range all.Tables {
			if tb.Dimension != "practice" && slices.ContainsFunc(tb.Rows, func(r cohortRow) bool { return !r.Suppressed }) &&
				slices.ContainsFunc(tb.Rows, func(r cohortRow) bool { return r.Suppressed }) {
				want = &all.Tables[i]
				break
			}
		}
		if want == nil {
			t.Fatalf("no cohort table of the demo shows both a count and a suppressed row (%d tables)", len(all.Tables))
		}
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, quentin)
		tab.do(chromedp.WaitVisible(chromedp.CSS(`#cohort-chart svg.chart`)),
			chromedp.SetValue(chromedp.CSS(`#cohorts select[name="dimension"]`), want.Dimension),
			chromedp.SetValue(chromedp.CSS(`#cohorts select[name="horizon"]`), strconv.Itoa(want.Horizon)),
			chromedp.SetValue(chromedp.CSS(`#cohorts select[name="outcome"]`), want.Outcome),
			chromedp.Click(chromedp.CSS(`#cohort-show`)))
		title := fmt.Sprintf("%d months after release", want.Horizon)
		tab.waitText(`#cohort-chart figcaption`, title)
		if got := tab.count(`#cohort-chart svg.chart .bar-row`); got != len(want.Rows) {
			t.Errorf("the chart has %d bars, the table %d rows", got, len(want.Rows))
		}
		if tab.count(`#cohort-chart svg.chart .axis-title`) != 1 || tab.count(`#cohort-chart svg.chart text.axis`) < 2 {
			t.Error("the chart has no value axis with its title and ticks")
		}
		if got := tab.attr(`#cohort-chart svg.chart`, "role"); got != "img" {
			t.Errorf("the chart's role is %q, want img with the table as its alternative", got)
		}
		rows := tab.rows(`#cohort-chart table.stats tbody tr`)
		if len(rows) != len(want.Rows) {
			t.Fatalf("the chart's table has %d rows, the hub's %d", len(rows), len(want.Rows))
		}
		for i, r := range want.Rows {
			cells := strings.Split(rows[i], "\t")
			if len(cells) != 2+len(want.Columns) {
				t.Fatalf("table row %q has %d cells, want %d", rows[i], len(cells), 2+len(want.Columns))
			}
			for j, c := range append([]cohortCell{{Cases: r.Cases, Suppressed: r.Suppressed}}, r.Cells...) {
				got := strings.TrimSpace(cells[1+j])
				if c.Suppressed || r.Suppressed {
					if !strings.Contains(got, "suppressed (< 5 cases)") {
						t.Errorf("row %s, cell %d: %q, the hub suppressed it", r.Key, j, got)
					}
				} else if got != strconv.Itoa(*c.Cases) {
					t.Errorf("row %s, cell %d: %q, the hub says %d", r.Key, j, got, *c.Cases)
				}
			}
		}
		if values := tab.rows(`#cohort-chart svg.chart .bar-value`); slices.Contains(values, "0") {
			t.Errorf("the chart shows a count as 0: %q", values)
		}
		// The table, shown at a click, and the page as a whole pass axe-core.
		tab.do(chromedp.Click(chromedp.CSS(`#cohort-chart .chart-toggle`)))
		if got := tab.attr(`#cohort-chart .chart-toggle`, "aria-expanded"); got != "true" {
			t.Errorf("the table toggle says aria-expanded %q after a click", got)
		}
		tab.axe("statistics: cohorts")

		csvRows := tab.download(`#export-cohort`)
		header := []string{"dimension", "horizon_months", "outcome", "row", "row_name", "row_cases", "column", "cases"}
		if !slices.Equal(csvRows[0], header) || len(csvRows) != 1+len(want.Rows)*len(want.Columns) {
			t.Fatalf("the cohort CSV is %q", csvRows)
		}
		n := 1
		for _, r := range want.Rows {
			for j, c := range r.Cells {
				line := csvRows[n]
				n++
				wantCases, wantRow := "suppressed", "suppressed"
				if !c.Suppressed {
					wantCases = strconv.Itoa(*c.Cases)
				}
				if !r.Suppressed {
					wantRow = strconv.Itoa(*r.Cases)
				}
				if line[0] != want.Dimension || line[1] != strconv.Itoa(want.Horizon) || line[2] != want.Outcome || line[3] != r.Key ||
					line[5] != wantRow || line[6] != want.Columns[j] || line[7] != wantCases {
					t.Errorf("CSV line %q, the hub says row %s (%s) column %s: %s", line, r.Key, wantRow, want.Columns[j], wantCases)
				}
			}
		}
		every := tab.download(`#export-cohorts`)
		cells := 0
		for _, tb := range all.Tables {
			cells += len(tb.Rows) * len(tb.Columns)
		}
		if len(every) != 1+cells {
			t.Errorf("the CSV of all cohort tables has %d lines, want %d", len(every), 1+cells)
		}
		for _, line := range every[1:] {
			if line[7] == "0" || line[5] == "0" {
				t.Errorf("a cohort cell is exported as 0: %q", line)
			}
		}
	})
	t.Run("the console builds a form, with a control for every field, for each type the events endpoint appends", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, anna)
		var forms map[string][]string // type → the fields the form has no control for
		out := tab.evalAwait(formsProbe)
		if err := json.Unmarshal([]byte(out), &forms); err != nil {
			t.Fatalf("the probe answered %q: %v", out, err)
		}
		for _, typ := range domain.EventTypes {
			missing, ok := forms[string(typ)]
			switch {
			case domain.OwnEndpoint(typ) != "" && ok:
				t.Errorf("%s has an endpoint of its own (%s), yet the console offers it a form", typ, domain.OwnEndpoint(typ))
			case domain.OwnEndpoint(typ) == "" && !ok:
				t.Errorf("the console builds no form for %s", typ)
			case len(missing) > 0:
				t.Errorf("the %s form has no control for %v", typ, missing)
			}
		}
		if len(forms) == 0 {
			t.Fatal("the console built no form")
		}
	})
	t.Logf("TestConsolePlanAndCohorts took %v", time.Since(start).Round(time.Millisecond))
}

// formsProbe builds, in the signed-in page, the form of every type that
// AppendRequest maps (the hub's OpenAPI document) with the console's own
// modules (write.js, schemaform.js), and answers, per type, the data
// fields its form has no control for.
const formsProbe = `(async () => {
  const base = document.querySelector('script[type=module]').src;
  const api = await import(new URL('api.js', base));
  const write = await import(new URL('write.js', base));
  const sf = await import(new URL('schemaform.js', base));
  const doc = await api.openapi();
  const who = await api.me();
  const resolve = sf.resolver(doc);
  const out = {};
  for (const type of Object.keys(doc.components.schemas.AppendRequest.discriminator.mapping)) {
    const schema = resolve(write.dataSchemaOf(doc, type));
    const form = sf.schemaForm(schema, { resolve, orgs: who.organisations || [] });
    const none = form.lookup('zz_no_such_field');
    out[type] = Object.keys(schema.properties || {}).filter((p) => form.lookup(p) === none);
  }
  return JSON.stringify(out);
})()`

// cohortAnswer is GET /v1/stats/cohorts.
type cohortAnswer struct {
	Tables []cohortTable `json:"tables"`
}

type cohortTable struct {
	Dimension string      `json:"dimension"`
	Horizon   int         `json:"horizon"`
	Outcome   string      `json:"outcome"`
	Columns   []string    `json:"columns"`
	Rows      []cohortRow `json:"rows"`
}

type cohortRow struct {
	Key        string       `json:"key"`
	Cases      *int         `json:"cases"`
	Suppressed bool         `json:"suppressed"`
	Cells      []cohortCell `json:"cells"`
}

type cohortCell struct {
	Cases      *int `json:"cases"`
	Suppressed bool `json:"suppressed"`
}

// planGoal is a goal of the latest plan as the API gives it, with what its
// updates made of it.
type planGoal struct {
	ID          string   `json:"id"`
	Stage       string   `json:"stage"`
	Description string   `json:"description"`
	Responsible string   `json:"responsible"`
	Needs       []string `json:"needs"`
	Status      string   `json:"status"`
	status      string   // now: the plan's, then as updates moved it
	updates     int
	lastUpdate  string
}

// planCase is a case whose plan a prison caseworker reads, with a goal that
// answers needs and was moved.
type planCase struct {
	caseID   string
	goals    []*planGoal
	moved    *planGoal
	achieved int
}

// pickPlanCase finds, through the API, a case whose plan the prison
// caseworker reads in full: one adopted plan whose goals all have ids, and
// a goal answering needs that updates moved.
func pickPlanCase(t *testing.T, h *hub) planCase {
	t.Helper()
	var list struct {
		Items []struct {
			ID string `json:"case_id"`
		} `json:"items"`
	}
	json.Unmarshal(h.do(http.MethodGet, "/v1/cases?limit=200", &caseworker, "case-management", nil).Body, &list)
	for _, c := range list.Items {
		var sec struct {
			Items []struct {
				Type    string          `json:"type"`
				Version int             `json:"version"`
				Data    json.RawMessage `json:"data"`
			} `json:"items"`
		}
		if r := h.do(http.MethodGet, "/v1/cases/"+c.ID+"/sections/plan", &caseworker, "case-management", nil); r.Status != http.StatusOK || json.Unmarshal(r.Body, &sec) != nil {
			continue
		}
		sort.Slice(sec.Items, func(i, j int) bool { return sec.Items[i].Version < sec.Items[j].Version })
		var p planCase
		byID := map[string]*planGoal{}
		plans := 0
		for _, it := range sec.Items {
			switch it.Type {
			case "TreatmentPlanAdopted":
				plans++
				var d struct {
					Goals []*planGoal `json:"goals"`
				}
				json.Unmarshal(it.Data, &d)
				p.goals = d.Goals
				for _, g := range d.Goals {
					g.status = g.Status
					if g.status == "" {
						g.status = "planned"
					}
					byID[g.ID] = g
				}
			case "GoalUpdated":
				var d struct {
					GoalID string `json:"goal_id"`
					Status string `json:"status"`
				}
				json.Unmarshal(it.Data, &d)
				if g := byID[d.GoalID]; g != nil {
					g.status, g.lastUpdate = d.Status, d.Status
					g.updates++
				}
			}
		}
		if plans != 1 || slices.ContainsFunc(p.goals, func(g *planGoal) bool { return g.ID == "" }) {
			continue
		}
		for _, g := range p.goals {
			if g.status == "achieved" {
				p.achieved++
			}
			if p.moved == nil && g.updates > 0 && len(g.Needs) > 0 {
				p.moved = g
			}
		}
		if p.moved != nil {
			p.caseID = c.ID
			return p
		}
	}
	t.Fatalf("no demo case has a plan with a goal that answers needs and moved (%d cases)", len(list.Items))
	return planCase{}
}

// evalAwait evaluates an expression that returns a promise of a string.
func (tb *tab) evalAwait(expr string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating: %v\npage: %s", err, tb.pageText())
	}
	return s
}

// englishCatalogue is the console's English text, by key.
func englishCatalogue(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../web/static/ui/i18n/en.json")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
