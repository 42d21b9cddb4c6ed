package esdb_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
	esdblog "github.com/liaison-hub/liaison/eventlog/esdb"
	"github.com/liaison-hub/liaison/eventlog/eventlogtest"
)

// ---- Against a server (skipped unless LIAISON_ESDB_URL is set) ----

// serverURL returns the EventStoreDB connection string to test against, or skips.
func serverURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("LIAISON_ESDB_URL")
	if url == "" {
		t.Skip("LIAISON_ESDB_URL not set: start KurrentDB with `docker compose -f deploy/kurrentdb/compose.yaml up -d` and run LIAISON_ESDB_URL=esdb://localhost:2113?tls=false go test ./eventlog/esdb/")
	}
	return url
}

// openLog opens a Log that sees only its own streams: a fresh random case-stream
// prefix and audit stream, so that tests and runs sharing a server do not see
// each other's events. It is closed when the test ends.
func openLog(t *testing.T, url string) *esdblog.Log {
	t.Helper()
	run := strings.ToLower(rand.Text())
	l, err := esdblog.Open(t.Context(), esdblog.Options{
		URL:          url,
		StreamPrefix: "liaison-test-" + run + "-",
		AuditStream:  "liaison-test-audit-" + run,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestConformance(t *testing.T) {
	url := serverURL(t)
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log { return openLog(t, url) })
}

func TestJournalConformance(t *testing.T) {
	url := serverURL(t)
	eventlogtest.RunJournal(t, func(t *testing.T) eventlog.Journal { return openLog(t, url) })
}

// TestServerMapping checks, on a real server, the choices this backend makes on
// top of the shared contract.
func TestServerMapping(t *testing.T) {
	url := serverURL(t)

	t.Run("multi-event append reports the last event's position", func(t *testing.T) {
		l := openLog(t, url)
		ctx := t.Context()
		evs := []eventlog.Event{testEvent(t, "a"), testEvent(t, "b"), testEvent(t, "c")}
		app, err := l.Append(ctx, "case-1", eventlog.NoStream, evs...)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if app.Version != 3 {
			t.Errorf("Version = %d, want 3", app.Version)
		}
		var last eventlog.Recorded
		for r, err := range l.ReadAll(ctx, eventlog.Position{}) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			last = r
		}
		if last.Position != app.Position {
			t.Errorf("Appended.Position = %+v, last event of ReadAll at %+v", app.Position, last.Position)
		}
		head, err := l.Head(ctx)
		if err != nil || head != app.Position {
			t.Errorf("Head = %+v, %v; want %+v", head, err, app.Position)
		}
	})

	t.Run("Head and ReadAll skip the audit stream", func(t *testing.T) {
		l := openLog(t, url)
		ctx := t.Context()
		app, err := l.Append(ctx, "case-1", eventlog.AnyVersion, testEvent(t, "a"))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		for range 10 {
			if _, err := l.AppendRecords(ctx, []byte("r1"), []byte("r2")); err != nil {
				t.Fatalf("AppendRecords: %v", err)
			}
		}
		head, err := l.Head(ctx)
		if err != nil || head != app.Position {
			t.Errorf("Head = %+v, %v; want %+v", head, err, app.Position)
		}
		n := 0
		for r, err := range l.ReadAll(ctx, eventlog.Position{}) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if r.Stream != "case-1" {
				t.Errorf("ReadAll yielded stream %q", r.Stream)
			}
			n++
		}
		if n != 1 {
			t.Errorf("ReadAll yielded %d events, want 1", n)
		}
	})

	t.Run("wrong expected version is ErrConflict", func(t *testing.T) {
		l := openLog(t, url)
		ctx := t.Context()
		if _, err := l.Append(ctx, "case-1", eventlog.NoStream, testEvent(t, "a")); err != nil {
			t.Fatalf("Append: %v", err)
		}
		_, err := l.Append(ctx, "case-1", eventlog.NoStream, testEvent(t, "b"))
		var esdbErr *esdb.Error
		if !errors.Is(err, eventlog.ErrConflict) || !errors.As(err, &esdbErr) {
			t.Errorf("second NoStream append: %v, want ErrConflict wrapping *esdb.Error", err)
		}
		if _, err := l.Append(ctx, "case-1", 1, testEvent(t, "c")); err != nil {
			t.Errorf("append at version 1: %v", err)
		}
	})

	t.Run("journal indexes are revisions", func(t *testing.T) {
		l := openLog(t, url)
		ctx := t.Context()
		first, err := l.AppendRecords(ctx, []byte("a"), []byte("b"), []byte("c"))
		if err != nil || first != 0 {
			t.Fatalf("AppendRecords = %d, %v; want 0", first, err)
		}
		first, err = l.AppendRecords(ctx, []byte("d"), []byte("e"))
		if err != nil || first != 3 {
			t.Fatalf("AppendRecords = %d, %v; want 3", first, err)
		}
		if n, err := l.Len(ctx); err != nil || n != 5 {
			t.Errorf("Len = %d, %v; want 5", n, err)
		}
		var got []string
		for e, err := range l.ReadRecords(ctx, 2) {
			if err != nil {
				t.Fatalf("ReadRecords: %v", err)
			}
			got = append(got, string(e.Data))
		}
		if strings.Join(got, "") != "cde" {
			t.Errorf("ReadRecords(2) = %q, want c d e", got)
		}
	})

	t.Run("closed log", func(t *testing.T) {
		l := openLog(t, url)
		ctx := t.Context()
		done := make(chan error, 1)
		go func() {
			done <- l.Subscribe(ctx, eventlog.Position{}, func(eventlog.Recorded) error { return nil })
		}()
		time.Sleep(200 * time.Millisecond)
		_ = l.Close()
		select {
		case err := <-done:
			if !errors.Is(err, eventlog.ErrClosed) {
				t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Subscribe did not return after Close")
		}
		if _, err := l.Append(ctx, "case-1", eventlog.AnyVersion, testEvent(t, "a")); !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("Append after Close: %v, want ErrClosed", err)
		}
	})
}

