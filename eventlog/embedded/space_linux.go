package embedded

import (
	"os"
	"syscall"
)

// osStatFS returns the size and the bytes free (to an unprivileged writer) of
// the file system holding dir.
func osStatFS(dir string) (size, free int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), true
}

// allocateFile gives f size bytes of disk (fallocate), writing zeros where
// the file system cannot allocate.
func allocateFile(f *os.File, size int64) error {
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err == nil {
		return nil
	}
	return writeZeros(f, size)
}
