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
	if s[14] != '4' {
		t.Errorf("%s is not a version 4 UUID", s)
	}
	for _, bad := range []string{"../../etc/passwd-000000000000000000", strings.ToUpper(s), s[:35], s + "0", ""} {
		if domain.IsID(bad) {
			t.Errorf("%q taken for an id", bad)
		}
	}
}
