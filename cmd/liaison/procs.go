package main

import (
	"os"
	"runtime"
)

// One processor more than the cores, for the fsync.
//
// Every access record is durable before its answer, so a hub on the embedded
// store calls fdatasync hundreds of times a second (BENCHMARKS.md, "Fewer
// fsyncs under load"), each taking 250–400 µs on the reference machine. A
// goroutine in a system call keeps its processor (Go's P) until the runtime's
// monitor thread notices it at one of its ticks (20 µs at the shortest, some
// 90 µs on that machine's timers, longer after a quiet spell) and hands the P
// to another thread. With one P per core, a core's worth of Go code meanwhile
// waits on the disk while the reads queue. serveProcs gives the runtime one P
// more than its default, so that the P held by an fsync leaves one per core
// for the rest; the fsync itself takes no CPU while it waits (BENCHMARKS.md,
// "One processor more than the cores": 4.5–6.7% more reads a second on two
// cores). An operator's own GOMAXPROCS (the environment variable) is left
// alone, and so is a hub on EventStoreDB, which fsyncs in the cluster, not
// here.
//
// Setting GOMAXPROCS turns off the runtime's own updates of it when the
// container's CPU limit changes; a changed limit takes effect at the hub's
// next start. The returned function puts back the setting found (a serve run
// in a test's process).
func serveProcs(embeddedStore bool) (restore func()) {
	if !embeddedStore || os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	before := runtime.GOMAXPROCS(0)
	runtime.SetDefaultGOMAXPROCS()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	return func() { runtime.GOMAXPROCS(before) }
}
