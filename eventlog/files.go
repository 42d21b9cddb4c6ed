package eventlog

import (
	"os"
	"path/filepath"
)

// WriteFileSynced replaces path with b durably: it writes a temporary file
// beside it with mode, syncs it, renames it into place and, when syncDir is
// set, syncs the directory. After a crash the file is the old one or the new
// one, never a part; with syncDir, the new one once WriteFileSynced has
// returned. The temporary file is removed on failure.
func WriteFileSynced(path string, b []byte, mode os.FileMode, syncDir bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !syncDir {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, so that the creations, renames and removals in
// it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
