package esdb

import "time"

// Exports of the pure mappings for the tests in package esdb_test.
var (
	StreamName       = streamName
	CaseIDOf         = caseIDOf
	VersionOf        = versionOf
	ExpectedRevision = expectedRevision
	ReadFrom         = readFrom
	FirstIndex       = firstIndex
	ToPosition       = toPosition
	FromPosition     = fromPosition
	ToEventData      = toEventData
	FromRecorded     = fromRecorded
	IsSystemEvent    = isSystemEvent
	NewEventID       = newEventID
	StoredID         = storedID
	EventID          = eventID
)

// SetTTL sets how long the store keeps a key (for tests).
func (k *KeyStore) SetTTL(d time.Duration) { k.ttl = d }

// QueuedRecords returns how many AppendRecords calls wait for a batch (for
// tests).
func (l *Log) QueuedRecords() int {
	l.batch.mu.Lock()
	defer l.batch.mu.Unlock()
	return len(l.batch.queue)
}
