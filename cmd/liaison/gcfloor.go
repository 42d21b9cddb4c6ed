package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's floor.
//
// Go collects when the heap has grown by GOGC percent (100) of what the last
// collection left live. A hub's live heap is small next to what its calls
// allocate (some 30 MiB while serving 15,000 reads a second, each allocating
// some 7 KiB), so it collected five times a second, for 6–7% of its CPU
// (BENCHMARKS.md, "Fewer fsyncs under load"). gcFloor gives the heap at least
// gcHeadroom to grow into before a collection: it sets GOGC to
// 100 × gcHeadroom ÷ live, between 100 and gcMaxPercent, after each look at
// the live heap. A large hub (hundreds of MiB live, docs/targets.md, P8) keeps
// GOGC 100, so its peak memory does not change; a small one uses at most
// gcHeadroom more. An operator's own GOGC (the environment variable) is left
// alone.
const (
	gcHeadroom   = 64 << 20
	gcMaxPercent = 400
	gcLookEvery  = time.Second
)

// gcPercentFor returns the GOGC that gives a heap of live bytes gcHeadroom to
// grow into, within [100, gcMaxPercent]. Before the first collection the live
// heap reads 0, unknown: then Go's default, 100, so that a hub rebuilding a
// large store's projections at start does not grow its heap fivefold first.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(min(max(100*gcHeadroom/live, 100), gcMaxPercent))
}

// gcFloor adjusts GOGC every gcLookEvery until ctx ends, unless the GOGC
// environment variable is set.
func gcFloor(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	t := time.NewTicker(gcLookEvery)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64()); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
