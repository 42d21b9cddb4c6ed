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

// Record is one access record (CONTRACT.md). Index is its place in the access
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
}

// Encode returns the record's stored bytes: its JSON without the index, fields
// in a fixed order, so that the same record always hashes the same. Encoding is
// hand-written because it runs once per API call.
func (r *Record) Encode() []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"time":`...)
	b = strconv.AppendQuote(b, r.Time.UTC().Format(time.RFC3339Nano))
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
	return append(b, '}')
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
// whatever an unauthenticated caller sent cannot break the record.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// Decode reads a record's stored bytes; index is its place in the log. Bytes
// in Encode's layout are read directly (see decode.go), any other JSON object
// through encoding/json; it returns an error when b is neither.
func Decode(index uint64, b []byte) (Record, error) {
	r, ok := decodeEncoded(b)
	if !ok {
		r = Record{}
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("access record %d: %w", index, err)
		}
	}
	r.Index = index
	return r, nil
}
