//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package embedded

// dirLock is a no-op where flock(2) is not available: Pebble's own LOCK file
// still keeps a second process out.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() error { return nil }

func isLockContention(error) bool { return false }
