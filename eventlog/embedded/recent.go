package embedded

import "sync"

// recentRecords is how many of the journal's latest records the store keeps
// in memory, as appended (about 16 MiB of access records, and 768 KiB of
// slice headers). The privacy monitor (hub.Monitor) takes the access log in
// once a second under load, and a second of P3's reads is 15,000 to 22,000
// records: with a ring of 8,192, it read most of each second's records back
// from Pebble, 2.2% of the hub's CPU under wrk's many-identity section reads
// (scanNumbered, in a CPU profile), which the larger ring removes.
const recentRecords = 32768

// recent holds the journal's latest records, as their appenders gave them,
// so that the readers that follow the journal closely take them from memory
// instead of reading back what was just written: the follower of the access
// tree and query index and the privacy monitor each read every record, most
// often within milliseconds of its commit, and reading it back from Pebble
// (an iterator, a checksum, a copy) was 4 % of the hub's CPU under P3's
// reads (BENCHMARKS.md, "P3 with wrk"). The committer adds a group's records
// once they are durable, before it publishes them; a reader asking for
// records the ring no longer holds reads them from the store.
//
// The records are shared, not copied: AppendRecords' callers must not modify
// them afterwards, and ReadRecords' readers must not modify what they are
// given (eventlog.Journal).
type recent struct {
	mu    sync.RWMutex
	ring  [recentRecords][]byte // record i at i % recentRecords
	start uint64                // the first index held
	end   uint64                // the index after the last held
}

// add keeps the records from index first on. Records are added in order and
// without gaps, but for the first call (or after a gap, which starts over).
func (r *recent) add(first uint64, records [][]byte) {
	if len(records) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if first != r.end {
		r.start, r.end = first, first
	}
	for _, rec := range records {
		r.ring[r.end%recentRecords] = rec
		r.end++
	}
	r.start = max(r.start, r.end-min(r.end, recentRecords))
}

// drop forgets the records below index before (those retention prunes).
func (r *recent) drop(before uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ; r.start < min(before, r.end); r.start++ {
		r.ring[r.start%recentRecords] = nil
	}
}

// read appends to dst the records held from index from on, up to end and to
// cap(dst), and returns dst, and where the held records start when it
// holds none from from on.
func (r *recent) read(from, end uint64, dst [][]byte) ([][]byte, uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if from < r.start || from >= r.end {
		return dst, r.start
	}
	for i := from; i < min(end, r.end) && len(dst) < cap(dst); i++ {
		dst = append(dst, r.ring[i%recentRecords])
	}
	return dst, r.start
}