func testEvent(t *testing.T, data string) eventlog.Event {
	t.Helper()
	return eventlog.Event{ID: esdblog.NewEventID(), Type: "test-event", Metadata: []byte(`{"m":1}`), Data: []byte(data)}
}

// ---- Without a server ----

func TestOpenRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]esdblog.Options{
		"empty URL":            {},
		"system prefix":        {URL: "esdb://localhost:2113?tls=false", StreamPrefix: "$case-"},
		"system audit stream":  {URL: "esdb://localhost:2113?tls=false", AuditStream: "$audit"},
		"audit under prefix":   {URL: "esdb://localhost:2113?tls=false", StreamPrefix: "liaison-", AuditStream: "liaison-audit"},
		"not a connection URL": {URL: "http://localhost:2113"},
	} {
		t.Run(name, func(t *testing.T) {
			if l, err := esdblog.Open(t.Context(), opts); err == nil {
				_ = l.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestStreamNaming(t *testing.T) {
	const prefix = esdblog.DefaultStreamPrefix
	name := esdblog.StreamName(prefix, "c-42")
	if name != "liaison-case-c-42" {
		t.Errorf("StreamName = %q", name)
	}
	if id, ok := esdblog.CaseIDOf(prefix, name); !ok || id != "c-42" {
		t.Errorf("CaseIDOf(%q) = %q, %v", name, id, ok)
	}
	for _, other := range []string{esdblog.DefaultAuditStream, prefix, "$$" + name, "$ce-liaison", "other-case-1"} {
		if id, ok := esdblog.CaseIDOf(prefix, other); ok {
			t.Errorf("CaseIDOf(%q) = %q, true; want not a case stream", other, id)
		}
	}
}

func TestRevisionMapping(t *testing.T) {
	if v := esdblog.VersionOf(0); v != 1 {
		t.Errorf("VersionOf(0) = %d, want 1 (the first event)", v)
	}
	if v := esdblog.VersionOf(41); v != 42 {
		t.Errorf("VersionOf(41) = %d, want 42", v)
	}

	for _, c := range []struct {
		expected int64
		want     esdb.ExpectedRevision
	}{
		{eventlog.AnyVersion, esdb.Any{}},
		{eventlog.NoStream, esdb.NoStream{}},
		{1, esdb.Revision(0)},
		{7, esdb.Revision(6)},
		{math.MaxInt64, esdb.Revision(math.MaxInt64 - 1)},
	} {
		got, err := esdblog.ExpectedRevision(c.expected)
		if err != nil || got != c.want {
			t.Errorf("ExpectedRevision(%d) = %#v, %v; want %#v", c.expected, got, err, c.want)
		}
	}
	for _, bad := range []int64{-2, math.MinInt64} {
		if got, err := esdblog.ExpectedRevision(bad); err == nil {
			t.Errorf("ExpectedRevision(%d) = %#v, want an error", bad, got)
		}
	}

	for _, c := range []struct {
		from uint64
		want esdb.StreamPosition
	}{
		{0, esdb.Start{}},
		{1, esdb.Start{}},
		{2, esdb.Revision(1)},
		{10, esdb.Revision(9)},
	} {
		if got := esdblog.ReadFrom(c.from); got != c.want {
			t.Errorf("ReadFrom(%d) = %#v, want %#v", c.from, got, c.want)
		}
	}

	for _, c := range []struct {
		next  uint64
		count int
		want  uint64
	}{
		{0, 1, 0},   // first record of a new journal
		{2, 3, 0},   // three records into a new journal: revisions 0..2
		{9, 3, 7},   // revisions 7, 8, 9
		{41, 1, 41}, // one record
	} {
		if got := esdblog.FirstIndex(c.next, c.count); got != c.want {
			t.Errorf("FirstIndex(%d, %d) = %d, want %d", c.next, c.count, got, c.want)
		}
	}
}

func TestPositions(t *testing.T) {
	if p := esdblog.ToPosition(esdb.Position{Commit: 10, Prepare: 8}); p != (eventlog.Position{Commit: 10, Prepare: 8}) {
		t.Errorf("ToPosition = %+v", p)
	}
	if p := esdblog.ToPosition(esdb.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}); !p.IsZero() {
		t.Errorf("ToPosition(no position) = %+v, want zero", p)
	}
	if p := esdblog.FromPosition(eventlog.Position{}); p != (esdb.Start{}) {
		t.Errorf("FromPosition(zero) = %#v, want Start", p)
	}
	if p := esdblog.FromPosition(eventlog.Position{Commit: 5, Prepare: 4}); p != (esdb.Position{Commit: 5, Prepare: 4}) {
		t.Errorf("FromPosition = %#v", p)
	}
}

func TestEventConversionRoundTrip(t *testing.T) {
	const prefix = "liaison-case-"
	in := testEvent(t, "payload")
	data := esdblog.ToEventData(in)
	if [16]byte(data.EventID) != in.ID || data.EventType != in.Type || data.ContentType != esdb.ContentTypeBinary ||
		!bytes.Equal(data.Data, in.Data) || !bytes.Equal(data.Metadata, in.Metadata) {
		t.Fatalf("ToEventData(%+v) = %+v", in, data)
	}

	// What the server gives back for that event, as the 5th event of its stream.
	created := time.Date(2026, 3, 1, 12, 30, 0, 123400, time.FixedZone("CET", 3600))
	stored := &esdb.RecordedEvent{
		EventID:      data.EventID,
		EventType:    data.EventType,
		ContentType:  "application/octet-stream",
		StreamID:     esdblog.StreamName(prefix, "c-1"),
		EventNumber:  4,
		Position:     esdb.Position{Commit: 1234, Prepare: 1234},
		CreatedDate:  created,
		Data:         data.Data,
		UserMetadata: data.Metadata,
	}
	got, ok := esdblog.FromRecorded(prefix, stored)
	want := eventlog.Recorded{
		Event:      in,
		Stream:     "c-1",
		Version:    5,
		Position:   eventlog.Position{Commit: 1234, Prepare: 1234},
		RecordedAt: created.UTC(),
	}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("FromRecorded = %+v, %v\nwant %+v", got, ok, want)
	}
	if got.RecordedAt.Location() != time.UTC {
		t.Errorf("RecordedAt in %v, want UTC", got.RecordedAt.Location())
	}

	stored.Data, stored.UserMetadata = []byte{}, []byte{}
	if got, _ := esdblog.FromRecorded(prefix, stored); got.Data != nil || got.Metadata != nil {
		t.Errorf("empty payloads = %q, %q; want nil", got.Data, got.Metadata)
	}

	stored.StreamID = esdblog.DefaultAuditStream
	if _, ok := esdblog.FromRecorded(prefix, stored); ok {
		t.Error("FromRecorded accepted an event outside the case prefix")
	}
}

func TestZeroEventID(t *testing.T) {
	var zero [16]byte
	a, b := esdblog.StoredID(zero), esdblog.StoredID(zero)
	if a == zero || a == b {
		t.Fatalf("StoredID(zero) = %x, %x; want distinct non-nil ids (EventStoreDB refuses the nil UUID and deduplicates by id)", a, b)
	}
	if got := esdblog.EventID(a); got != zero {
		t.Errorf("EventID(StoredID(zero)) = %x, want zero", got)
	}
	for _, id := range [][16]byte{esdblog.NewEventID(), {0: 0xff, 15: 0xff}, {15: 1}} {
		if s := esdblog.StoredID(id); s != id || esdblog.EventID(s) != id {
			t.Errorf("id %x stored as %x, read back as %x", id, s, esdblog.EventID(s))
		}
	}

	// Through the event conversion.
	data := esdblog.ToEventData(eventlog.Event{Type: "t"})
	got, _ := esdblog.FromRecorded("p-", &esdb.RecordedEvent{EventID: data.EventID, EventType: "t", StreamID: "p-1"})
	if got.ID != zero {
		t.Errorf("zero ID read back as %x", got.ID)
	}
}

func TestSystemEventTypes(t *testing.T) {
	for typ, want := range map[string]bool{"$metadata": true, "$streamDeleted": true, "$>": true, "CaseOpened": false, "": false} {
		if got := esdblog.IsSystemEvent(typ); got != want {
			t.Errorf("IsSystemEvent(%q) = %v", typ, got)
		}
	}
}

func TestNewEventIDIsUUIDv4(t *testing.T) {
	a, b := esdblog.NewEventID(), esdblog.NewEventID()
	if a == b {
		t.Error("two equal random ids")
	}
	if a[6]>>4 != 4 || a[8]>>6 != 2 {
		t.Errorf("id %x is not a version 4, RFC 4122 UUID", a)
	}
}
