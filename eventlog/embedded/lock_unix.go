//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockFileName is the file in the data directory that liaison holds an
// exclusive flock(2) on while a Store is open. Pebble's own LOCK file uses
// fcntl locks, which do not conflict within one process; flock locks belong to
// the open file description, so a second Open in the same process fails too.
const lockFileName = "liaison.lock"

type dirLock struct{ f *os.File }

// lockDir takes the data directory's lock. It returns an error wrapping
// ErrLocked when another Store (in this process or another) holds it.
func lockDir(dir string) (*dirLock, error) {
	name := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			return nil, lockedError(dir)
		}
		return nil, fmt.Errorf("embedded: lock data directory %q: %w", dir, err)
	}
	// The pid is for a human looking at the directory; nothing reads it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock.
func (l *dirLock) release() error {
	return l.f.Close()
}

// isLockContention reports whether err is the operating system refusing a lock
// that someone else holds (Pebble's LOCK file, taken with fcntl).
func isLockContention(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EWOULDBLOCK)
}
