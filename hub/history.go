package hub

import (
	"context"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/projections"
)

// history is one case's history: its view right after each of its events,
// as of one version of the case. Readers of the feed share it: it is replayed
// from the log once per case version (projections.Replay), then each reader
// only asks the policy about the steps it has not seen.
type history struct {
	version uint64
	steps   []replayStep
}

// replayStep is the view of a case right after one of its events.
type replayStep struct {
	pos  eventlog.Position
	view *projections.View
}

// histories caches the histories of the cases the feed reads, bounded: the
// least recently replaced go first.
type histories struct {
	mu sync.Mutex
	m  map[string]*history
}

const maxHistories = 2048

// history returns the history of case version v.
func (s *Service) history(ctx context.Context, v *projections.View) (*history, error) {
	s.histories.mu.Lock()
	h := s.histories.m[v.Case.ID]
	s.histories.mu.Unlock()
	if h != nil && h.version == v.Case.Version {
		return h, nil
	}
	h = &history{version: v.Case.Version}
	err := s.cfg.Projector.Replay(ctx, v.Case.ID, func(pos eventlog.Position, _ time.Time, step *projections.View) bool {
		if step.Case.Version > v.Case.Version {
			return false // appended since the version asked for
		}
		h.steps = append(h.steps, replayStep{pos: pos, view: step})
		return true
	})
	if err != nil {
		return nil, domain.Internal(err)
	}
	s.histories.mu.Lock()
	if s.histories.m == nil || len(s.histories.m) >= maxHistories {
		s.histories.m = make(map[string]*history, maxHistories)
	}
	s.histories.m[v.Case.ID] = h
	s.histories.mu.Unlock()
	return h, nil
}
