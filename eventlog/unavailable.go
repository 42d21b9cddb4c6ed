package eventlog

import "errors"

// ErrUnavailable is wrapped by the error of an append or a journal append
// that the store refused, writing nothing, because it cannot take writes for
// now (its disk is full, eventlog/embedded): the caller may try again later.
// The hub answers it 503 with Retry-After (docs/operations.md, "A full disk").
var ErrUnavailable = errors.New("eventlog: the store cannot take writes now; nothing was written; try again")
