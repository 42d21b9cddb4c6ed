package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// story feeds one case's coded facts to the statistics, as the projector
// would: its events' data in order.
func story(s *Stats, id string, data ...domain.Data) {
	c := &domain.Case{ID: id, Stage: domain.StageIntake}
	for _, d := range data {
		s.apply(id, c, d)
	}
}

func yes(b bool) *bool { return &b }

func months(n int) *int { return &n }

// TestCohortsPlaceEachCaseAtEachHorizon checks one case of each kind against
// the definitions of docs/api.md, "Statistics": the horizon's band, the
// follow-up states, the regime and participation at release, the practices
// received.
func TestCohortsPlaceEachCaseAtEachHorizon(t *testing.T) {
	today := "2028-12-01"
	opened := domain.CaseOpenedData{TargetGroup: "returnee", Gender: "female", Regime: "separation", Participation: "voluntary"}
	s := newStats()
	story(s, "followed", opened,
		domain.TransferredData{Regime: "mixed"},
		domain.ParticipationChangedData{Participation: "mandated"},
		domain.InterventionData{PracticeCode: "21"},
		domain.ReleasedData{ReleasedAt: "2026-01-15"},
		domain.TransferredData{Regime: "separation"}, // after release: not the regime at release
		domain.OutcomeData{FollowUpAt: "2026-04-15", Recidivism: "none", Reintegration: &domain.Reintegration{Housing: yes(false)}},
		domain.OutcomeData{FollowUpAt: "2026-07-15", Recidivism: "none", Reintegration: &domain.Reintegration{Housing: yes(true), Family: yes(true)}, CitizenshipLost: yes(true)},
		domain.OutcomeData{FollowUpAt: "2027-01-15", Recidivism: "non-violent"},
		domain.OutcomeData{FollowUpAt: "2028-01-20", LostToFollowUp: yes(true)},
	)
	story(s, "deceased", opened, domain.ReleasedData{ReleasedAt: "2026-01-15"},
		domain.OutcomeData{FollowUpAt: "2026-10-15", Deceased: yes(true)})
	story(s, "missing", opened, domain.ReleasedData{ReleasedAt: "2026-01-15"})
	story(s, "recent", opened, domain.ReleasedData{ReleasedAt: "2028-09-01"})
	story(s, "in prison", opened)

	type want struct {
		state, recidivism, housing, family, citizenship string
	}
	for _, c := range []struct {
		id      string
		horizon int
		in      bool
		want    want
	}{
		{"followed", 6, true, want{FollowedUp, "none", "yes", "yes", "yes"}}, // the latest in months 0–6
		{"followed", 12, true, want{FollowedUp, "non-violent", unrecorded, unrecorded, unrecorded}},
		{"followed", 24, true, want{LostToFollowUp, "", "", "", ""}},
		{"deceased", 6, true, want{MissingFollowUp, "", "", "", ""}},
		{"deceased", 12, true, want{Deceased, "", "", "", ""}},
		{"deceased", 24, true, want{Deceased, "", "", "", ""}},
		{"missing", 24, true, want{MissingFollowUp, "", "", "", ""}},
		{"recent", 6, false, want{}},
		{"in prison", 6, false, want{}},
	} {
		lo := 0
		if i := slices.Index(Horizons, c.horizon); i > 0 {
			lo = Horizons[i-1] + 1
		}
		state, fu, in := s.cases[c.id].at(lo, c.horizon, today)
		if in != c.in || state != c.want.state {
			t.Errorf("%s at %d months: %q in %v, want %q in %v", c.id, c.horizon, state, in, c.want.state, c.in)
			continue
		}
		if state != FollowedUp {
			continue
		}
		got := want{state, fu.value("recidivism"), fu.value("housing"), fu.value("family"), fu.value("citizenship_lost")}
		if got != c.want {
			t.Errorf("%s at %d months: %+v, want %+v", c.id, c.horizon, got, c.want)
		}
	}
	f := s.cases["followed"]
	if f.keys("regime")[0] != "mixed" || f.keys("participation")[0] != "mandated" || !slices.Equal(f.keys("practice"), []string{"21"}) {
		t.Errorf("the case was released from %v, taking part %v, after %v; want mixed, mandated, 21", f.keys("regime"), f.keys("participation"), f.keys("practice"))
	}
	if f.regime != "separation" {
		t.Errorf("the breakdowns' regime is %q, want the latest, separation", f.regime)
	}
}

