package projections

import (
	"sort"
	"sync"

	"github.com/liaison-hub/liaison/domain"
)

// MinCell is the smallest number of cases a published statistic may count; a
// cell under it is suppressed.
const MinCell = 5

// caseFacts is what the statistics know of one case: no content, only the
// coded facts that the aggregates count.
type caseFacts struct {
	targetGroup, gender string
	regime              string // the latest: at intake, then as transfers moved it
	participation       string // the latest: at intake, then as it changed
	stage               domain.Stage
	sessions            map[string]int // practice code → sessions; nil before the first
	recidivism          string         // latest outcome
	// The latest reintegration: housing, employment, social network,
	// education, family.
	housing, employment, social, education, family *bool

	// The cohorts' facts (cohorts.go): the date of the latest release, the
	// regime and participation then, and the follow-ups since.
	released                                string
	regimeAtRelease, participationAtRelease string
	followUps                               []followUp
}

// Stats aggregates coded facts over all cases, erased ones excluded.
type Stats struct {
	mu    sync.RWMutex
	cases map[string]*caseFacts
}

func newStats() *Stats { return &Stats{cases: map[string]*caseFacts{}} }

// apply folds the data of one event into the facts of its case; after is the
// aggregate with the event applied.
func (s *Stats) apply(caseID string, after *domain.Case, data domain.Data) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after.Erased {
		delete(s.cases, caseID)
		return
	}
	f := s.cases[caseID]
	if f == nil {
		f = &caseFacts{}
		s.cases[caseID] = f
	}
	f.stage = after.Stage
	switch d := data.(type) {
	case domain.CaseOpenedData:
		f.targetGroup, f.gender, f.regime, f.participation = d.TargetGroup, d.Gender, d.Regime, d.Participation
	case domain.TransferredData:
		if d.Regime != "" {
			f.regime = d.Regime
		}
	case domain.ParticipationChangedData:
		f.participation = d.Participation
	case domain.ReleasedData:
		f.released, f.regimeAtRelease, f.participationAtRelease = d.ReleasedAt, f.regime, f.participation
	case domain.InterventionData:
		if f.sessions == nil {
			f.sessions = map[string]int{}
		}
		f.sessions[d.PracticeCode]++
	case domain.OutcomeData:
		if d.Recidivism != "" {
			f.recidivism = d.Recidivism
		}
		if r := d.Reintegration; r != nil {
			f.housing, f.employment, f.social, f.education, f.family = r.Housing, r.Employment, r.SocialNetwork, r.Education, r.Family
		}
		f.followUps = append(f.followUps, followUpOf(d))
	}
}

