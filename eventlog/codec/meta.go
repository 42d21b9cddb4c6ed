package codec

import (
	"encoding/binary"
	"errors"

	"github.com/liaison-hub/liaison/domain"
)

// metaV1 marks the binary metadata encoding: a version byte, the schema version
// (uvarint), then originator, author, classification, the share list (a uvarint
// count of strings), correlation id and a reserved string, each string a
// uvarint length and its bytes. Binary rather than JSON because every event's
// metadata is decoded on every projection rebuild (docs/targets.md, P6).
//
// The reserved string was meant for a causation id, which nothing ever set:
// it is written empty (one zero byte) and skipped when read, whatever it
// holds, so that every stored event keeps reading the same.
const metaV1 = 1

func encodeMeta(e domain.Event) []byte {
	n := 16 + len(e.Originator) + len(e.Author) + len(e.Classification) + len(e.CorrelationID)
	for _, s := range e.ShareWith {
		n += len(s) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, metaV1)
	b = binary.AppendUvarint(b, uint64(domain.SchemaVersion))
	b = appendStr(b, e.Originator)
	b = appendStr(b, e.Author)
	b = appendStr(b, string(e.Classification))
	b = binary.AppendUvarint(b, uint64(len(e.ShareWith)))
	for _, s := range e.ShareWith {
		b = appendStr(b, s)
	}
	b = appendStr(b, e.CorrelationID)
	return appendStr(b, "") // reserved, see metaV1
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errMeta = errors.New("malformed metadata")

// RawMeta is an event's metadata as DecodeRawMeta reads it, without copying:
// every field aliases the metadata bytes.
type RawMeta struct {
	SchemaVersion      int
	Originator, Author []byte
	Classification     []byte
	ShareWith          [][]byte // its array is reused by the next DecodeRawMeta into the same RawMeta
	CorrelationID      []byte
}

// DecodeRawMeta reads the binary metadata of a stored event (Recorded.Metadata)
// into m, whose fields then alias b. It is what DecodeMeta reads, for callers
// that decode many events and keep few of their strings (the projections). It
// returns an error for metadata that does not decode.
func DecodeRawMeta(b []byte, m *RawMeta) error {
	if len(b) == 0 || b[0] != metaV1 {
		return errMeta
	}
	r := metaReader{b: b[1:]}
	m.SchemaVersion = int(r.uvarint())
	m.Originator = r.bytes()
	m.Author = r.bytes()
	m.Classification = r.bytes()
	m.ShareWith = m.ShareWith[:0]
	n := r.uvarint()
	if n > domain.MaxShareWith {
		return errMeta
	}
	for range n {
		m.ShareWith = append(m.ShareWith, r.bytes())
	}
	m.CorrelationID = r.bytes()
	r.bytes() // reserved, see metaV1
	if r.err == nil && len(r.b) != 0 {
		r.err = errMeta
	}
	return r.err
}

// metaReader reads the binary metadata; the first error sticks.
type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errMeta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errMeta
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func decodeMeta(b []byte, e *domain.Event) error {
	var m RawMeta
	if err := DecodeRawMeta(b, &m); err != nil {
		return err
	}
	e.SchemaVersion = m.SchemaVersion
	e.Originator = string(m.Originator)
	e.Author = string(m.Author)
	e.Classification = domain.TLP(m.Classification)
	if len(m.ShareWith) > 0 {
		e.ShareWith = make([]string, len(m.ShareWith))
		for i, s := range m.ShareWith {
			e.ShareWith[i] = string(s)
		}
	}
	e.CorrelationID = string(m.CorrelationID)
	return nil
}
