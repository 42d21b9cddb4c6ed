package transparency

import (
	"crypto/sha256"

	"github.com/transparency-dev/merkle/rfc6962"
)

// treeHasher is RFC 6962's tree hashing, as rfc6962.DefaultHasher does it,
// with one allocation per hash (its result) where the library's makes three
// (a hash state, the input's copy, the result): the access tree hashes every
// access record and every node above it, which made these allocations 4 %
// of the hub's under P3's reads. TestTreeHasher checks it against the
// library's.
type treeHasher struct{ *rfc6962.Hasher }

// leafBuffer bounds the leaves hashed from a buffer on the stack; longer
// ones are hashed by the library.
const leafBuffer = 1024

// HashLeaf returns the hash of the leaf with the given data.
func (h treeHasher) HashLeaf(leaf []byte) []byte {
	if len(leaf) >= leafBuffer {
		return h.Hasher.HashLeaf(leaf)
	}
	var in [leafBuffer]byte
	in[0] = rfc6962.RFC6962LeafHashPrefix
	n := 1 + copy(in[1:], leaf)
	sum := sha256.Sum256(in[:n])
	return sum[:]
}

// HashChildren returns the hash of the interior node whose children's
// hashes are l and r.
func (h treeHasher) HashChildren(l, r []byte) []byte {
	if len(l) != hashSize || len(r) != hashSize {
		return h.Hasher.HashChildren(l, r)
	}
	var in [1 + 2*hashSize]byte
	in[0] = rfc6962.RFC6962NodeHashPrefix
	copy(in[1:], l)
	copy(in[1+hashSize:], r)
	sum := sha256.Sum256(in[:])
	return sum[:]
}
