package embedded

import (
	"context"

	"github.com/cockroachdb/pebble/v2"
)

// Streams returns the names of every stream of the store (the case ids), in
// byte order. It returns an error wrapping eventlog.ErrClosed when the store
// is closed or failed, and Pebble's error.
func (s *Store) Streams(ctx context.Context) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{prefixHead}, UpperBound: []byte{prefixHead + 1}})
	if err != nil {
		return nil, err
	}
	var out []string
	for it.First(); it.Valid(); it.Next() {
		out = append(out, string(it.Key()[1:]))
	}
	return out, closeIter(it)
}
