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
// error for anything else. It reads s in place: every case read asks IsID of
// its path's id.
func ParseID(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, fmt.Errorf("not an id: %q", s)
	}
	j := 0
	for _, seg := range [...][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}} {
		for i := seg[0]; i < seg[1]; i += 2 {
			hi, ok1 := fromHex(s[i])
			lo, ok2 := fromHex(s[i+1])
			if !ok1 || !ok2 {
				return b, fmt.Errorf("not an id: %q", s)
			}
			b[j] = hi<<4 | lo
			j++
		}
	}
	return b, nil
}

// fromHex returns the value of the hex digit c, of either case.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// IsID reports whether s is an id in canonical form, the only form the hub
// hands out: any other spelling names nothing. The canonical form is the one
// ParseID reads, in lower case (FormatID's).
func IsID(s string) bool {
	if _, err := ParseID(s); err != nil {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'F' }) < 0
}
