package projections

import (
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// Cohort statistics for evaluation (docs/api.md, "Statistics", the cohorts):
// the released cases, grouped by what they were (target group, gender), how
// they were held (the regime at release), how they took part (the
// participation at release) and what they received (each practice code), set
// against what became of them at 6, 12 and 24 months after release. Only
// coded facts are counted, never content or ids; small cells are suppressed
// as everywhere else (MinCell), and complementary cells with them, along the
// rows and, where the rows partition the cohort, along the columns, so that
// no suppressed count can be recovered from a total another table gives.

// Horizons are the months after release at which the cohorts are followed.
// The follow-up at a horizon is the latest OutcomeRecorded whose whole
// months since the release fall in the horizon's band: 0 to 6 months, 7 to
// 12, 13 to 24.
var Horizons = []int{6, 12, 24}

// CohortDimensions are what the cohorts are grouped by: every dimension but
// practice partitions the cohort (each case in one row, "unrecorded" for
// none); practice gives a row per code, each the cases with at least one
// session of it, so a case can be in several.
var CohortDimensions = []string{"target_group", "gender", "regime", "participation", "practice"}

// CohortOutcomes are the outcomes the cohorts are followed on. follow_up
// counts the cohort by its follow-up at the horizon; each other outcome
// counts the cases followed up (follow_up "followed") by the value of the
// outcome in that follow-up.
var CohortOutcomes = []string{"follow_up", "recidivism", "housing", "employment", "education", "social_network", "family",
	"heavy_psychological_support", "citizenship_lost", "no_support_after_release"}

// Follow-up states of a case at a horizon (the columns of follow_up).
const (
	// FollowedUp: a follow-up in the horizon's band, neither lost nor
	// deceased.
	FollowedUp = "followed"
	// LostToFollowUp: the band's latest follow-up says lost to follow-up, or
	// none in the band and the one before said so.
	LostToFollowUp = "lost"
	// Deceased: some follow-up up to the horizon says deceased.
	Deceased = "deceased"
	// MissingFollowUp: the horizon has passed since the release (as of the
	// day asked) and nothing was recorded in its band.
	MissingFollowUp = "missing"
)

// A case released less than a horizon ago, with nothing recorded in its
// band, is not yet in that horizon's cohort.

// CohortColumns returns the columns of an outcome's tables, in order: the
// follow-up states for follow_up, the kinds of recidivism and "unrecorded"
// for recidivism, "yes", "no" and "unrecorded" for the others.
func CohortColumns(outcome string) []string { return cohortColumns(outcome) }

// cohortColumns gives each outcome its columns, in order.
func cohortColumns(outcome string) []string {
	switch outcome {
	case "follow_up":
		return []string{FollowedUp, LostToFollowUp, Deceased, MissingFollowUp}
	case "recidivism":
		return withUnrecorded(domain.RecidivismKind)
	}
	return []string{"yes", "no", unrecorded}
}

// followUp is what the cohorts keep of one OutcomeRecorded.
type followUp struct {
	at         string
	recidivism string
	// flags are the outcomes yes, no or not recorded (nil), by name.
	flags          map[string]*bool
	deceased, lost bool
}

func followUpOf(d domain.OutcomeData) followUp {
	f := followUp{at: d.FollowUpAt, recidivism: d.Recidivism, flags: map[string]*bool{
		"heavy_psychological_support": d.HeavyPsychologicalSupport,
		"citizenship_lost":            d.CitizenshipLost,
		"no_support_after_release":    d.NoSupportAfterRelease,
	}}
	if r := d.Reintegration; r != nil {
		f.flags["housing"], f.flags["employment"], f.flags["social_network"] = r.Housing, r.Employment, r.SocialNetwork
		f.flags["education"], f.flags["family"] = r.Education, r.Family
	}
	f.deceased = d.Deceased != nil && *d.Deceased
	f.lost = d.LostToFollowUp != nil && *d.LostToFollowUp
	return f
}

// value returns the column of an outcome in a follow-up.
func (f *followUp) value(outcome string) string {
	if outcome == "recidivism" {
		return orUnrecorded(f.recidivism)
	}
	b, ok := f.flags[outcome]
	if !ok || b == nil {
		return unrecorded
	}
	if *b {
		return "yes"
	}
	return "no"
}

// at returns the state of a released case at horizon h (band lo..h months),
// as of today, and its follow-up there; false when the case is not (yet) in
// the horizon's cohort.
func (f *caseFacts) at(lo, h int, today string) (string, *followUp, bool) {
	if f.released == "" {
		return "", nil, false
	}
	var inBand, before *followUp
	var beforeMonths int
	for i := range f.followUps {
		fu := &f.followUps[i]
		m, ok := domain.MonthsBetween(f.released, fu.at)
		if !ok || m > h {
			continue
		}
		if fu.deceased {
			return Deceased, fu, true
		}
		switch {
		case m >= lo:
			if inBand == nil || fu.at >= inBand.at {
				inBand = fu
			}
		case before == nil || m > beforeMonths || m == beforeMonths && fu.at >= before.at:
			before, beforeMonths = fu, m
		}
	}
	switch {
	case inBand != nil && inBand.lost:
		return LostToFollowUp, inBand, true
	case inBand != nil:
		return FollowedUp, inBand, true
	}
	if m, ok := domain.MonthsBetween(f.released, today); !ok || m < h {
		return "", nil, false // not yet due
	}
	if before != nil && before.lost {
		return LostToFollowUp, before, true
	}
	return MissingFollowUp, nil, true
}

// keys returns the rows of dimension dim a case belongs to.
func (f *caseFacts) keys(dim string) []string {
	switch dim {
	case "target_group":
		return []string{f.targetGroup}
	case "gender":
		return []string{orUnrecorded(f.gender)}
	case "regime":
		return []string{orUnrecorded(f.regimeAtRelease)}
	case "participation":
		return []string{orUnrecorded(f.participationAtRelease)}
	case "practice":
		var out []string
		for code, n := range f.sessions {
			if n > 0 {
				out = append(out, code)
			}
		}
		return out
	}
	return nil
}

// cohortRows gives the rows of a dimension, in order, and their names.
func cohortRows(dim string) (keys, names []string) {
	switch dim {
	case "target_group":
		return domain.TargetGroups, nil
	case "gender":
		return withUnrecorded(domain.Genders), nil
	case "regime":
		return withUnrecorded(domain.Regimes), nil
	case "participation":
		return withUnrecorded(domain.Participations), nil
	case "practice":
		for _, p := range domain.Practices {
			keys, names = append(keys, string(p.Code)), append(names, p.Name)
		}
		return keys, names
	}
	return nil, nil
}

// CohortQuery selects cohort tables; a zero field selects every value.
type CohortQuery struct {
	Dimension string
	Horizon   int
	Outcome   string
}

// CohortTable is the cases of one horizon's cohort, grouped by a dimension
// (rows), counted by an outcome (columns).
type CohortTable struct {
	Dimension string      `json:"dimension"`
	Horizon   int         `json:"horizon"`
	Outcome   string      `json:"outcome"`
	Columns   []string    `json:"columns"`
	Rows      []CohortRow `json:"rows"`
}

// CohortRow is one row of a cohort table: Cases is the row's total (the
// cohort's cases in the row for follow_up, those of them followed up for
// any other outcome), Cells its counts per column, in Columns' order.
// Suppressed rows show no count at all.
type CohortRow struct {
	Key        string `json:"key"`
	Name       string `json:"name,omitempty"`
	Cases      *int   `json:"cases"`
	Suppressed bool   `json:"suppressed"`
	Cells      []Cell `json:"cells"`
}

// Cohorts returns the cohort tables that q selects, as of today (which
// decides whether a horizon has passed for a case with no follow-up in its
// band), in the order dimension, horizon, outcome.
func (s *Stats) Cohorts(today time.Time, q CohortQuery) []CohortTable {
	day := today.UTC().Format(time.DateOnly)
	s.mu.RLock()
	facts := make([]*caseFacts, 0, len(s.cases))
	for _, f := range s.cases {
		if f.released != "" {
			facts = append(facts, f)
		}
	}
	// apply changes facts in place: count under the lock.
	var tables []CohortTable
	lo := 0
	for _, h := range Horizons {
		if q.Horizon == 0 || q.Horizon == h {
			for _, dim := range CohortDimensions {
				if q.Dimension == "" || q.Dimension == dim {
					tables = append(tables, cohortTables(facts, dim, lo, h, day, q.Outcome)...)
				}
			}
		}
		lo = h + 1
	}
	s.mu.RUnlock()
	slices.SortStableFunc(tables, func(a, b CohortTable) int {
		return slices.Index(CohortDimensions, a.Dimension) - slices.Index(CohortDimensions, b.Dimension)
	})
	return tables
}

// cohortTables counts one dimension at one horizon for the outcomes asked
// ("" for all) and suppresses their small and complementary cells: the
// follow_up table first, whose "followed" column is the row total of every
// other outcome's table, and is suppressed there exactly as in follow_up.
func cohortTables(facts []*caseFacts, dim string, lo, h int, today, outcome string) []CohortTable {
	keys, names := cohortRows(dim)
	partition := dim != "practice"
	row := make(map[string]int, len(keys))
	for i, k := range keys {
		row[k] = i
	}
	type member struct {
		rows  []int
		state string
		fu    *followUp
	}
	var members []member
	for _, f := range facts {
		state, fu, in := f.at(lo, h, today)
		if !in {
			continue
		}
		m := member{state: state, fu: fu}
		for _, k := range f.keys(dim) {
			if i, ok := row[k]; ok {
				m.rows = append(m.rows, i)
			}
		}
		members = append(members, m)
	}
	count := func(out string) *grid {
		cols := cohortColumns(out)
		g := newGrid(len(keys), len(cols))
		for _, m := range members {
			var col int
			if out == "follow_up" {
				col = slices.Index(cols, m.state)
			} else if m.state == FollowedUp {
				col = slices.Index(cols, m.fu.value(out))
			} else {
				continue
			}
			for _, r := range m.rows {
				g.cells[r][col].n++
				g.totals[r].n++
			}
		}
		return g
	}
	followed := count("follow_up")
	followed.suppress(nil, partition)
	var tables []CohortTable
	for _, out := range CohortOutcomes {
		if outcome != "" && out != outcome {
			continue
		}
		g := followed
		if out != "follow_up" {
			g = count(out)
			col := slices.Index(cohortColumns("follow_up"), FollowedUp)
			totals := make([]gridCell, len(keys))
			for r := range totals {
				totals[r] = followed.cells[r][col]
			}
			g.suppress(totals, partition)
		}
		tables = append(tables, g.table(dim, h, out, keys, names))
	}
	return tables
}

// gridCell is one count of a grid and whether it is suppressed.
type gridCell struct {
	n      int
	hidden bool
}

// grid is a table of counts: rows × columns, and each row's total.
type grid struct {
	cells  [][]gridCell
	totals []gridCell
}

func newGrid(rows, cols int) *grid {
	g := &grid{cells: make([][]gridCell, rows), totals: make([]gridCell, rows)}
	for r := range g.cells {
		g.cells[r] = make([]gridCell, cols)
	}
	return g
}

// suppress hides the grid's small cells and their complements. The row
// totals are given (already suppressed elsewhere: they must be hidden exactly
// as there), or suppressed here: every total under MinCell and, when the
// rows partition the cohort (whose size another table gives), the next
// smallest with them. A hidden total hides its whole row. Then every cell
// under MinCell is hidden, and, until nothing changes, each row with a total
// shown and (for a partition) each column that hides a cell hides the next
// smallest, until it hides at least two cells that together count at least
// MinCell cases.
func (g *grid) suppress(totals []gridCell, partition bool) {
	if totals != nil {
		copy(g.totals, totals)
	} else {
		line := make([]*gridCell, len(g.totals))
		for r := range g.totals {
			line[r] = &g.totals[r]
			g.totals[r].hidden = g.totals[r].n < MinCell
		}
		if partition {
			balance(line)
		}
	}
	for r, row := range g.cells {
		for c := range row {
			row[c].hidden = row[c].n < MinCell || g.totals[r].hidden
		}
	}
	for changed := true; changed; {
		changed = false
		for r, row := range g.cells {
			if g.totals[r].hidden {
				continue
			}
			line := make([]*gridCell, len(row))
			for c := range row {
				line[c] = &row[c]
			}
			changed = balance(line) || changed
		}
		if !partition || len(g.cells) == 0 {
			continue
		}
		for c := range g.cells[0] {
			line := make([]*gridCell, len(g.cells))
			for r := range g.cells {
				line[r] = &g.cells[r][c]
			}
			changed = balance(line) || changed
		}
	}
}

// balance hides, in a line of cells that add up to a known total, the
// smallest shown cells until the hidden ones are at least two and count at
// least MinCell together, or all are hidden; nothing when none is hidden. It
// reports whether it hid any.
func balance(line []*gridCell) bool {
	hidden, sum := 0, 0
	for _, c := range line {
		if c.hidden {
			hidden++
			sum += c.n
		}
	}
	changed := false
	for hidden > 0 && (hidden < 2 || sum < MinCell) {
		var next *gridCell
		for _, c := range line {
			if !c.hidden && (next == nil || c.n < next.n) {
				next = c
			}
		}
		if next == nil {
			break
		}
		next.hidden, hidden, sum, changed = true, hidden+1, sum+next.n, true
	}
	return changed
}

// table publishes the grid: counts where shown, suppressed cells without.
func (g *grid) table(dim string, h int, outcome string, keys, names []string) CohortTable {
	t := CohortTable{Dimension: dim, Horizon: h, Outcome: outcome, Columns: cohortColumns(outcome), Rows: make([]CohortRow, len(keys))}
	for r, k := range keys {
		row := CohortRow{Key: k, Suppressed: g.totals[r].hidden, Cells: make([]Cell, len(t.Columns))}
		if names != nil {
			row.Name = names[r]
		}
		if !row.Suppressed {
			n := g.totals[r].n
			row.Cases = &n
		}
		for c, col := range t.Columns {
			cell := Cell{Key: col, Suppressed: g.cells[r][c].hidden}
			if !cell.Suppressed {
				n := g.cells[r][c].n
				cell.Cases = &n
			}
			row.Cells[c] = cell
		}
		t.Rows[r] = row
	}
	return t
}
