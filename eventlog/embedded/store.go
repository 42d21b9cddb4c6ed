// Package embedded is the default backend of eventlog: the case event log, the
// access journal and the derived key-value space, all in one Pebble database in
// the hub's data directory (the key schema is described in keys.go).
//
// A single committer goroutine turns every pending Append, AppendRecords and
// AppendWithRecords into one Pebble batch written with Sync, so concurrent
// writers share fsyncs (group commit); see commit.go. Store is an
// eventlog.RecordingLog: AppendWithRecords writes a case's events and the
// access records that account for them in the same batch.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/liaison-hub/liaison/eventlog"
)

// ErrLocked is wrapped by the error Open returns when another Store (in this
// process or in another liaison process) has the data directory open.
var ErrLocked = errors.New("embedded: data directory locked")

// ErrFailed is wrapped by every error the Store returns once a commit has
// failed (the disk refused a write or an fsync). From then on the Store serves
// nothing, because its memory may no longer match the disk: reopen it to
// recover what was made durable.
var ErrFailed = errors.New("embedded: store stopped after a failed commit")

// DefaultCacheSize is the block cache Open uses when Options.CacheSize is 0.
const DefaultCacheSize = 48 << 20

// Pebble settings. memTableSize is four times the largest group the committer
// builds, so that a group stays under Pebble's "large batch" threshold (half a
// memtable), which would force a flush; Pebble keeps at most two memtables.
// Blocks are 32 KiB (Pebble's default is 4 KiB) because reads are mostly long
// scans of ~600-byte events.
//
// Compression: the sstables of the two bottom levels, which hold nearly all
// the data once compacted, compress their blocks with zstd (Pebble's "Good"
// profile: level 3 for data blocks, a block that shrinks by less than 5 %
// stays as it is); the levels above, which flushes and the first compactions
// write, are not compressed, so that a burst of appends costs no compression —
// but for the access records, which a flush writes to blob files, once, with
// zstd (separation). What compresses is the access journal ('J': access
// records, hundreds of bytes of JSON whose field names, identities,
// organisations, actions and reasons repeat from record to record) and the
// query index ('K' 'A'): a 32 KiB block of records holds its repeated strings
// once. The case events ('E') arrive encrypted (eventlog/codec) and do not
// compress: their span uses Pebble's fastest compression (spanPolicyFunc),
// which gives up on them at little cost. BenchmarkBytesPerRecord
// (eventlog/accesslog): 597.6 bytes on disk per access record before, 180
// after (BENCHMARKS.md, "Access log bytes"). Pebble records each block's
// compression, so stores written before, uncompressed, read as they are and
// compress as they are compacted.
//
// lbaseMaxBytes is the most the level that flushes are compacted into may
// hold (Pebble's default is 64 MiB): Pebble puts it as low as it can, and a
// store of less than 64 MiB of tables compacted every flush straight into a
// zstd-compressed bottom level, decompressing and compressing again every
// query-index key there, which a flush's new index keys overlap all over.
// With 4 MiB, those compactions go into an uncompressed level above, and
// the bottom levels take their keys in less often. In the hub under wrk's
// many-identity section reads, on copies of a data directory of 350,000
// access records: 1.10 times the reads a second (median of 6 alternated
// pairs, every pair above 1); one identity 1.02 (4 pairs). Once compacted,
// the data sits in the bottom levels as before: BenchmarkBytesPerRecord
// (eventlog/accesslog, 200,000 records) gives 144.5 bytes on disk per
// record against 141.7.
const (
	memTableSize  = 4 * maxGroupBytes
	blockSize     = 32 << 10
	lbaseMaxBytes = 4 << 20
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Clock gives RecordedAt to committed events; it defaults to time.Now. The
	// store never lets RecordedAt go backwards in the global order, whatever the
	// clock does.
	Clock func() time.Time
	// Logger receives the store's and Pebble's log lines; it defaults to
	// slog.Default().
	Logger *slog.Logger
	// CacheSize is the size in bytes of Pebble's block cache; it defaults to
	// DefaultCacheSize.
	CacheSize int64
	// DiskReserve turns on the guard of a full disk (space.go) with a reserve
	// of that many bytes, at most an eighth of the file system; the hub uses
	// DefaultDiskReserve. 0 (tools, tests) leaves the guard off.
	DiskReserve int64
	// KVSpans, when set, splits the KV keyspace into spans whose keys the
	// store keeps in sstables apart: given a KV key (the caller's key), it
	// returns the end (exclusive) of the span that key starts, or nil for a
	// span that runs to the end of the keyspace. Keys the caller appends in
	// key order (a Merkle tree's levels: transparency.TableSpan) belong in
	// spans of their own: a flush then writes each such span's new keys to a
	// table of its own, above every key already stored, which the
	// compactions that follow merge with the last table of the span only,
	// instead of rewriting every key between that span's first new key and
	// the last new key of the flush. Only where tables are cut changes:
	// a store opened with and without it holds and reads the same keys.
	KVSpans func(key []byte) []byte
}

