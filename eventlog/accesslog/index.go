package accesslog

import (
	"encoding/binary"

	"github.com/liaison-hub/liaison/eventlog"
)

// Indexes of the access log, kept in the KV beside the access log's Merkle
// tree and written in the same batches (IndexKeys is the tree follower's
// transparency.IndexFunc), so they cover exactly the records the tree holds.
// One key per record and indexed field, with an empty value:
//
//	'A' field uvarint(len(value)) value index (8, big-endian)
//
// field: 's' sub, 'c' case_id, 'a' agency, 'd' decision (partial and deny
// only: most records are allowed, and a query for them scans), 'b'
// break_glass (value empty, only for true). A key scan of one field and
// value yields the matching records in index order. Persisted: add fields,
// never renumber.
const (
	indexSub        = 's'
	indexCase       = 'c'
	indexAgency     = 'a'
	indexDecision   = 'd'
	indexBreakGlass = 'b'
)

// indexPrefix returns the key prefix of the records whose field has value.
func indexPrefix(field byte, value string) []byte {
	k := make([]byte, 0, 2+binary.MaxVarintLen64+len(value)+8)
	k = append(k, 'A', field)
	k = binary.AppendUvarint(k, uint64(len(value)))
	return append(k, value...)
}

func indexKey(field byte, value string, index uint64) []byte {
	return binary.BigEndian.AppendUint64(indexPrefix(field, value), index)
}

// IndexKeys appends to ops the index keys of the access record e (see above).
// A record that does not decode is not indexed; queries still find it by
// scanning.
func IndexKeys(e eventlog.Entry, ops []eventlog.KVOp) []eventlog.KVOp {
	r, err := Decode(e.Index, e.Data)
	if err != nil {
		return ops
	}
	add := func(field byte, value string) {
		ops = append(ops, eventlog.KVOp{Key: indexKey(field, value, e.Index), Value: []byte{}})
	}
	if r.Sub != "" {
		add(indexSub, r.Sub)
	}
	if r.CaseID != "" {
		add(indexCase, r.CaseID)
	}
	if r.Agency != "" {
		add(indexAgency, r.Agency)
	}
	if r.Decision != "" && r.Decision != Allow {
		add(indexDecision, r.Decision)
	}
	if r.BreakGlass {
		add(indexBreakGlass, "")
	}
	return ops
}

// plan returns the key prefix of the most selective index that f uses (sub,
// then case, break-glass, agency, decision other than allow), or nil when f
// uses none.
func (f Filter) plan() []byte {
	switch {
	case f.Sub != "":
		return indexPrefix(indexSub, f.Sub)
	case f.CaseID != "":
		return indexPrefix(indexCase, f.CaseID)
	case f.BreakGlass != nil && *f.BreakGlass:
		return indexPrefix(indexBreakGlass, "")
	case f.Agency != "":
		return indexPrefix(indexAgency, f.Agency)
	case f.Decision != "" && f.Decision != Allow:
		return indexPrefix(indexDecision, f.Decision)
	}
	return nil
}
