package transparency

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
)

// TestTreeHasher checks the tree's hashing against the library's, for
// leaves of every length around its stack buffer's and for interior nodes.
func TestTreeHasher(t *testing.T) {
	lib := rfc6962.DefaultHasher
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 2*leafBuffer)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for n := range len(data) {
		if got, want := hasher.HashLeaf(data[:n]), lib.HashLeaf(data[:n]); !bytes.Equal(got, want) {
			t.Fatalf("leaf of %d bytes: %x, want %x", n, got, want)
		}
	}
	for i := range 100 {
		l, r := data[i:i+hashSize], data[i+hashSize:i+2*hashSize]
		if got, want := hasher.HashChildren(l, r), lib.HashChildren(l, r); !bytes.Equal(got, want) {
			t.Fatalf("children %x %x: %x, want %x", l, r, got, want)
		}
	}
	if got, want := hasher.HashChildren(data[:3], data[3:40]), lib.HashChildren(data[:3], data[3:40]); !bytes.Equal(got, want) {
		t.Fatalf("children of unusual sizes: %x, want %x", got, want)
	}
	if got := testing.AllocsPerRun(100, func() { hasher.HashChildren(data[:hashSize], data[hashSize:2*hashSize]) }); got > 1 {
		t.Errorf("HashChildren allocates %v times, want 1", got)
	}
}