// Stats counts what the store has committed since Open.
type Stats struct {
	// Groups is the number of Pebble batches the committer wrote.
	Groups uint64
	// Requests is the number of Append, AppendRecords and AppendWithRecords
	// calls those batches carried (conflicting ones included).
	Requests uint64
	// Events and Records are the case events and journal records written.
	Events, Records uint64
	// WALSyncs is the number of fsyncs of Pebble's write-ahead log.
	WALSyncs uint64
}

// Store is an eventlog.Log (an eventlog.RecordingLog), an eventlog.Journal and
// an eventlog.KV kept in one Pebble database. Its methods are safe for
// concurrent use.
type Store struct {
	dir   string
	db    *pebble.DB
	fs    *walFS
	lock  *dirLock
	space *space // the guard of a full disk
	clock func() time.Time
	log   *slog.Logger

	// mu guards the request queue and the lifecycle.
	mu    sync.Mutex
	queue []*request
	// waitFor is set while the committer waits in waitQueue: it wants a token
	// on kick once the queue holds waitFor requests or the store stops.
	waitFor int
	kick    chan struct{} // buffered, 1
	closed  bool
	failErr error          // set once, by the first failed commit
	users   sync.WaitGroup // reads and KV writes in progress

	stopped  chan struct{} // closed when the store closes or fails
	stopOnce sync.Once
	down     atomic.Bool // closed or failed: iterations stop at their next step

	// Owned by the committer goroutine (and Open before it starts).
	heads    map[string]uint64 // stream → version, including groups not yet synced
	lastPos  uint64            // last position handed out
	nextIdx  uint64            // next journal index handed out
	lastTime int64             // RecordedAt of the last group, Unix ns

	committerDone chan struct{} // closed when the committer has answered every request

	// Durable state, advanced by the committer after each fsync.
	hmu     sync.Mutex
	head    atomic.Uint64 // last durable position
	jlen    atomic.Uint64 // durable journal length
	advance chan struct{} // closed and replaced when head advances

	groups, requests, events, records atomic.Uint64

	// pruned is the number of journal records whose content PruneRecords
	// removed (the records 0 to pruned-1); pmu serialises prunings.
	pruned atomic.Uint64
	pmu    sync.Mutex
	// recent holds the journal's latest records (recent.go).
	recent recent
}

var (
	_ eventlog.RecordingLog = (*Store)(nil)
	_ eventlog.Journal      = (*Store)(nil)
	_ eventlog.KV           = (*Store)(nil)
)