// TestCohortTablesCountAndSuppress builds random cohorts and checks every
// table against counts made here independently: each shown count is the
// true count; no shown count is under MinCell; a row or (where the rows
// partition the cohort) a column that hides any cell hides at least two that
// together count at least MinCell; a hidden row total hides the row; every
// outcome's row totals are the follow_up table's "followed" cells, shown or
// hidden alike.
func TestCohortTablesCountAndSuppress(t *testing.T) {
	today := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 4, 9, 40, 400} {
		r := rand.New(rand.NewPCG(uint64(n), 18))
		s := newStats()
		for i := range n {
			story(s, fmt.Sprint(i), randomStory(r)...)
		}
		tables := s.Cohorts(today, CohortQuery{})
		if want := len(CohortDimensions) * len(Horizons) * len(CohortOutcomes); len(tables) != want {
			t.Fatalf("n=%d: %d tables, want %d", n, len(tables), want)
		}
		followed := map[string]CohortTable{}
		for _, tb := range tables {
			if tb.Outcome == "follow_up" {
				followed[fmt.Sprint(tb.Dimension, tb.Horizon)] = tb
			}
		}
		for _, tb := range tables {
			truth := trueCounts(s, tb, today)
			where := fmt.Sprintf("n=%d %s at %d months by %s", n, tb.Outcome, tb.Horizon, tb.Dimension)
			colHidden := make([][]int, len(tb.Columns))
			for r, row := range tb.Rows {
				total := 0
				for _, c := range truth[r] {
					total += c
				}
				if row.Suppressed != (row.Cases == nil) || row.Cases != nil && (*row.Cases != total || total < MinCell) {
					t.Errorf("%s row %s: %v (suppressed %v), true total %d", where, row.Key, row.Cases, row.Suppressed, total)
				}
				if tb.Outcome != "follow_up" {
					fc := followed[fmt.Sprint(tb.Dimension, tb.Horizon)].Rows[r].Cells[0]
					if fc.Suppressed != row.Suppressed {
						t.Errorf("%s row %s: total suppressed %v, but %v as the follow_up table's followed cell", where, row.Key, row.Suppressed, fc.Suppressed)
					}
				}
				hidden, sum := 0, 0
				for c, cell := range row.Cells {
					if cell.Suppressed {
						hidden, sum = hidden+1, sum+truth[r][c]
						colHidden[c] = append(colHidden[c], truth[r][c])
						continue
					}
					if row.Suppressed || *cell.Cases != truth[r][c] || *cell.Cases < MinCell {
						t.Errorf("%s %s/%s shows %d, true %d (row suppressed %v)", where, row.Key, cell.Key, *cell.Cases, truth[r][c], row.Suppressed)
					}
				}
				if !row.Suppressed && hidden > 0 && hidden < len(row.Cells) && (hidden < 2 || sum < MinCell) {
					t.Errorf("%s row %s hides %d cells counting %d: recoverable from its total", where, row.Key, hidden, sum)
				}
			}
			if tb.Dimension == "practice" {
				continue
			}
			for c, hid := range colHidden {
				sum := 0
				for _, x := range hid {
					sum += x
				}
				if len(hid) > 0 && len(hid) < len(tb.Rows) && (len(hid) < 2 || sum < MinCell) {
					t.Errorf("%s column %s hides %d cells counting %d: recoverable from the column's total", where, tb.Columns[c], len(hid), sum)
				}
			}
		}
	}
}

