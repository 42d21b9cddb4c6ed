package domain

import (
	"encoding/json"
	"strconv"
	"time"
)

// SchemaVersion is the version of the envelope and data encodings this hub
// writes. Versions are append-only:
//
//	1  the first encoding
//	2  a CaseErased event's ShareWith lists the organisations that could see
//	   the case when it was erased (Case.ErasedFor)
const SchemaVersion = 2

// SchemaErasedFor is the first schema version whose CaseErased events list the
// organisations that could see the case.
const SchemaErasedFor = 2

// Event is one case event as the hub knows it: the envelope and its data.
type Event struct {
	// ID is the event's UUID, chosen when it is recorded.
	ID string
	// CaseID is the case (stream) the event belongs to.
	CaseID string
	// Type is the event type.
	Type EventType
	// Version is the event's 1-based number in its case: CaseOpened is 1.
	Version uint64
	// Position is the event's place in the global order of the log.
	Position uint64
	// RecordedAt is when the log committed the event (UTC).
	RecordedAt time.Time
	// Originator is the organisation that wrote the event.
	Originator string
	// Author is the user (token subject) who wrote it.
	Author string
	// Classification is the event's TLP label, defaults applied.
	Classification TLP
	// ShareWith lists the organisations the originator shares the event with.
	ShareWith []string
	// SchemaVersion is the encoding version the event was written with.
	SchemaVersion int
	// CorrelationID ties the event to the request that caused it.
	CorrelationID string
	// Data is the typed content, nil when it is not available (erased case).
	Data Data
	// RawData is the canonical JSON of Data as stored, nil when erased.
	RawData json.RawMessage
}

// Identity is who calls: a user (token subject, known to its issuer) of one
// organisation with roles.
type Identity struct {
	// Issuer is the identity provider that vouched for the subject (the
	// token's iss): a subject is known by issuer and subject together.
	Issuer  string
	Subject string
	Agency  string
	Roles   []string
}

// HasRole reports whether the identity holds role.
func (id Identity) HasRole(role string) bool {
	for _, r := range id.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Directory is the organisation directory: organisation ids and their types.
type Directory interface {
	// TypeOf returns the type of organisation id, and false if it is unknown.
	TypeOf(id string) (OrgType, bool)
}

// MapDirectory is a Directory held in a map.
type MapDirectory map[string]OrgType

// TypeOf returns the type of organisation id, and false if it is unknown.
func (d MapDirectory) TypeOf(id string) (OrgType, bool) {
	t, ok := d[id]
	return t, ok
}

// ParseClassification returns the TLP label s, or a KindInvalid error naming
// field. The empty string is valid and means "the default for the event type".
func ParseClassification(s, field string) (TLP, error) {
	if s == "" {
		return "", nil
	}
	for _, t := range TLPs {
		if string(t) == s {
			return t, nil
		}
	}
	return "", Invalid("invalid classification", FieldError{Field: field, Message: "must be one of TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED"})
}

// CheckShareWith validates a share list: distinct organisations of the directory.
// It returns a KindInvalid error naming field when it is not.
func CheckShareWith(ids []string, dir Directory, field string) error {
	var errs []FieldError
	for i, id := range ids {
		if msg := checkText(id, textRef, MaxRefLen); msg != "" {
			addErr(&errs, field+"["+strconv.Itoa(i)+"]", msg)
			return Invalid("invalid share list", errs...)
		}
	}
	checkOrgs(ids, field, dir, &errs)
	if len(errs) > 0 {
		return Invalid("invalid share list", errs...)
	}
	return nil
}

// TimeFormat is how the hub writes instants: RFC 3339, UTC, whole seconds.
const TimeFormat = "2006-01-02T15:04:05Z"

// FormatTime writes t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

func isTime(s string) bool {
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && t.Location() == time.UTC
}
