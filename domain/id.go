package domain

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Ids of cases, events and erasure requests are random (version 4) UUIDs,
// written in their canonical text form: 8-4-4-4-12 lower-case hex digits.

// NewID returns a new random id.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatID(b)
}

// FormatID writes the 16 bytes of an id in its canonical text form.
func FormatID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ParseID reads an id in text form (hex digits of either case). It returns an
// error for anything else. Its digits are gathered on the stack, not in a new
// string: every case read asks IsID of its path's id.
func ParseID(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, fmt.Errorf("not an id: %q", s)
	}
	var digits [32]byte
	n := copy(digits[:], s[0:8])
	n += copy(digits[n:], s[9:13])
	n += copy(digits[n:], s[14:18])
	n += copy(digits[n:], s[19:23])
	copy(digits[n:], s[24:])
	if _, err := hex.Decode(b[:], digits[:]); err != nil {
		return b, fmt.Errorf("not an id: %q", s)
	}
	return b, nil
}

// IsID reports whether s is an id in canonical form, the only form the hub
// hands out: any other spelling names nothing. The canonical form is the one
// ParseID reads, in lower case (FormatID's).
func IsID(s string) bool {
	if _, err := ParseID(s); err != nil {
		return false
	}
	return !strings.ContainsAny(s, "ABCDEF")
}
