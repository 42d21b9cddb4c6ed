package hub

import (
	"errors"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
)

// A log that cannot take writes for now (the embedded store on a full disk,
// docs/operations.md, "A full disk") refuses an append before writing
// anything, with eventlog.ErrUnavailable: the call answers 503 with
// Retry-After, and the hub's readiness turns 503 until the log takes writes
// again (Storage). The store logs why, once; the API does not log such a
// call as a failure (IsStorageUnavailable).

// errStoreFull answers a write the log refused for now.
var errStoreFull = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub cannot store this now; try again later"}

// storeError is the error a use case returns for a failed append: a
// KindUnavailable one when the log refused it for now, KindInternal
// otherwise.
func storeError(err error) error {
	if errors.Is(err, eventlog.ErrUnavailable) {
		e := *errStoreFull
		e.Err = err
		return &e
	}
	return domain.Internal(err)
}

// IsStorageUnavailable reports whether err comes from a log that cannot take
// writes for now (its disk is full): the call was refused and nothing
// written, and the store has said why in the log already.
func IsStorageUnavailable(err error) bool { return errors.Is(err, eventlog.ErrUnavailable) }

// Storage returns nil while the log takes writes, and why it does not
// otherwise (a log that tells: the embedded store's Health).
func (s *Service) Storage() error {
	if h, ok := s.cfg.Log.(interface{ Health() error }); ok {
		return h.Health()
	}
	return nil
}
