package projections_test

import (
	"math"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/projections"
)

// survey is the EUTEx practice table of docs/domain.md, "Practice codes":
// code → frequency.
var survey = map[string]float64{"01": 6, "02": 16, "03": 6, "04": 5, "05": 2, "06": 4, "07": 2, "08": 22, "09": 7, "10": 7, "11": 3, "12": 4, "13": 11, "14": 9, "99": 7}

func TestPracticeTableHasTheSurveysShape(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.load(t, 11, 300)
	p, stop := f.run(t)
	defer stop()
	cells := p.Stats().Practices()
	if len(cells) != len(domain.Practices) {
		t.Fatalf("%d cells, want one per practice code", len(cells))
	}
	var xs, ys []float64
	var top []projections.Cell
	for _, c := range cells {
		if c.Suppressed {
			if c.Cases != nil || c.Sessions != nil {
				t.Errorf("code %s is suppressed but shows counts", c.Key)
			}
			continue
		}
		if *c.Cases < projections.MinCell {
			t.Errorf("code %s shows %d cases, under the minimum cell", c.Key, *c.Cases)
		}
		top = append(top, c)
		if _, surveyed := survey[c.Key]; !surveyed {
			continue // the practices the survey did not code (15 to 22)
		}
		xs, ys = append(xs, survey[c.Key]), append(ys, float64(*c.Cases))
	}
	slices.SortFunc(top, func(a, b projections.Cell) int { return *b.Cases - *a.Cases })
	if len(top) < 2 || top[0].Key != "08" || top[1].Key != "02" {
		t.Errorf("the most used practices are not classic social work and the cognitive-behavioural approach: %+v", top[:min(2, len(top))])
	}
	if r := correlation(xs, ys); r < 0.8 {
		t.Errorf("correlation with the survey %.2f, want ≥ 0.8", r)
	}
}

func correlation(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, syy, sxy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
		sxx, syy, sxy = sxx+xs[i]*xs[i], syy+ys[i]*ys[i], sxy+xs[i]*ys[i]
	}
	return (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
}

// TestNoSuppressedCountCanBeRecovered checks every breakdown over data sets of
// several sizes: no published cell counts fewer than MinCell cases, and where a
// partition hides cells, the hidden cells together count at least MinCell and
// are at least two, so subtracting the published cells from the total (which
// another table publishes) recovers no small count.
func TestNoSuppressedCountCanBeRecovered(t *testing.T) {
	for _, n := range []int{3, 12, 37} {
		f := newFixture(t, t.TempDir())
		f.load(t, uint64(100+n), n)
		p, stop := f.run(t)
		tables := p.Stats().Breakdowns()
		stop()
		total := p.Len()
		for _, tb := range tables {
			shown, hidden := 0, 0
			for _, c := range tb.Cells {
				if c.Suppressed {
					hidden++
					continue
				}
				if *c.Cases < projections.MinCell {
					t.Errorf("n=%d %s=%s shows %d cases", n, tb.Dimension, c.Key, *c.Cases)
				}
				shown += *c.Cases
			}
			partition := tb.Dimension == "target_group" || tb.Dimension == "regime" || tb.Dimension == "gender" || tb.Dimension == "participation" || tb.Dimension == "stage"
			if !partition || hidden == 0 {
				continue
			}
			if hidden < 2 && hidden < len(tb.Cells) {
				t.Errorf("n=%d %s hides a single cell, recoverable from the total", n, tb.Dimension)
			}
			if rest := total - shown; rest > 0 && rest < projections.MinCell && hidden < len(tb.Cells) {
				t.Errorf("n=%d %s: the hidden cells add up to %d, a small count recoverable by subtraction", n, tb.Dimension, rest)
			}
		}
	}
}
