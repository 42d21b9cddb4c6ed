package domain_test

import (
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

func TestIDsRoundTripAndOnlyTheCanonicalFormNamesOne(t *testing.T) {
	s := domain.NewID()
	b, err := domain.ParseID(s)
	if err != nil || domain.FormatID(b) != s || !domain.IsID(s) {
		t.Errorf("%s → %x → %s, %v", s, b, domain.FormatID(b), err)
	}
	if u, err := domain.ParseID(strings.ToUpper(s)); err != nil || u != b {
		t.Errorf("upper case %s → %x, %v; want %x", strings.ToUpper(s), u, err, b)
	}
	if s[14] != '4' {
		t.Errorf("%s is not a version 4 UUID", s)
	}
	for _, bad := range []string{"../../etc/passwd-000000000000000000", strings.ToUpper(s), s[:35], s + "0", "",
		strings.Replace(s, "-", "0", 1), s[:9] + "g" + s[10:], s[:8] + "0" + s[9:], "{" + s[1:]} {
		if domain.IsID(bad) {
			t.Errorf("%q taken for an id", bad)
		}
	}
}

func TestIsIDAgreesWithParseAndFormat(t *testing.T) {
	s := domain.NewID()
	// Every one-byte change of a canonical id: IsID must say what the
	// round trip through ParseID and FormatID says.
	for i := range len(s) {
		for c := 0; c < 256; c++ {
			v := s[:i] + string([]byte{byte(c)}) + s[i+1:]
			b, err := domain.ParseID(v)
			want := err == nil && domain.FormatID(b) == v
			if got := domain.IsID(v); got != want {
				t.Fatalf("IsID(%q) = %v, want %v", v, got, want)
			}
		}
	}
}

func BenchmarkIsID(b *testing.B) {
	s := domain.NewID()
	b.ReportAllocs()
	for b.Loop() {
		if !domain.IsID(s) {
			b.Fatal("not an id")
		}
	}
}
