package accesslog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/follow"
)

// The query index of the access log, which Query reads, is built by
// QueryIndex, a consumer of the access journal's follower (eventlog/follow).
// The follower gives each batch of records to the access log's Merkle tree
// and to QueryIndex, and stores the tree's nodes and the index's keys in one
// KV batch, so the index covers exactly the records the tree holds.
// For each indexed field and value, the records of one follower batch that
// have it are listed under one key (a posting list):
//
//	'A' field uvarint(len(value)) value first (8, big-endian)
//
// first is the index of the first record listed, and the value holds the
// differences between each further index and the one before it, as uvarints
// (empty for a list of one record: the layout of the first stores, one key
// per record, reads the same). The records of one key span fewer than
// maxPostingSpan indexes.
//
// field: 's' sub, 'c' case_id, 'a' agency, 'd' decision (partial and deny
// only: most records are allowed, and a query for them scans), 'b'
// break_glass (value empty, only for true). A key scan of one field and
// value yields the matching records in index order. Persisted: add fields,
// never renumber.
//
// Pebble's compactions cost about the number of keys written (BENCHMARKS.md,
// P3): with one key per field and value of a batch instead of one per record
// and field, BenchmarkAppendFollowed (17 users, 300 cases) spends 31.3 µs of
// CPU per record instead of 35.5, and 28.1 with the follower's 5 ms batches
// (medians of 5, side by side).
const (
	indexSub        = 's'
	indexCase       = 'c'
	indexAgency     = 'a'
	indexDecision   = 'd'
	indexBreakGlass = 'b'
)

// indexKeys is the first byte of every index key.
const indexKeys = 'A'

// deleteBatch bounds the deletions of one KV write of Restart.
const deleteBatch = 4096

// maxPostingSpan bounds last-first+1 of the records listed under one key, so
// that a scan from index lo may start at the key of lo-maxPostingSpan+1.
const maxPostingSpan = 4096

// indexPrefix returns the key prefix of the records whose field has value.
func indexPrefix(field byte, value string) []byte {
	return appendIndexPrefix(make([]byte, 0, 2+binary.MaxVarintLen64+len(value)+8), field, value)
}

// appendIndexPrefix appends indexPrefix(field, value) to k.
func appendIndexPrefix(k []byte, field byte, value string) []byte {
	k = append(k, indexKeys, field)
	k = binary.AppendUvarint(k, uint64(len(value)))
	return append(k, value...)
}

// batchList is the list of a batch's records under one key prefix.
type batchList struct {
	key     string
	indexes []uint64 // ascending
}

// QueryIndex builds the query index of the access log (see above), as a
// consumer of the access journal's follower: cmd/liaison hands it to
// transparency.Config.JournalConsumers. The zero value is ready.
type QueryIndex struct {
	lists map[string]int // by key prefix, the place of its list in order
	order []batchList    // the lists in the order first met
	key   []byte         // add's scratch key
}

var _ follow.Consumer = (*QueryIndex)(nil)

// Append appends to ops one key per indexed field and value of the records
// of batch (more when their indexes span maxPostingSpan or more). A record
// that does not decode is not indexed (queries still find it by scanning).
// It never fails.
func (q *QueryIndex) Append(ops []eventlog.KVOp, batch []eventlog.Entry) ([]eventlog.KVOp, error) {
	if q.lists == nil {
		q.lists = make(map[string]int)
	}
	for _, e := range batch {
		q.add(e)
	}
	for _, p := range q.order {
		k, l := p.key, p.indexes
		for len(l) > 0 {
			n := 1
			for n < len(l) && l[n]-l[0] < maxPostingSpan {
				n++
			}
			ops = append(ops, eventlog.KVOp{
				Key:   binary.BigEndian.AppendUint64([]byte(k), l[0]),
				Value: appendPosting(nil, l[:n]),
			})
			l = l[n:]
		}
	}
	clear(q.lists)
	q.order = q.order[:0]
	return ops, nil
}

// add lists the access record e under each of its indexed fields and values.
func (q *QueryIndex) add(e eventlog.Entry) {
	// The record's strings are views of e.Data: only the keys made from
	// them are kept, as copies.
	r, err := decode(e.Index, e.Data, true)
	if err != nil {
		return
	}
	add := func(field byte, value string) {
		q.key = appendIndexPrefix(q.key[:0], field, value)
		if i, ok := q.lists[string(q.key)]; ok {
			q.order[i].indexes = append(q.order[i].indexes, e.Index)
			return
		}
		k := string(q.key)
		q.lists[k] = len(q.order)
		q.order = append(q.order, batchList{key: k, indexes: []uint64{e.Index}})
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
}

// Committed does nothing: QueryIndex keeps nothing between batches.
func (q *QueryIndex) Committed(context.Context) {}

// Restart deletes every index key from kv, before the index is built again
// from the journal's first record: a new batching need not write the keys
// of the earlier one. It returns the KV's error.
func (q *QueryIndex) Restart(ctx context.Context, kv eventlog.KV) error {
	var ops []eventlog.KVOp
	for pair, err := range kv.Scan(ctx, []byte{indexKeys}, nil) {
		if err != nil {
			return err
		}
		ops = append(ops, eventlog.KVOp{Key: bytes.Clone(pair.Key), Delete: true})
		if len(ops) == deleteBatch {
			if err := kv.Write(ctx, false, ops...); err != nil {
				return err
			}
			ops = ops[:0]
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return kv.Write(ctx, false, ops...)
}

// appendPosting appends the value of the key of the ascending indexes l:
// the differences after the first.
func appendPosting(dst []byte, l []uint64) []byte {
	if len(l) > 1 {
		dst = slices.Grow(dst, len(l)-1)
	}
	for i := 1; i < len(l); i++ {
		dst = binary.AppendUvarint(dst, l[i]-l[i-1])
	}
	return dst
}

var errPosting = errors.New("accesslog: malformed index entry")

// posting yields the record indexes listed under a key whose first index is
// first and whose value is v, in order, while yield returns true. It returns
// errPosting when v does not decode into increasing indexes within
// maxPostingSpan of first.
func posting(first uint64, v []byte, yield func(uint64) bool) error {
	if !yield(first) {
		return nil
	}
	i := first
	for len(v) > 0 {
		d, n := binary.Uvarint(v)
		if n <= 0 || d == 0 || d >= maxPostingSpan || i+d-first >= maxPostingSpan {
			return errPosting
		}
		i += d
		v = v[n:]
		if !yield(i) {
			return nil
		}
	}
	return nil
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
