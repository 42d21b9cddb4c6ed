package embedded

import (
	"sync"
	"time"
)

// FailWALSyncs makes every later fsync of the write-ahead log fail with err, as
// a failing disk would.
func FailWALSyncs(s *Store, err error) { s.fs.failErr.Store(&err) }

// HoldWALSyncs makes fsyncs of the write-ahead log wait until release is
// called; waiting receives a value when a sync starts to wait.
func HoldWALSyncs(s *Store) (waiting <-chan struct{}, release func()) {
	g := &walGate{waiting: make(chan struct{}, 1), release: make(chan struct{})}
	s.fs.gate.Store(g)
	var once sync.Once
	return g.waiting, func() {
		once.Do(func() {
			s.fs.gate.Store(nil)
			close(g.release)
		})
	}
}

// Settle waits until Pebble has run no flush or compaction for a moment, so
// that a benchmark measures reads, not the compactions of its own setup.
func Settle(s *Store) {
	for quiet := 0; quiet < 4; {
		m := s.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Format returns the store's stored format.
func Format(s *Store) (byte, error) {
	v, closer, err := s.db.Get(formatKey)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	return v[0], nil
}

// HeldRecords returns the indexes of the first journal record the store
// holds in memory and of the one after its last.
func HeldRecords(s *Store) (start, end uint64) {
	s.recent.mu.RLock()
	defer s.recent.mu.RUnlock()
	return s.recent.start, s.recent.end
}

// RecentRecords is how many records the store holds in memory.
const RecentRecords = recentRecords

// FlushedKVTables flushes the memtable and returns the first and last KV key
// (the caller's keys) of each table of level 0 that holds KV keys only.
func FlushedKVTables(s *Store) ([][2]string, error) {
	if err := s.db.Flush(); err != nil {
		return nil, err
	}
	levels, err := s.db.SSTables()
	if err != nil {
		return nil, err
	}
	var tables [][2]string
	for _, t := range levels[0] {
		first, last := t.Smallest.UserKey, t.Largest.UserKey
		if first[0] == prefixKV && last[0] == prefixKV {
			tables = append(tables, [2]string{string(first[1:]), string(last[1:])})
		}
	}
	return tables, nil
}
