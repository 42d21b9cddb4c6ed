package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// A full disk.
//
// Pebble cannot recover from a write-ahead log write that the disk refuses:
// the error sticks, the store stops (ErrFailed), and only a restart brings it
// back. So the store never lets its disk fill up. Before it queues an append
// or a journal append it looks at the free space of its file system (statfs,
// at most every spaceCheckEvery); below the low mark it refuses, at once and
// writing nothing, with an error wrapping ErrDiskFull and
// eventlog.ErrUnavailable (the hub answers 503 with Retry-After, and its
// readiness turns 503: Health), and it logs why, once.
//
// It also keeps a reserve: a file of Options.DiskReserve bytes, allocated
// when the store opens, which it deletes as the disk fills, giving that room
// to what Pebble still has to write for the appends it accepted (memtable
// flushes, compactions, its manifest) and to the hub's derived data. Every
// spaceRetry it looks again; once the disk has room for the reserve and
// twice the low mark, it allocates the reserve again, takes appends again and
// logs so, once. Nothing acknowledged is lost on the way: a refused append
// was never written, and an accepted one was fsynced.

// ErrDiskFull is wrapped, with eventlog.ErrUnavailable, by the error of an
// append refused because the store's disk is full.
var ErrDiskFull = errors.New("embedded: the disk is full")

// DefaultDiskReserve is the reserve a hub keeps (Options.DiskReserve), at
// most an eighth of the file system.
const DefaultDiskReserve = 256 << 20

// statFS returns the size and the free bytes of the file system holding a
// directory (osStatFS; tests replace it), false when it cannot tell.
var statFS = osStatFS

// reserveFile holds the reserve, in the store's directory (Pebble ignores
// files it did not name).
const reserveFile = "liaison.reserve"

// How often the free space is looked at: before an append, at most every
// spaceCheckEvery; while the disk is full, every spaceRetry.
const (
	spaceCheckEvery = 5 * time.Millisecond
	spaceRetry      = 250 * time.Millisecond
)

type space struct {
	dir     string
	log     *slog.Logger
	reserve int64 // the reserve file's size; 0: none kept
	low     int64 // appends are refused below this many free bytes

	full      atomic.Bool
	lastCheck atomic.Int64 // Unix ns of the last statfs before an append

	mu     sync.Mutex
	since  time.Time // when the disk filled
	free   int64     // free bytes seen then
	stop   chan struct{}
	closed bool
	wg     sync.WaitGroup
}

// openSpace sets up the guard of dir: the reserve allocated (if the disk has
// room for it; else the store opens full and waits for room) and the first
// look at the free space. reserve <= 0 leaves the guard off.
func openSpace(dir string, reserve int64, log *slog.Logger) *space {
	sp := &space{dir: dir, log: log, stop: make(chan struct{})}
	if reserve <= 0 {
		return sp
	}
	size, free, ok := statFS(dir)
	if !ok {
		return sp // no statfs here: no guard
	}
	reserve = min(reserve, size/8)
	sp.reserve = reserve
	sp.low = max(reserve/4, 2*maxGroupBytes)
	if have := sp.reserveSize(); have < reserve {
		if free-reserve+have < sp.low {
			sp.fill(free)
			return sp
		}
		if err := sp.allocate(); err != nil {
			log.Warn("the store could not allocate its disk reserve", "dir", dir, "bytes", reserve, "err", err)
		}
	}
	sp.check(time.Now())
	return sp
}

func (sp *space) reservePath() string { return filepath.Join(sp.dir, reserveFile) }

func (sp *space) reserveSize() int64 {
	fi, err := os.Stat(sp.reservePath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// allocate writes the reserve file, durably.
func (sp *space) allocate() error {
	p := sp.reservePath()
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = allocateFile(f, sp.reserve)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return err
	}
	return eventlog.SyncDir(sp.dir)
}

// admit returns nil when the store may queue an append, and an error
// wrapping ErrDiskFull and eventlog.ErrUnavailable when its disk is full.
func (sp *space) admit() error {
	if sp.reserve == 0 {
		return nil
	}
	if !sp.full.Load() {
		now := time.Now()
		last := sp.lastCheck.Load()
		if now.UnixNano()-last < int64(spaceCheckEvery) || !sp.lastCheck.CompareAndSwap(last, now.UnixNano()) {
			return nil
		}
		if sp.check(now) {
			return nil
		}
	}
	return sp.err()
}

func (sp *space) err() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return fmt.Errorf("%w: %w: %d MiB free since %s (the store keeps %d MiB)", eventlog.ErrUnavailable, ErrDiskFull,
		sp.free>>20, sp.since.UTC().Format(time.RFC3339), sp.low>>20)
}

// health returns nil while the store takes appends, and why not otherwise.
func (sp *space) health() error {
	if !sp.full.Load() {
		return nil
	}
	return sp.err()
}

// check looks at the free space, and fills the guard below the low mark. It
// reports whether the disk has room.
func (sp *space) check(now time.Time) bool {
	_, free, ok := statFS(sp.dir)
	if !ok || free >= sp.low {
		return true
	}
	sp.fill(free)
	return false
}

// fill turns the guard full: appends are refused, the reserve is released,
// and a goroutine waits for room. It logs once.
func (sp *space) fill(free int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.full.Load() || sp.closed {
		return
	}
	sp.since, sp.free = time.Now(), free
	sp.full.Store(true)
	released := sp.reserveSize()
	if released > 0 {
		if err := os.Remove(sp.reservePath()); err != nil {
			released = 0
		} else {
			_ = eventlog.SyncDir(sp.dir)
		}
	}
	sp.log.Error("DISK FULL: the event store refuses appends and access records (the hub answers 503) until there is room on its disk; it released its reserve to finish the writes it accepted. Free disk space; it resumes by itself",
		"dir", sp.dir, "free_mib", free>>20, "low_mark_mib", sp.low>>20, "reserve_released_mib", released>>20)
	sp.wg.Add(1)
	go sp.waitForRoom()
}

// waitForRoom looks at the free space every spaceRetry until there is room
// for the reserve and twice the low mark, allocates the reserve again and
// takes appends again.
func (sp *space) waitForRoom() {
	defer sp.wg.Done()
	t := time.NewTicker(spaceRetry)
	defer t.Stop()
	for {
		select {
		case <-sp.stop:
			return
		case <-t.C:
		}
		_, free, ok := statFS(sp.dir)
		if !ok || free < sp.reserve+2*sp.low {
			continue
		}
		if err := sp.allocate(); err != nil {
			continue // another writer took the room meanwhile: wait on
		}
		sp.mu.Lock()
		since := sp.since
		sp.full.Store(false)
		sp.mu.Unlock()
		sp.log.Info("disk has room again: the event store takes appends again", "dir", sp.dir,
			"free_mib", (free-sp.reserve)>>20, "full_for", time.Since(since).Round(time.Millisecond))
		return
	}
}

// close stops the goroutine waiting for room.
func (sp *space) close() {
	sp.mu.Lock()
	if !sp.closed {
		sp.closed = true
		close(sp.stop)
	}
	sp.mu.Unlock()
	sp.wg.Wait()
}

// Health returns nil while the store takes appends, and an error wrapping
// ErrDiskFull and eventlog.ErrUnavailable, saying since when and how much is
// free, while its disk is full (see space.go). The hub's readiness follows it.
func (s *Store) Health() error { return s.space.health() }

// writeZeros writes size zero bytes to f from its start.
func writeZeros(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
