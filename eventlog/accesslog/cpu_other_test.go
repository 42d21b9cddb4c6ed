//go:build !unix

package accesslog_test

import "time"

// processCPU is 0 where getrusage is not available: the benchmark then
// reports no CPU time.
func processCPU() time.Duration { return 0 }
