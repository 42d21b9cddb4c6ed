package embedded

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// Key schema. Every key starts with one byte naming its keyspace, so the
// keyspaces never collide and each one is a single contiguous key range:
//
//	'M' name                                      → metadata: "format" → schemaVersion (1 byte),
//	                                                "pruned" → journal records pruned (8 BE)
//	'E' pos (8, big-endian)                       → event record, pos = 1, 2, 3… (global order)
//	'S' uvarint(len(stream)) stream version (8 BE) → pos (8 BE): the stream index
//	'H' stream                                    → version (8 BE): the stream's head
//	'J' index (8 BE)                              → journal record, index = 0, 1, 2…
//	'K' key                                       → KV value (the caller's key, verbatim)
//
// Fixed-width big-endian numbers make Pebble's byte order the numeric order,
// so a scan of 'E' is the global order, a scan of one stream's 'S' range is its
// version order and a scan of 'J' is the journal order. The length prefix in
// 'S' keeps a stream's range from containing another stream whose name
// extends it. One append group writes its 'E', 'S', 'H' and 'J' keys in one
// batch, so they are always consistent with each other; the head position and
// the journal length are not stored but read back from the last 'E' and 'J'
// keys at Open.
//
// Event record (value of an 'E' key):
//
//	format (1) = recordFormat
//	crc32c (4, BE) of everything after it
//	recordedAt (8, BE, Unix nanoseconds, UTC)
//	version (8, BE)
//	id (16)
//	uvarint(len) stream, uvarint(len) type, uvarint(len) metadata
//	data (the rest)
//
// Journal record (value of a 'J' key): format (1), crc32c (4, BE) of data, data.
//
// The key schema and the record formats are persisted: change them only by
// adding a new schemaVersion and reading the old one.
const (
	prefixMeta    = 'M'
	prefixEvent   = 'E'
	prefixStream  = 'S'
	prefixHead    = 'H'
	prefixJournal = 'J'
	prefixKV      = 'K'

	schemaVersion = prunedFormat
	recordFormat  = 1

	// firstFormat is the format of a store whose journal holds every record
	// it was given; a store that pruned records has prunedFormat (format.go).
	firstFormat  = 1
	prunedFormat = 2

	eventHeaderLen   = 1 + 4 + 8 + 8 + 16
	journalHeaderLen = 1 + 4
)

var (
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
	formatKey = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	prunedKey = []byte{prefixMeta, 'p', 'r', 'u', 'n', 'e', 'd'}
)

// numKey returns prefix followed by n in 8 big-endian bytes.
func numKey(prefix byte, n uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], n)
	return k
}

// putNumKey writes prefix and n into k, which must hold 9 bytes.
func putNumKey(k []byte, prefix byte, n uint64) {
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], n)
}

// streamPrefix returns the 'S' key prefix of stream, with room for a version.
func streamPrefix(stream string) []byte {
	k := make([]byte, 0, 1+binary.MaxVarintLen64+len(stream)+8)
	k = append(k, prefixStream)
	k = binary.AppendUvarint(k, uint64(len(stream)))
	return append(k, stream...)
}

// appendVersion returns prefix followed by version in 8 big-endian bytes.
func appendVersion(prefix []byte, version uint64) []byte {
	return binary.BigEndian.AppendUint64(prefix, version)
}

func headKey(stream string) []byte {
	k := make([]byte, 0, 1+len(stream))
	return append(append(k, prefixHead), stream...)
}

// upperBound returns the smallest key greater than every key starting with
// prefix, or nil when there is none (prefix is all 0xff).
func upperBound(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			u := make([]byte, i+1)
			copy(u, prefix)
			u[i]++
			return u
		}
	}
	return nil
}

func eventRecordLen(stream string, e *eventlog.Event) int {
	return eventHeaderLen +
		uvarintLen(len(stream)) + len(stream) +
		uvarintLen(len(e.Type)) + len(e.Type) +
		uvarintLen(len(e.Metadata)) + len(e.Metadata) +
		len(e.Data)
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// putEventRecord encodes an event record into v, which must be exactly
// eventRecordLen(stream, e) bytes long.
func putEventRecord(v []byte, stream string, version uint64, at int64, e *eventlog.Event) {
	v[0] = recordFormat
	binary.BigEndian.PutUint64(v[5:], uint64(at))
	binary.BigEndian.PutUint64(v[13:], version)
	copy(v[21:37], e.ID[:])
	n := eventHeaderLen
	n += binary.PutUvarint(v[n:], uint64(len(stream)))
	n += copy(v[n:], stream)
	n += binary.PutUvarint(v[n:], uint64(len(e.Type)))
	n += copy(v[n:], e.Type)
	n += binary.PutUvarint(v[n:], uint64(len(e.Metadata)))
	n += copy(v[n:], e.Metadata)
	copy(v[n:], e.Data)
	binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], crcTable))
}

