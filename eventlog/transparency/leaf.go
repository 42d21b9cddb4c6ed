package transparency

import (
	"encoding/binary"

	"github.com/liaison-hub/liaison/eventlog"
)

// eventLeafFormat is the first byte of an event leaf. Persisted: a new encoding
// gets a new format byte and old leaves keep theirs.
const eventLeafFormat = 1

// EventLeaf returns the leaf of the case log that stands for r: its stored
// content in a fixed, length-prefixed layout, without the backend's position
// numbers, so that two backends holding the same events build the same tree:
//
//	format (1) = 1
//	id (16)
//	uvarint(len) stream
//	version (8, big-endian)
//	recorded at (8, big-endian, Unix nanoseconds)
//	uvarint(len) type
//	uvarint(len) metadata
//	uvarint(len) data
//
// Data is hashed as stored (sealed by eventlog/codec), so destroying a case's
// key, which erases its content, leaves the tree intact.
func EventLeaf(r *eventlog.Recorded) []byte {
	return AppendEventLeaf(make([]byte, 0, eventLeafLen(r)), r)
}

// AppendEventLeaf appends EventLeaf(r) to dst and returns the extended slice.
func AppendEventLeaf(dst []byte, r *eventlog.Recorded) []byte {
	dst = append(dst, eventLeafFormat)
	dst = append(dst, r.ID[:]...)
	dst = appendBytes(dst, r.Stream)
	dst = binary.BigEndian.AppendUint64(dst, r.Version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.RecordedAt.UnixNano()))
	dst = appendBytes(dst, r.Type)
	dst = appendBytes(dst, r.Metadata)
	return appendBytes(dst, r.Data)
}

func appendBytes[T string | []byte](dst []byte, b T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func eventLeafLen(r *eventlog.Recorded) int {
	return 1 + 16 + 8 + 8 + 4*binary.MaxVarintLen32 +
		len(r.Stream) + len(r.Type) + len(r.Metadata) + len(r.Data)
}