// Cell is one published count: Suppressed says the count is withheld because it
// (or the cell it would reveal by difference) counts fewer than MinCell cases;
// then Cases and Sessions are nil.
type Cell struct {
	Key        string `json:"key"`
	Name       string `json:"name,omitempty"`
	Cases      *int   `json:"cases"`
	Sessions   *int   `json:"sessions,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// Practices returns, per practice code, the number of cases with at least one
// session of it and the number of sessions, with small cells suppressed.
func (s *Stats) Practices() []Cell {
	s.mu.RLock()
	cases := map[string]int{}
	sessions := map[string]int{}
	for _, f := range s.cases {
		for code, n := range f.sessions {
			cases[code]++
			sessions[code] += n
		}
	}
	s.mu.RUnlock()
	cells := make([]Cell, 0, len(domain.Practices))
	counts := make([]int, 0, len(domain.Practices))
	for _, p := range domain.Practices {
		c := string(p.Code)
		n, m := cases[c], sessions[c]
		cells = append(cells, Cell{Key: c, Name: p.Name, Cases: &n, Sessions: &m})
		counts = append(counts, n)
	}
	suppress(cells, counts, false)
	return cells
}

// Table is one published breakdown of the cases by a dimension.
type Table struct {
	Dimension string `json:"dimension"`
	Cells     []Cell `json:"cells"`
}

// Breakdowns returns the case counts by target group, regime (the latest:
// after transfers), gender, participation (the latest), stage, latest
// recidivism and reintegration outcome, each with small cells suppressed
// and, where one cell of a partition is suppressed, the next smallest too, so
// that no suppressed count can be recovered from the total.
func (s *Stats) Breakdowns() []Table {
	s.mu.RLock()
	dims := []struct {
		name   string
		values []string
		of     func(*caseFacts) (string, bool)
	}{
		{"target_group", domain.TargetGroups, func(f *caseFacts) (string, bool) { return f.targetGroup, true }},
		{"regime", append(append([]string{}, domain.Regimes...), "unrecorded"), func(f *caseFacts) (string, bool) { return orUnrecorded(f.regime), true }},
		{"gender", append(append([]string{}, domain.Genders...), "unrecorded"), func(f *caseFacts) (string, bool) { return orUnrecorded(f.gender), true }},
		{"participation", withUnrecorded(domain.Participations), func(f *caseFacts) (string, bool) { return orUnrecorded(f.participation), true }},
		{"stage", stageNames(), func(f *caseFacts) (string, bool) { return string(f.stage), true }},
		{"recidivism", domain.RecidivismKind, func(f *caseFacts) (string, bool) { return f.recidivism, f.recidivism != "" }},
		{"housing_reintegrated", []string{"yes", "no"}, func(f *caseFacts) (string, bool) { return yesNo(f.housing) }},
		{"employment_reintegrated", []string{"yes", "no"}, func(f *caseFacts) (string, bool) { return yesNo(f.employment) }},
		{"social_network_reintegrated", []string{"yes", "no"}, func(f *caseFacts) (string, bool) { return yesNo(f.social) }},
		{"education_reintegrated", []string{"yes", "no"}, func(f *caseFacts) (string, bool) { return yesNo(f.education) }},
		{"family_reintegrated", []string{"yes", "no"}, func(f *caseFacts) (string, bool) { return yesNo(f.family) }},
	}
	counts := make([]map[string]int, len(dims))
	for i := range dims {
		counts[i] = map[string]int{}
	}
	for _, f := range s.cases {
		for i, d := range dims {
			if v, ok := d.of(f); ok {
				counts[i][v]++
			}
		}
	}
	s.mu.RUnlock()
	tables := make([]Table, 0, len(dims))
	for i, d := range dims {
		cells := make([]Cell, 0, len(d.values))
		ns := make([]int, 0, len(d.values))
		for _, v := range d.values {
			n := counts[i][v]
			cells = append(cells, Cell{Key: v, Cases: &n})
			ns = append(ns, n)
		}
		suppress(cells, ns, true)
		tables = append(tables, Table{Dimension: d.name, Cells: cells})
	}
	return tables
}

// suppress withholds every cell under MinCell. For a partition (cells that add
// up to a total another table publishes), the withheld cells' sum could be
// recovered by subtraction, so the next smallest cells are withheld with them
// until the withheld cells together count at least MinCell cases.
func suppress(cells []Cell, counts []int, partition bool) {
	hidden, sum := 0, 0
	for i := range cells {
		if counts[i] < MinCell {
			hide(&cells[i])
			hidden++
			sum += counts[i]
		}
	}
	if !partition || hidden == 0 {
		return
	}
	order := make([]int, len(cells))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] < counts[order[b]] })
	for _, i := range order {
		if hidden >= 2 && sum >= MinCell {
			return
		}
		if !cells[i].Suppressed {
			hide(&cells[i])
			hidden++
			sum += counts[i]
		}
	}
}

func hide(c *Cell) {
	c.Cases, c.Sessions, c.Suppressed = nil, nil, true
}

// withUnrecorded is values and "unrecorded", for a dimension a case may not
// record.
func withUnrecorded(values []string) []string {
	return append(append([]string{}, values...), unrecorded)
}

// unrecorded is the key of the cases that do not record a value.
const unrecorded = "unrecorded"

func orUnrecorded(s string) string {
	if s == "" {
		return "unrecorded"
	}
	return s
}

func yesNo(b *bool) (string, bool) {
	if b == nil {
		return "", false
	}
	if *b {
		return "yes", true
	}
	return "no", true
}

func stageNames() []string {
	out := make([]string, len(domain.Stages))
	for i, s := range domain.Stages {
		out[i] = string(s)
	}
	return out
}

// Stats returns the projector's statistics.
func (p *Projector) Stats() *Stats { return p.stats }
