package main

import (
	"runtime"
	"testing"
)

// TestServeProcs checks that a hub on the embedded store runs with one P more
// than the runtime's default, however often serve starts in one process, and
// that an operator's GOMAXPROCS and a hub on EventStoreDB are left alone.
func TestServeProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)

	restore := serveProcs(true)
	if got := runtime.GOMAXPROCS(0); got != def+1 {
		t.Fatalf("embedded store: GOMAXPROCS %d, want %d", got, def+1)
	}
	again := serveProcs(true) // a second serve in the same process
	if got := runtime.GOMAXPROCS(0); got != def+1 {
		t.Fatalf("second start: GOMAXPROCS %d, want %d", got, def+1)
	}
	again()
	restore()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Fatalf("after restore: GOMAXPROCS %d, want %d", got, def)
	}

	runtime.GOMAXPROCS(3)
	restore = serveProcs(false)
	got := runtime.GOMAXPROCS(0)
	restore()
	if got != 3 {
		t.Fatalf("esdb store: GOMAXPROCS changed to %d", got)
	}
	t.Setenv("GOMAXPROCS", "3")
	restore = serveProcs(true)
	got = runtime.GOMAXPROCS(0)
	restore()
	if got != 3 {
		t.Fatalf("operator's GOMAXPROCS=3 changed to %d", got)
	}
}