// Open opens the store in dir, creating the directory and an empty store if
// needed, and loads the stream heads. It returns an error wrapping ErrLocked
// when the directory is in use by another Store, an error wrapping
// eventlog.ErrCorrupt when the stored data cannot be read back, and Pebble's or
// the operating system's error otherwise.
func Open(dir string, opts Options) (*Store, error) {
	start := time.Now()
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	sp := openSpace(dir, opts.DiskReserve, opts.Logger)
	fs := &walFS{FS: vfs.Default}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	popts := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		Logger:             pebbleLogger{log: opts.Logger, full: sp},
		MemTableSize:       memTableSize,
		LBaseMaxBytes:      lbaseMaxBytes,
		FormatMajorVersion: pebble.FormatNewest,
		// Pebble's default answer to on-disk corruption is Logger.Fatalf, which
		// would end the hub; the read that met it returns an error instead
		// (ErrCorrupt to our callers), and the corruption is logged.
		EventListener: &pebble.EventListener{DataCorruption: func(info pebble.DataCorruptionInfo) {
			opts.Logger.Error("on-disk corruption detected", "component", "pebble", "info", info.String())
		}},
	}
	for i := range popts.Levels {
		popts.Levels[i].BlockSize = blockSize
		popts.Levels[i].Compression = func() *sstable.CompressionProfile { return upperLevels }
		if i >= len(popts.Levels)-2 {
			popts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.GoodCompression }
		}
	}
	popts.Experimental.SpanPolicyFunc = spanPolicyFunc(opts.KVSpans)
	popts.Experimental.ValueSeparationPolicy = separation
	db, err := pebble.Open(dir, popts)
	if err != nil {
		sp.close()
		lock.release()
		if isLockContention(err) {
			return nil, lockedError(dir)
		}
		return nil, fmt.Errorf("embedded: open %q: %w", dir, err)
	}
	s := &Store{
		dir:           dir,
		db:            db,
		fs:            fs,
		lock:          lock,
		space:         sp,
		clock:         opts.Clock,
		log:           opts.Logger,
		stopped:       make(chan struct{}),
		heads:         make(map[string]uint64),
		committerDone: make(chan struct{}),
		advance:       make(chan struct{}),
		kick:          make(chan struct{}, 1),
	}
	if err := s.load(); err != nil {
		db.Close()
		sp.close()
		lock.release()
		return nil, err
	}
	go s.commitLoop()
	s.log.Info("event store opened", "dir", dir, "head", s.head.Load(),
		"streams", len(s.heads), "journal", s.jlen.Load(), "took", time.Since(start))
	return s, nil
}

// spanPolicyFunc returns the store's span policy: the case events ('E'
// keys, encrypted payloads) compressed with Pebble's fastest algorithm,
// which stores their blocks as they are once it finds they do not shrink;
// every other keyspace gets its level's compression. Only the journal's
// records ('J') are separated into blob files (separation); every other
// value stays in its sstable. Each keyspace, and each of the KV's spans
// (Options.KVSpans), is a span of its own: Pebble ends an sstable where a
// span ends.
func spanPolicyFunc(kvSpans func(key []byte) []byte) pebble.SpanPolicyFunc {
	inPlace := pebble.SpanPolicy{ValueStoragePolicy: pebble.ValueStorageLowReadLatency}
	return func(start []byte) (pebble.SpanPolicy, []byte, error) {
		switch {
		case len(start) == 0 || start[0] < prefixEvent:
			return inPlace, []byte{prefixEvent}, nil
		case start[0] == prefixEvent:
			events := inPlace
			events.PreferFastCompression = true
			return events, []byte{prefixEvent + 1}, nil
		case start[0] < prefixJournal:
			return inPlace, []byte{prefixJournal}, nil
		case start[0] == prefixJournal:
			return pebble.SpanPolicy{}, []byte{prefixJournal + 1}, nil
		case start[0] == prefixKV && kvSpans != nil:
			// An end at or before start would cut a table after every key.
			if end := kvSpans(start[1:]); end != nil && bytes.Compare(end, start[1:]) > 0 {
				return inPlace, kvKey(end), nil
			}
			return inPlace, []byte{prefixKV + 1}, nil
		}
		return inPlace, nil, nil
	}
}

// separation is Pebble's value separation, for the journal's records only
// (spanPolicyFunc): a flush writes the records to a blob file once, compressed
// (upperLevels), and the compactions that follow move the sstables' keys
// and references, not the records again. The records' keys come in order,
// but each flush's sstables span the journal and the KV keys after it (the
// tree's nodes, the query index), which land all over their keyspace: the
// compactions of the levels above the last rewrote the records with them.
// BenchmarkAppendFollowed (eventlog/accesslog, 200,000 records): 22.3 →
// 19.4 µs of CPU per record, medians of 3 side by side; the bytes on disk
// per record after compaction go from 136.8 to 141.6 (BenchmarkBytesPerRecord).
// Access records are never rewritten but by retention, which prunes the
// oldest ones: the blob files they leave without a reference are deleted,
// and those left with less than TargetGarbageRatio of them referenced are
// rewritten once they are RewriteMinimumAge old.
func separation() pebble.ValueSeparationPolicy {
	return pebble.ValueSeparationPolicy{
		Enabled:               true,
		MinimumSize:           128, // an access record is 300 to 600 bytes
		MaxBlobReferenceDepth: 10,
		RewriteMinimumAge:     time.Hour,
		TargetGarbageRatio:    0.2,
	}
}

