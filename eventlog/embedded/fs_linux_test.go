package embedded_test

import "syscall"

// onTmpfs reports whether dir is on tmpfs (memory), where an fsync costs
// nothing and a benchmark of durable writes would mean nothing.
func onTmpfs(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == 0x01021994 // TMPFS_MAGIC
}
