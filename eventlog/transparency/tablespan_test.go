package transparency

import (
	"bytes"
	"testing"

	"github.com/transparency-dev/merkle/compact"
)

func TestTableSpan(t *testing.T) {
	node := func(tree byte, level uint, index uint64) []byte {
		return nodeKey(tree, compact.NewNodeID(level, index))
	}
	for _, tc := range []struct {
		key, end []byte
	}{
		{nil, []byte("T")},
		{[]byte("A\x63\x24some-case"), []byte("T")},
		{node(treeAccess, 0, 0), []byte("Tan\x01")},
		{node(treeAccess, 0, 1<<40), []byte("Tan\x01")},
		{node(treeAccess, 8, 3), []byte("Tan\x09")},
		{node(treeCases, 16, 0), []byte("Tcn\x11")},
		{treeKey(treeAccess, kindState), []byte("Tat")},
		{checkpointKey(treeAccess, 7), []byte("Tad")},
		{treeKey(treeCases, kindLatest), []byte("Tcm")},
		{[]byte("T"), []byte("U")},
		{[]byte("Tan"), []byte("Tao")},
		{[]byte("T\xff\xff"), []byte("U")},
		{[]byte("U"), nil},
		{[]byte("m-monitor"), nil},
	} {
		end := TableSpan(tc.key)
		if !bytes.Equal(end, tc.end) {
			t.Errorf("TableSpan(%q) = %q, want %q", tc.key, end, tc.end)
		}
		if end != nil && bytes.Compare(end, tc.key) <= 0 {
			t.Errorf("TableSpan(%q) = %q, not after the key", tc.key, end)
		}
	}
}