// upperLevels is the compression of the levels above the last two: their
// sstables' blocks are stored as they are, and the blob files flushes write
// (separation) are compressed as the bottom levels' blocks are.
var upperLevels = func() *sstable.CompressionProfile {
	p := *sstable.NoCompression
	p.Name = "liaison-upper"
	p.ValueBlocks = sstable.GoodCompression.ValueBlocks
	p.MinReductionPercent = sstable.GoodCompression.MinReductionPercent
	return &p
}()

func lockedError(dir string) error {
	return fmt.Errorf("data directory %q is in use by another liaison process (%w)", dir, ErrLocked)
}

// load checks the schema version and reads the stream heads, the head position
// and the journal length.
func (s *Store) load() error {
	v, closer, err := s.db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("embedded: %q holds a Pebble database that is not a liaison store", s.dir)
		}
		if err := s.db.Set(formatKey, []byte{firstFormat}, pebble.Sync); err != nil {
			return fmt.Errorf("embedded: initialise store: %w", err)
		}
	case err != nil:
		return fmt.Errorf("embedded: read schema version: %w", err)
	default:
		format := bytes.Clone(v)
		closer.Close()
		if err := checkFormat(s.dir, format); err != nil {
			return err
		}
	}

	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixHead}, UpperBound: []byte{prefixHead + 1},
	})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil || len(v) != 8 {
			stream := string(it.Key()[1:])
			it.Close()
			return corruptf("head of stream %q: %v", stream, err)
		}
		s.heads[string(it.Key()[1:])] = binary.BigEndian.Uint64(v)
	}
	if err := closeIter(it); err != nil {
		return err
	}

	pos, found, val, err := s.lastNumKey(prefixEvent, true)
	if err != nil {
		return err
	}
	if found {
		var r eventlog.Recorded
		if err := decodeEvent(pos, val, interner{}, &r); err != nil {
			return err
		}
		s.lastTime = r.RecordedAt.UnixNano()
	}
	s.lastPos = pos
	s.head.Store(pos)

	idx, found, _, err := s.lastNumKey(prefixJournal, false)
	if err != nil {
		return err
	}
	if found {
		idx++
	}
	pruned, err := s.readPruned()
	if err != nil {
		return err
	}
	s.pruned.Store(pruned)
	idx = max(idx, pruned)
	s.nextIdx = idx
	s.jlen.Store(idx)
	return nil
}

// lastNumKey returns the number in the last key of a numbered keyspace, false
// if it is empty, and, if withValue, a copy of its value.
func (s *Store) lastNumKey(prefix byte, withValue bool) (n uint64, found bool, val []byte, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1},
	})
	if err != nil {
		return 0, false, nil, err
	}
	if it.Last() {
		if len(it.Key()) != 9 {
			it.Close()
			return 0, false, nil, corruptf("key %x has the wrong length", it.Key())
		}
		n, found = binary.BigEndian.Uint64(it.Key()[1:]), true
		if withValue {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return 0, false, nil, err
			}
			val = append([]byte(nil), v...)
		}
	}
	return n, found, val, closeIter(it)
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, closeIter(it)
}

// Stats returns what the store has committed since Open.
func (s *Store) Stats() Stats {
	return Stats{
		Groups:   s.groups.Load(),
		Requests: s.requests.Load(),
		Events:   s.events.Load(),
		Records:  s.records.Load(),
		WALSyncs: s.fs.syncs.Load(),
	}
}

