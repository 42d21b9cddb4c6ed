package embedded

// SetStatFS replaces how the stores look at their file system's free space,
// until the returned function restores it.
func SetStatFS(f func(dir string) (size, free int64, ok bool)) (restore func()) {
	old := statFS
	statFS = f
	return func() { statFS = old }
}

// SetFormat stores v as the store's format, as a release writing another
// format would.
func SetFormat(s *Store, v byte) error { return s.db.Set(formatKey, []byte{v}, nil) }

// ReserveFile is the name of the reserve file in a store's directory.
const ReserveFile = reserveFile
