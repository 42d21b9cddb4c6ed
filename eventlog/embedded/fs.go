package embedded

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walFS wraps Pebble's file system to count the syncs of write-ahead log files
// (Stats.WALSyncs: how many appends one fsync carries) and, in tests, to make
// them fail or wait.
type walFS struct {
	vfs.FS
	syncs   atomic.Uint64
	failErr atomic.Pointer[error]
	gate    atomic.Pointer[walGate]
}

// walGate holds WAL syncs (tests only): each sync signals waiting, then waits
// for release to be closed.
type walGate struct {
	waiting chan struct{}
	release chan struct{}
}

func (fs *walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs *walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

func (fs *walFS) Unwrap() vfs.FS { return fs.FS }

func (fs *walFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &walFile{File: f, fs: fs}, nil
}

type walFile struct {
	vfs.File
	fs *walFS
}

func (f *walFile) hold() {
	if g := f.fs.gate.Load(); g != nil {
		select {
		case g.waiting <- struct{}{}:
		default:
		}
		<-g.release
	}
}

func (f *walFile) synced(err error) error {
	if p := f.fs.failErr.Load(); p != nil {
		return *p
	}
	if err == nil {
		f.fs.syncs.Add(1)
	}
	return err
}

func (f *walFile) Sync() error {
	f.hold()
	return f.synced(f.File.Sync())
}

func (f *walFile) SyncData() error {
	f.hold()
	return f.synced(f.File.SyncData())
}

func (f *walFile) SyncTo(length int64) (bool, error) {
	f.hold()
	full, err := f.File.SyncTo(length)
	return full, f.synced(err)
}

// pebbleLogger passes Pebble's log lines to slog: its routine messages at
// Debug, its errors at Error — but while the disk is full (space.go), when
// the store has said so once, the errors of its background work that the
// full disk causes (a flush or compaction that found no room, retried later)
// at Debug, so that a full disk is logged once.
type pebbleLogger struct {
	log  *slog.Logger
	full *space
}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.full != nil && l.full.full.Load() && strings.Contains(msg, "no space left on device") {
		l.log.Debug(msg, "component", "pebble")
		return
	}
	l.log.Error(msg, "component", "pebble")
}

// Fatalf is called by Pebble when it cannot go on; it must not return. It
// panics with a pebbleFatal, which the committer turns into a failed store when
// the panic happens during its commit; elsewhere it ends the process.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "component", "pebble", "fatal", true)
	panic(pebbleFatal{msg})
}

// pebbleFatal is the panic value of pebbleLogger.Fatalf.
type pebbleFatal struct{ msg string }

func (f pebbleFatal) Error() string { return "embedded: pebble: " + f.msg }
