package hub

import "golang.org/x/sys/unix"

// threadCPU returns the CPU time the calling OS thread has used; with the
// goroutine locked to its thread (runtime.LockOSThread), the goroutine's.
func threadCPU() (d int64, ok bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return ts.Nano(), true
}
