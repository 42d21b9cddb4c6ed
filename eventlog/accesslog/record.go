// Package accesslog is the hub's record of every access: one Record per API call
// that touches case data or the audit log, allowed or not, appended to its own
// journal and durable before the answer leaves the hub. Records hold ids and
// decisions, never case content.
package accesslog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decisions of a Record.
const (
	Allow   = "allow"   // everything asked was served
	Partial = "partial" // served, with items or fields withheld
	Deny    = "deny"    // refused
)

// Record is one access record (docs/protocol.md, "Access records"; docs/api.md,
// "Audit"). Index is its place in the access
// log, assigned when it is appended; it is not part of the stored bytes.
type Record struct {
	Index          uint64    `json:"index"`
	Time           time.Time `json:"time"`
	RequestID      string    `json:"request_id"`
	Sub            string    `json:"sub"`
	Agency         string    `json:"agency"`
	Roles          []string  `json:"roles"`
	Purpose        string    `json:"purpose"`
	Action         string    `json:"action"`
	CaseID         string    `json:"case_id"`
	Section        string    `json:"section"`
	Decision       string    `json:"decision"`
	Status         int       `json:"status"`
	Reasons        []string  `json:"reasons"`
	PolicyRevision string    `json:"policy_revision"`
	BreakGlass     bool      `json:"break_glass"`
	// Withheld counts what the protocol kept from the answer: items not shown
	// plus data fields redacted from the items shown.
	Withheld int `json:"withheld"`
	// Issuer is the issuer (iss) of the caller's token; empty when the call
	// carried no token the hub accepted.
	Issuer string `json:"issuer"`
	// Justification is a break-glass justification, as the official stated it.
	Justification string `json:"justification,omitempty"`
	// LegalBasis is the legal basis code of an erasure request or
	// confirmation (docs/protocol.md, "Erasure (four eyes)").
	LegalBasis string `json:"legal_basis,omitempty"`
	// Reference is the erasure's reference, at most 200 characters (checked
	// where the request is validated: Encode stores what it is given).
	Reference string `json:"reference,omitempty"`
	// Pruned is set on a record whose content the access log's retention
	// removed (Service.Prune): of it, only Index is known, and LeafHash, its
	// leaf hash in the access log's Merkle tree, when the auditor's queries
	// give it. Neither is part of the stored bytes.
	Pruned   bool   `json:"pruned,omitempty"`
	LeafHash []byte `json:"leaf_hash,omitempty"`
}

// Encode returns the record's stored bytes: its JSON without the index, fields
// in a fixed order, so that the same record always hashes the same. Encoding is
// hand-written because it runs once per API call.
//
// Issuer, Justification, LegalBasis and Reference, added after the first
// records were stored, follow "withheld" in that order, each only when it is
// not empty: a record without them is stored byte for byte as before they
// existed, so the records stored before them still verify and hash the same.
// For example:
//
//	{"time":"2026-03-01T09:00:00Z",…,"break_glass":true,"withheld":0,"issuer":"liaison-dev","justification":"imminent risk"}
func (r *Record) Encode() []byte {
	b := make([]byte, 0, r.encodedLen())
	b = append(b, `{"time":"`...)
	// What AppendQuote made of it before: an RFC 3339 time is printable ASCII
	// without quotes or backslashes.
	b = r.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "request_id", r.RequestID)
	b = appendField(b, "sub", r.Sub)
	b = appendField(b, "agency", r.Agency)
	b = appendList(b, "roles", r.Roles)
	b = appendField(b, "purpose", r.Purpose)
	b = appendField(b, "action", r.Action)
	b = appendField(b, "case_id", r.CaseID)
	b = appendField(b, "section", r.Section)
	b = appendField(b, "decision", r.Decision)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = appendList(b, "reasons", r.Reasons)
	b = appendField(b, "policy_revision", r.PolicyRevision)
	b = append(b, `,"break_glass":`...)
	b = strconv.AppendBool(b, r.BreakGlass)
	b = append(b, `,"withheld":`...)
	b = strconv.AppendInt(b, int64(r.Withheld), 10)
	b = appendOptional(b, "issuer", r.Issuer)
	b = appendOptional(b, "justification", r.Justification)
	b = appendOptional(b, "legal_basis", r.LegalBasis)
	b = appendOptional(b, "reference", r.Reference)
	return append(b, '}')
}

// encodedLen returns an upper bound of the length of Encode's bytes when no
// string needs escaping, so that Encode allocates once (a string that needs
// escaping may make it grow the buffer).
func (r *Record) encodedLen() int {
	// Field names and punctuation; up to 35 bytes of time and 20 of each int.
	const fixed = len(`{"time":"","request_id":"","sub":"","agency":"","roles":[],"purpose":"",`+
		`"action":"","case_id":"","section":"","decision":"","status":,"reasons":[],`+
		`"policy_revision":"","break_glass":false,"withheld":}`) + 35 + 2*20
	n := fixed + len(r.RequestID) + len(r.Sub) + len(r.Agency) + len(r.Purpose) + len(r.Action) +
		len(r.CaseID) + len(r.Section) + len(r.Decision) + len(r.PolicyRevision) +
		optionalLen("issuer", r.Issuer) + optionalLen("justification", r.Justification) +
		optionalLen("legal_basis", r.LegalBasis) + optionalLen("reference", r.Reference)
	for _, s := range r.Roles {
		n += len(s) + 3
	}
	for _, s := range r.Reasons {
		n += len(s) + 3
	}
	return n
}

// appendOptional appends ,"name":value like appendField, and nothing when
// value is empty.
func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

// optionalLen is the length appendOptional adds when value needs no escaping.
func optionalLen(name, value string) int {
	if value == "" {
		return 0
	}
	return len(name) + len(value) + len(`,"":""`)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendList appends ,"name":[...] with the strings of list.
func appendList(b []byte, name string, list []string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string. Invalid UTF-8 is replaced, so that
// whatever an unauthenticated caller sent cannot break the record. A string of
// bytes from 0x20 to 0x7f without '"' or '\\' (nearly every string of a record) is
// written as it is after one pass over it; any other through appendQuoted.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return appendQuoted(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendQuoted writes s as a JSON string through encoding/json, its invalid
// UTF-8 replaced first.
func appendQuoted(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// Decode reads a record's stored bytes; index is its place in the log. Bytes
// in Encode's layout are read directly (see decode.go), any other JSON object
// through encoding/json; it returns an error when b is neither.
func Decode(index uint64, b []byte) (Record, error) {
	return decode(index, b, false)
}

// decode is Decode, with the strings of a record in Encode's layout views of
// b's bytes when view is set (decodeEncoded).
func decode(index uint64, b []byte, view bool) (Record, error) {
	r, ok := decodeEncoded(b, view)
	if !ok {
		var err error
		if r, err = decodeJSON(index, b); err != nil {
			return r, err
		}
	}
	r.Index = index
	return r, nil
}

// decodeJSON reads b through encoding/json. It is a function of its own so
// that only its record, whose address Unmarshal takes, goes to the heap: in
// decode, every record did, whichever way it was read.
func decodeJSON(index uint64, b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("access record %d: %w", index, err)
	}
	return r, nil
}