// trueCounts counts a table's cells from the cases' facts, independently of
// cohortTables: rows × columns.
func trueCounts(s *Stats, tb CohortTable, today time.Time) [][]int {
	lo := 0
	if i := slices.Index(Horizons, tb.Horizon); i > 0 {
		lo = Horizons[i-1] + 1
	}
	out := make([][]int, len(tb.Rows))
	for r := range out {
		out[r] = make([]int, len(tb.Columns))
	}
	for _, f := range s.cases {
		state, fu, in := f.at(lo, tb.Horizon, today.Format(time.DateOnly))
		if !in {
			continue
		}
		col := state
		if tb.Outcome != "follow_up" {
			if state != FollowedUp {
				continue
			}
			col = fu.value(tb.Outcome)
		}
		for r, row := range tb.Rows {
			if slices.Contains(f.keys(tb.Dimension), row.Key) {
				out[r][slices.Index(tb.Columns, col)]++
			}
		}
	}
	return out
}

// randomStory is a random released (mostly) case with follow-ups.
func randomStory(r *rand.Rand) []domain.Data {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	flag := func() *bool {
		if r.IntN(3) == 0 {
			return nil
		}
		return yes(r.IntN(2) == 0)
	}
	out := []domain.Data{domain.CaseOpenedData{TargetGroup: pick(domain.TargetGroups), Gender: pick(append(domain.Genders, "")),
		Regime: pick(append(domain.Regimes, "")), Participation: pick(append(domain.Participations, ""))}}
	for range r.IntN(4) {
		out = append(out, domain.InterventionData{PracticeCode: string(domain.Practices[r.IntN(len(domain.Practices))].Code)})
	}
	if r.IntN(5) == 0 {
		return out // still in detention
	}
	rel := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(1000))
	out = append(out, domain.ReleasedData{ReleasedAt: rel.Format(time.DateOnly)})
	for _, m := range []int{1, 3, 6, 9, 12, 18, 24} {
		if r.IntN(3) == 0 {
			continue
		}
		o := domain.OutcomeData{FollowUpAt: rel.AddDate(0, m, r.IntN(20)).Format(time.DateOnly), MonthsSinceRelease: months(m)}
		switch r.IntN(20) {
		case 0:
			o.LostToFollowUp = yes(true)
		case 1:
			o.Deceased = yes(true)
		default:
			o.Recidivism = pick(append(domain.RecidivismKind, ""))
			o.Reintegration = &domain.Reintegration{Housing: flag(), Employment: flag(), SocialNetwork: flag(), Education: flag(), Family: flag()}
			o.HeavyPsychologicalSupport, o.CitizenshipLost, o.NoSupportAfterRelease = flag(), flag(), flag()
		}
		out = append(out, o)
	}
	return out
}

// TestCohortQuerySelects: a query keeps the tables it names, in the order
// dimension, horizon, outcome.
func TestCohortQuerySelects(t *testing.T) {
	s := newStats()
	got := s.Cohorts(time.Now(), CohortQuery{Dimension: "regime", Horizon: 12})
	if len(got) != len(CohortOutcomes) {
		t.Fatalf("%d tables, want %d", len(got), len(CohortOutcomes))
	}
	for i, tb := range got {
		if tb.Dimension != "regime" || tb.Horizon != 12 || tb.Outcome != CohortOutcomes[i] {
			t.Errorf("table %d is %s/%d/%s", i, tb.Dimension, tb.Horizon, tb.Outcome)
		}
		if len(tb.Rows) != len(domain.Regimes)+1 || tb.Rows[len(tb.Rows)-1].Key != unrecorded {
			t.Errorf("regime rows %+v", tb.Rows)
		}
	}
	all := s.Cohorts(time.Now(), CohortQuery{Outcome: "recidivism"})
	if len(all) != len(CohortDimensions)*len(Horizons) || all[0].Dimension != "target_group" || all[0].Horizon != 6 || all[len(all)-1].Dimension != "practice" {
		t.Errorf("recidivism tables out of order: first %s/%d, last %s", all[0].Dimension, all[0].Horizon, all[len(all)-1].Dimension)
	}
	if p := s.Cohorts(time.Now(), CohortQuery{Dimension: "practice", Horizon: 6, Outcome: "follow_up"}); p[0].Rows[0].Name != domain.Practices[0].Name {
		t.Errorf("a practice row is not named: %+v", p[0].Rows[0])
	}
}
