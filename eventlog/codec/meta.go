package codec

import (
	"encoding/binary"
	"errors"

	"github.com/liaison-hub/liaison/domain"
)

// metaV1 marks the binary metadata encoding: a version byte, the schema version
// (uvarint), then originator, author, classification, the share list (a uvarint
// count of strings), correlation id and causation id, each string a uvarint
// length and its bytes. Binary rather than JSON because every event's metadata
// is decoded on every projection rebuild (TARGETS P6).
const metaV1 = 1

func encodeMeta(e domain.Event) []byte {
	n := 16 + len(e.Originator) + len(e.Author) + len(e.Classification) + len(e.CorrelationID) + len(e.CausationID)
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
	return appendStr(b, e.CausationID)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errMeta = errors.New("malformed metadata")

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

func (r *metaReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errMeta
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func decodeMeta(b []byte, e *domain.Event) error {
	if len(b) == 0 || b[0] != metaV1 {
		return errMeta
	}
	r := metaReader{b: b[1:]}
	e.SchemaVersion = int(r.uvarint())
	e.Originator = r.str()
	e.Author = r.str()
	e.Classification = domain.TLP(r.str())
	if n := r.uvarint(); n > 0 && n <= domain.MaxShareWith {
		e.ShareWith = make([]string, n)
		for i := range e.ShareWith {
			e.ShareWith[i] = r.str()
		}
	} else if n > domain.MaxShareWith {
		return errMeta
	}
	e.CorrelationID = r.str()
	e.CausationID = r.str()
	if r.err == nil && len(r.b) != 0 {
		r.err = errMeta
	}
	return r.err
}