// Close waits for the appends already submitted to be committed, stops the
// subscriptions (they return eventlog.ErrClosed), waits for the reads in
// progress to notice (an iteration stops at its next step, but a running
// subscription handler or loop body is waited for) and closes the database. Every later call returns an error wrapping
// eventlog.ErrClosed; a second Close returns nil. Close returns Pebble's error
// if the database does not close cleanly.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	kick := s.wakeLocked()
	s.mu.Unlock()
	if kick {
		s.kickCommitter()
	}
	<-s.committerDone
	s.stop()
	s.users.Wait()
	s.space.close()
	err := s.db.Close()
	return errors.Join(err, s.lock.release())
}

// stop wakes subscriptions and makes iterations end at their next step.
func (s *Store) stop() {
	s.stopOnce.Do(func() {
		s.down.Store(true)
		close(s.stopped)
	})
}

// Compact compacts the whole store, so that what is read next does not race
// the compactions that earlier writes started: benchmarks measure a store at
// rest this way, as a hub's store is between bursts. It returns an error
// wrapping eventlog.ErrClosed when the store is closed or failed, and
// Pebble's error.
func (s *Store) Compact(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	return nil
}

// enter registers a read or KV write, so that Close waits for it. It returns an
// error wrapping eventlog.ErrClosed when the store is closed or failed.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.failErr != nil {
		return s.downErrLocked()
	}
	s.users.Add(1)
	return nil
}

func (s *Store) leave() { s.users.Done() }

func (s *Store) downErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downErrLocked()
}

func (s *Store) downErrLocked() error {
	if s.failErr != nil {
		return fmt.Errorf("%w: %w", eventlog.ErrClosed, s.failErr)
	}
	return eventlog.ErrClosed
}

func closeIter(it io.Closer) error {
	if err := it.Close(); err != nil {
		return fmt.Errorf("embedded: read: %w", err)
	}
	return nil
}

// Usage is an estimate of the store's bytes on disk, for the measures of
// BENCHMARKS.md ("Access log bytes"): how much of the sstables each
// keyspace takes, and how much the whole store does.
type Usage struct {
	// Journal is the bytes of the journal's records ('J' keys); Events the
	// bytes of the case log (its 'E', 'S' and 'H' keys).
	Journal, Events uint64
	// KV maps each prefix asked for (as a string) to the bytes of the KV
	// keys that start with it.
	KV map[string]uint64
	// Files is the size of the live sstables and of the directory's other
	// files (the write-ahead log, the manifest, …): what the store keeps once
	// Pebble has deleted the sstables that compactions made obsolete.
	Files uint64
}

// DiskUsage estimates the store's bytes on disk (see Usage), with the KV
// keys that start with each of kvPrefixes counted apart. The estimates of
// key ranges come from the sstables' indexes (Pebble's EstimateDiskUsage):
// they are exact to a block, and they leave out what the memtables and the
// write-ahead log still hold, so measure after Compact. It returns an error
// wrapping eventlog.ErrClosed when the store is closed or failed, and the
// file system's error.
func (s *Store) DiskUsage(kvPrefixes ...[]byte) (Usage, error) {
	if err := s.enter(); err != nil {
		return Usage{}, err
	}
	defer s.leave()
	span := func(prefix []byte) (uint64, error) {
		end := upperBound(prefix)
		if end == nil {
			end = []byte{0xff, 0xff}
		}
		// EstimateDiskUsage's end is inclusive: a key equal to end starts
		// the next keyspace and is at most one block more.
		return s.db.EstimateDiskUsage(prefix, end)
	}
	var u Usage
	var err error
	if u.Journal, err = span([]byte{prefixJournal}); err != nil {
		return Usage{}, err
	}
	for _, p := range []byte{prefixEvent, prefixStream, prefixHead} {
		n, err := span([]byte{p})
		if err != nil {
			return Usage{}, err
		}
		u.Events += n
	}
	u.KV = make(map[string]uint64, len(kvPrefixes))
	for _, p := range kvPrefixes {
		if u.KV[string(p)], err = span(append([]byte{prefixKV}, p...)); err != nil {
			return Usage{}, err
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return Usage{}, err
	}
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext == ".sst" || ext == ".blob" {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			u.Files += uint64(info.Size())
		}
	}
	m := s.db.Metrics()
	u.Files += uint64(m.Total().TablesSize) + m.BlobFiles.LiveSize
	return u, nil
}
