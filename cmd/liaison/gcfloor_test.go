package main

import "testing"

// TestGCPercentFor: a small live heap gets gcHeadroom to grow into, within
// [100, gcMaxPercent]; a large one, or one not yet measured, keeps Go's
// default.
func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, gcMaxPercent},
		{16 << 20, 400},
		{32 << 20, 200},
		{48 << 20, 133},
		{64 << 20, 100},
		{512 << 20, 100},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
