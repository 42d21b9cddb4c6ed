package esdb

import (
	"crypto/rand"
	"fmt"
	"math"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

// This file holds the pure mappings between the eventlog model and EventStoreDB:
// stream names, revision arithmetic, positions and event conversion. Nothing here
// talks to a server, so all of it is unit-tested without one.

// streamName is the EventStoreDB stream that holds the case caseID. The prefix
// keeps case streams apart from the audit stream and from system streams (which
// start with "$"), and it is what the server-side $all filter matches on.
func streamName(prefix, caseID string) string { return prefix + caseID }

// caseIDOf is the inverse of streamName: the case id of an EventStoreDB stream, and
// false when the stream is not a case stream (wrong prefix, or the bare prefix).
func caseIDOf(prefix, stream string) (string, bool) {
	id, ok := strings.CutPrefix(stream, prefix)
	return id, ok && id != ""
}

// versionOf turns an EventStoreDB stream revision into an eventlog Version.
//
// Off by one: EventStoreDB numbers the events of a stream from 0 (the first event
// is revision 0, WriteResult.NextExpectedVersion is the revision of the last
// event written), while eventlog numbers them from 1 (the first event is Version
// 1, and a stream's version is its number of events). So Version = revision + 1.
func versionOf(revision uint64) uint64 { return revision + 1 }

// expectedRevision turns Append's expected version into EventStoreDB's expected
// revision. Off by one, as in versionOf: "the stream holds exactly v events"
// (v >= 1) means "its last event is revision v-1". NoStream (version 0) and
// AnyVersion map to the client's own sentinels. Anything below AnyVersion is an
// error.
func expectedRevision(expected int64) (esdb.ExpectedRevision, error) {
	switch {
	case expected == eventlog.AnyVersion:
		return esdb.Any{}, nil
	case expected == eventlog.NoStream:
		return esdb.NoStream{}, nil
	case expected > 0:
		return esdb.Revision(uint64(expected - 1)), nil
	default:
		return nil, fmt.Errorf("esdb: invalid expected version %d", expected)
	}
}

// readFrom is where ReadStream starts for "events with Version >= from": revision
// from-1 (off by one, as in versionOf), or the start of the stream for from 0 and 1.
func readFrom(from uint64) esdb.StreamPosition {
	if from <= 1 {
		return esdb.Start{}
	}
	return esdb.Revision(from - 1)
}

// firstIndex is the journal index of the first of count records written by one
// append. A journal index is the record's stream revision (0-based, no off by one
// here). NextExpectedVersion is the revision of the last record written, and
// EventStoreDB gives the events of one append consecutive revisions, so the first
// one is NextExpectedVersion - count + 1. count must be at least 1.
func firstIndex(nextExpectedVersion uint64, count int) uint64 {
	return nextExpectedVersion + 1 - uint64(count)
}

// toPosition converts an EventStoreDB $all position. Servers before 22.6 do not
// report positions on stream reads and send MaxUint64 for both halves instead;
// that "no position" becomes the zero Position.
func toPosition(p esdb.Position) eventlog.Position {
	if p.Commit == math.MaxUint64 && p.Prepare == math.MaxUint64 {
		return eventlog.Position{}
	}
	return eventlog.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// fromPosition is where a $all subscription resumes for "events after p": the
// start of $all for the zero Position, otherwise p itself (EventStoreDB starts a
// subscription after the position it is given).
func fromPosition(p eventlog.Position) esdb.AllPosition {
	if p.IsZero() {
		return esdb.Start{}
	}
	return esdb.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// zeroIDTail marks the EventStoreDB id of an event whose eventlog ID is zero.
// EventStoreDB refuses the nil UUID as an event id (and the Go client silently
// replaces it with a random one), so a zero ID is stored as 6 random bytes
// followed by this tail, and read back as zero. The tail has version nibble 0
// and the reserved variant 111, which no UUID generator produces, so real UUIDs
// never collide with it; the random head keeps these ids distinct, which
// EventStoreDB's idempotency check (by event id) needs. A writer that picks such
// an id on purpose reads it back as zero.
var zeroIDTail = [10]byte{0x00, 0x00, 0xe0, 0x00, 'z', 'e', 'r', 'o', 'i', 'd'}

// storedID is the EventStoreDB event id of an eventlog event ID: the ID itself,
// or a marked random id for the zero ID (see zeroIDTail).
func storedID(id [16]byte) [16]byte {
	if id != ([16]byte{}) {
		return id
	}
	var s [16]byte
	_, _ = rand.Read(s[:6]) // never fails (crypto/rand)
	copy(s[6:], zeroIDTail[:])
	return s
}

// eventID is the inverse of storedID.
func eventID(stored [16]byte) [16]byte {
	if [10]byte(stored[6:]) == zeroIDTail {
		return [16]byte{}
	}
	return stored
}

// toEventData converts an event to append. The ID is the EventStoreDB event id
// (through storedID, for the zero ID). Payloads are binary: the log never looks
// inside them.
func toEventData(e eventlog.Event) esdb.EventData {
	return esdb.EventData{
		EventID:     storedID(e.ID),
		EventType:   e.Type,
		ContentType: esdb.ContentTypeBinary,
		Data:        e.Data,
		Metadata:    e.Metadata,
	}
}

// fromRecorded converts an event read from EventStoreDB. It returns false when the
// event is not in a case stream under prefix. Empty payloads come back as nil
// (gRPC does not tell an empty byte string from an absent one).
func fromRecorded(prefix string, ev *esdb.RecordedEvent) (eventlog.Recorded, bool) {
	id, ok := caseIDOf(prefix, ev.StreamID)
	if !ok {
		return eventlog.Recorded{}, false
	}
	return eventlog.Recorded{
		Event: eventlog.Event{
			ID:       eventID(ev.EventID),
			Type:     ev.EventType,
			Metadata: nilIfEmpty(ev.UserMetadata),
			Data:     nilIfEmpty(ev.Data),
		},
		Stream:     id,
		Version:    versionOf(ev.EventNumber),
		Position:   toPosition(ev.Position),
		RecordedAt: ev.CreatedDate.UTC(),
	}, true
}

// isSystemEvent reports whether an event type is reserved by EventStoreDB ("$"
// prefix: $metadata, $streamDeleted tombstones, $> links, ...).
func isSystemEvent(eventType string) bool { return strings.HasPrefix(eventType, "$") }

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
