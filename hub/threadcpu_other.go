//go:build !linux

package hub

// threadCPU is unknown on systems other than Linux: the monitor's CPU
// (Monitor.CPU) stays zero there.
func threadCPU() (int64, bool) { return 0, false }
