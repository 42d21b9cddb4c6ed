package hub

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/projections"
)

// PracticeStats is the practice table: per practice code, the cases and
// sessions, with small cells suppressed.
type PracticeStats struct {
	MinCell int                `json:"min_cell"`
	Items   []projections.Cell `json:"items"`
}

// Breakdowns are the aggregate tables (by target group, regime, gender, stage,
// outcome), with small and complementary cells suppressed.
type Breakdowns struct {
	MinCell int                 `json:"min_cell"`
	Tables  []projections.Table `json:"tables"`
}

// Practices answers the practice table. It returns KindForbidden to a caller
// who may not read statistics, KindUnavailable while the hub starts.
func (s *Service) Practices(ctx context.Context, c *Call) (PracticeStats, error) {
	if err := s.statsReady(ctx, c); err != nil {
		return PracticeStats{}, err
	}
	return PracticeStats{MinCell: projections.MinCell, Items: s.cfg.Projector.Stats().Practices()}, nil
}

// Breakdowns answers the aggregate tables, with the errors of Practices.
func (s *Service) Breakdowns(ctx context.Context, c *Call) (Breakdowns, error) {
	if err := s.statsReady(ctx, c); err != nil {
		return Breakdowns{}, err
	}
	return Breakdowns{MinCell: projections.MinCell, Tables: s.cfg.Projector.Stats().Breakdowns()}, nil
}

func (s *Service) statsReady(ctx context.Context, c *Call) error {
	if err := s.service(ctx, c, "stats"); err != nil {
		return err
	}
	if !s.cfg.Projector.Ready() {
		return errNotReady
	}
	return nil
}

// CohortStats are the cohort tables (docs/api.md, "Statistics"): released
// cases by target group, gender, regime, participation and practice
// received, against their outcomes at 6, 12 and 24 months after release,
// with small and complementary cells suppressed. They hold counts only:
// never a case id, never content.
type CohortStats struct {
	MinCell    int                       `json:"min_cell"`
	AsOf       string                    `json:"as_of"`
	Horizons   []int                     `json:"horizons"`
	Dimensions []string                  `json:"dimensions"`
	Outcomes   map[string][]string       `json:"outcomes"`
	Tables     []projections.CohortTable `json:"tables"`
}

// CohortFilter selects cohort tables: a dimension, a horizon (months) and an
// outcome, each "" for all, as a query gives them.
type CohortFilter struct {
	Dimension, Horizon, Outcome string
}

// Cohorts answers the cohort tables the filter selects, as of the call's day.
// It returns KindInvalid naming the parameter at fault, and the errors of
// Practices (which come first).
func (s *Service) Cohorts(ctx context.Context, c *Call, f CohortFilter) (CohortStats, error) {
	if err := s.statsReady(ctx, c); err != nil {
		return CohortStats{}, err
	}
	q, err := f.query()
	if err != nil {
		return CohortStats{}, err
	}
	out := CohortStats{
		MinCell: projections.MinCell, AsOf: c.Now.UTC().Format(time.DateOnly),
		Horizons: projections.Horizons, Dimensions: projections.CohortDimensions, Outcomes: map[string][]string{},
		Tables: s.cfg.Projector.Stats().Cohorts(c.Now, q),
	}
	for _, o := range projections.CohortOutcomes {
		out.Outcomes[o] = projections.CohortColumns(o)
	}
	if out.Tables == nil {
		out.Tables = []projections.CohortTable{}
	}
	return out, nil
}

// query checks the filter's values against the cohorts' dimensions,
// horizons and outcomes.
func (f CohortFilter) query() (projections.CohortQuery, error) {
	var q projections.CohortQuery
	var errs []domain.FieldError
	if f.Dimension != "" {
		if !slices.Contains(projections.CohortDimensions, f.Dimension) {
			errs = append(errs, domain.FieldError{Field: "dimension", Message: "must be one of " + strings.Join(projections.CohortDimensions, ", ")})
		}
		q.Dimension = f.Dimension
	}
	if f.Horizon != "" {
		h, err := strconv.Atoi(f.Horizon)
		if err != nil || !slices.Contains(projections.Horizons, h) {
			errs = append(errs, domain.FieldError{Field: "horizon", Message: "must be one of 6, 12, 24 (months after release)"})
		}
		q.Horizon = h
	}
	if f.Outcome != "" {
		if !slices.Contains(projections.CohortOutcomes, f.Outcome) {
			errs = append(errs, domain.FieldError{Field: "outcome", Message: "must be one of " + strings.Join(projections.CohortOutcomes, ", ")})
		}
		q.Outcome = f.Outcome
	}
	if len(errs) > 0 {
		return q, domain.Invalid("invalid query", errs...)
	}
	return q, nil
}
