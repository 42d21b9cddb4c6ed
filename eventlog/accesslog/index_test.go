package accesslog

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
)

// lists decodes the ops of a Flush into the record indexes under each key
// prefix, in the order of the ops.
func lists(t *testing.T, ops []eventlog.KVOp) map[string][][]uint64 {
	t.Helper()
	out := map[string][][]uint64{}
	for _, op := range ops {
		prefix, first := op.Key[:len(op.Key)-8], binary.BigEndian.Uint64(op.Key[len(op.Key)-8:])
		var l []uint64
		if err := posting(first, op.Value, func(i uint64) bool { l = append(l, i); return true }); err != nil {
			t.Fatalf("key %x: %v", op.Key, err)
		}
		out[string(prefix)] = append(out[string(prefix)], l)
	}
	return out
}

func entry(t *testing.T, i uint64, r Record) eventlog.Entry {
	t.Helper()
	return eventlog.Entry{Index: i, Data: r.Encode()}
}

func TestQueryIndexWritesOneKeyPerFieldAndValueOfABatch(t *testing.T) {
	var p QueryIndex
	var batch []eventlog.Entry
	for i := uint64(10); i < 20; i++ {
		r := Record{Sub: []string{"ana", "ben"}[i%2], CaseID: "case-1", Agency: "exit-ngo", Decision: Allow, Action: "section.read"}
		if i == 13 {
			r.Decision, r.BreakGlass = Deny, true
		}
		batch = append(batch, entry(t, i, r))
	}
	got := lists(t, appendBatch(t, &p, batch))
	want := map[string][][]uint64{
		string(indexPrefix(indexSub, "ana")):         {{10, 12, 14, 16, 18}},
		string(indexPrefix(indexSub, "ben")):         {{11, 13, 15, 17, 19}},
		string(indexPrefix(indexCase, "case-1")):     {{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		string(indexPrefix(indexAgency, "exit-ngo")): {{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}},
		string(indexPrefix(indexDecision, Deny)):     {{13}},
		string(indexPrefix(indexBreakGlass, "")):     {{13}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d prefixes, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if !slices.EqualFunc(got[k], w, slices.Equal) {
			t.Errorf("under %q: %v, want %v", k, got[k], w)
		}
	}
	if ops := appendBatch(t, &p, nil); len(ops) != 0 {
		t.Errorf("an empty batch after it wrote %d keys", len(ops))
	}
	next := lists(t, appendBatch(t, &p, []eventlog.Entry{entry(t, 20, Record{Sub: "ana"})}))
	if want := [][]uint64{{20}}; len(next) != 1 || !slices.EqualFunc(next[string(indexPrefix(indexSub, "ana"))], want, slices.Equal) {
		t.Errorf("the next batch wrote %v, want only its own record under ana", next)
	}
}

// appendBatch returns the ops of p.Append of batch.
func appendBatch(t *testing.T, p *QueryIndex, batch []eventlog.Entry) []eventlog.KVOp {
	t.Helper()
	ops, err := p.Append(nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func TestQueryIndexSplitsWhatSpansMaxPostingSpan(t *testing.T) {
	var p QueryIndex
	var batch []eventlog.Entry
	for _, i := range []uint64{0, 1, maxPostingSpan - 1, maxPostingSpan, 3 * maxPostingSpan, 3*maxPostingSpan + 7} {
		batch = append(batch, entry(t, i, Record{Sub: "ana"}))
	}
	got := lists(t, appendBatch(t, &p, batch))[string(indexPrefix(indexSub, "ana"))]
	want := [][]uint64{{0, 1, maxPostingSpan - 1}, {maxPostingSpan}, {3 * maxPostingSpan, 3*maxPostingSpan + 7}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("lists %v, want %v", got, want)
	}
}

func TestPostingRefusesMalformedValues(t *testing.T) {
	for name, v := range map[string][]byte{
		"truncated varint":       {0x80},
		"overlong varint":        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"zero difference":        {0},
		"difference of the span": binary.AppendUvarint(nil, maxPostingSpan),
		"beyond the span in sum": binary.AppendUvarint(binary.AppendUvarint(nil, maxPostingSpan-1), 1),
	} {
		err := posting(5, v, func(uint64) bool { return true })
		if !errors.Is(err, errPosting) {
			t.Errorf("%s: %v, want errPosting", name, err)
		}
	}
	var l []uint64
	if err := posting(5, nil, func(i uint64) bool { l = append(l, i); return true }); err != nil || !slices.Equal(l, []uint64{5}) {
		t.Errorf("an empty value (the first stores' layout, one key per record) reads %v, %v; want [5]", l, err)
	}
}
