package keystore

// SetRewrapHook sets the hook Rewrap calls before each file it replaces.
func SetRewrapHook(s *FileStore, hook func(n int) error) { s.rewrapHook = hook }
