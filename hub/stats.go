package hub

import (
	"context"

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