// interner shares the strings that repeat across the events of one read (event
// types, streams), so a long scan does not allocate them again for every event.
type interner map[string]string

const maxInterned = 1 << 14

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) >= maxInterned {
		clear(in) // start again with the streams of this part of the log
	}
	in[s] = s
	return s
}

// decodeEvent decodes the event record v stored at pos into r. The returned
// event owns its bytes: Metadata and Data share one fresh allocation. An error
// wraps eventlog.ErrCorrupt.
func decodeEvent(pos uint64, v []byte, in interner, r *eventlog.Recorded) error {
	if err := lendEvent(pos, v, in, r); err != nil {
		return err
	}
	if n := len(r.Metadata) + len(r.Data); n > 0 {
		// Metadata and data are contiguous in v: one copy, and no zeroing.
		buf := bytes.Clone(v[len(v)-n:])
		if len(r.Metadata) > 0 {
			r.Metadata = buf[:len(r.Metadata):len(r.Metadata)]
		}
		if len(r.Data) > 0 {
			r.Data = buf[len(r.Metadata):]
		}
	}
	return nil
}

// lendEvent is decodeEvent without the copy: r.Metadata and r.Data alias v
// (nil when empty).
func lendEvent(pos uint64, v []byte, in interner, r *eventlog.Recorded) error {
	if len(v) < eventHeaderLen || v[0] != recordFormat {
		return corruptf("event at position %d: bad header", pos)
	}
	if binary.BigEndian.Uint32(v[1:]) != crc32.Checksum(v[5:], crcTable) {
		return corruptf("event at position %d: checksum mismatch", pos)
	}
	r.RecordedAt = time.Unix(0, int64(binary.BigEndian.Uint64(v[5:]))).UTC()
	r.Version = binary.BigEndian.Uint64(v[13:])
	copy(r.ID[:], v[21:37])
	rest := v[eventHeaderLen:]
	stream, rest, ok := lenPrefixed(rest)
	if !ok {
		return corruptf("event at position %d: bad stream", pos)
	}
	typ, rest, ok := lenPrefixed(rest)
	if !ok {
		return corruptf("event at position %d: bad type", pos)
	}
	meta, data, ok := lenPrefixed(rest)
	if !ok {
		return corruptf("event at position %d: bad metadata", pos)
	}
	r.Stream = in.get(stream)
	r.Type = in.get(typ)
	r.Metadata, r.Data = nil, nil
	if len(meta) > 0 {
		r.Metadata = meta[:len(meta):len(meta)]
	}
	if len(data) > 0 {
		r.Data = data[:len(data):len(data)]
	}
	r.Position = eventlog.Position{Commit: pos, Prepare: pos}
	return nil
}

func lenPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, l := binary.Uvarint(b)
	if l <= 0 || n > uint64(len(b)-l) {
		return nil, nil, false
	}
	return b[l : l+int(n)], b[l+int(n):], true
}

func putJournalRecord(v []byte, data []byte) {
	v[0] = recordFormat
	binary.BigEndian.PutUint32(v[1:], crc32.Checksum(data, crcTable))
	copy(v[journalHeaderLen:], data)
}

// decodeJournal returns a copy of the data of the journal record v stored at
// index. An error wraps eventlog.ErrCorrupt.
func decodeJournal(index uint64, v []byte) ([]byte, error) {
	if len(v) < journalHeaderLen || v[0] != recordFormat {
		return nil, corruptf("journal record %d: bad header", index)
	}
	data := v[journalHeaderLen:]
	if binary.BigEndian.Uint32(v[1:]) != crc32.Checksum(data, crcTable) {
		return nil, corruptf("journal record %d: checksum mismatch", index)
	}
	if len(data) == 0 {
		return nil, nil
	}
	return append([]byte(nil), data...), nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("embedded: %w: "+format, append([]any{eventlog.ErrCorrupt}, args...)...)
}
