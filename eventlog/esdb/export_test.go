package esdb

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
