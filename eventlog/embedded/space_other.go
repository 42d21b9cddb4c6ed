//go:build !linux

package embedded

import "os"

// osStatFS reports nothing outside Linux: the guard of a full disk is off
// (docs/operations.md, "A full disk").
func osStatFS(dir string) (size, free int64, ok bool) { return 0, 0, false }

func allocateFile(f *os.File, size int64) error { return writeZeros(f, size) }
