package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Backup.
//
// Backup makes a consistent copy of the store while it serves: Pebble's
// checkpoint (DB.Checkpoint) after a synced flush of its write-ahead log. The
// copy hard-links the store's immutable table files where it can (the same
// file system) and copies them otherwise, copies the write-ahead log and the
// manifest as they are at that moment, and syncs every file it writes and
// the directories. It holds every event and journal record durable when
// Backup was called, and perhaps some that were committed while it ran; it
// opens as a store of its own (docs/operations.md, "Backup and restore").

// BackupInfo says what Backup copied.
type BackupInfo struct {
	// Dir is the copy.
	Dir string
	// Head is the position of the last event durable when the backup began,
	// and Records the journal's length then: the copy holds at least those.
	Head, Records uint64
	// Files and Bytes count the copy's files and their size; Linked counts
	// those hard-linked to the store's (which take no new space).
	Files, Linked int
	Bytes         int64
	// Took is how long the checkpoint took.
	Took time.Duration
}

// Backup copies the store into dir, which must not exist (its parent is
// created if needed). It returns what it copied; an error wrapping
// eventlog.ErrClosed when the store is closed or failed, fs.ErrExist when dir
// exists, and Pebble's or the file system's error otherwise (then the
// partial copy is removed).
func (s *Store) Backup(ctx context.Context, dir string) (BackupInfo, error) {
	if err := ctx.Err(); err != nil {
		return BackupInfo{}, err
	}
	if err := s.enter(); err != nil {
		return BackupInfo{}, err
	}
	defer s.leave()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return BackupInfo{}, err
	}
	if _, err := os.Stat(abs); err == nil {
		return BackupInfo{}, fmt.Errorf("embedded: backup: %s: %w", abs, fs.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return BackupInfo{}, fmt.Errorf("embedded: backup: %w", err)
	}
	info := BackupInfo{Dir: abs, Head: s.head.Load(), Records: s.jlen.Load()}
	start := time.Now()
	if err := s.db.Checkpoint(abs, pebble.WithFlushedWAL()); err != nil {
		return BackupInfo{}, fmt.Errorf("embedded: backup: %w", err)
	}
	info.Took = time.Since(start)
	ents, err := os.ReadDir(abs)
	if err != nil {
		return info, fmt.Errorf("embedded: backup: %w", err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		info.Files++
		info.Bytes += fi.Size()
		if src, err := os.Stat(filepath.Join(s.dir, e.Name())); err == nil && os.SameFile(src, fi) {
			info.Linked++
		}
	}
	return info, nil
}

// LockDir takes the lock a Store holds on dir while it is open, so that no
// hub opens it meanwhile (key rotation with the hub stopped), and returns
// the function that releases it. It returns an error wrapping ErrLocked when
// a Store has it open.
func LockDir(dir string) (release func() error, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("embedded: %s: %w", dir, err)
	}
	l, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
