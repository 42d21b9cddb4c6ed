package accesslog_test

import (
	"crypto/rand"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

func TestAppendWith(t *testing.T) {
	h := newHub(t, false)
	ctx := t.Context()
	var notified atomic.Int32
	h.log.OnAppend(func() { notified.Add(1) })
	if _, err := h.log.Append(ctx, &accesslog.Record{Time: base, Action: "case.read", Roles: []string{}, Reasons: []string{}}); err != nil {
		t.Fatal(err)
	}
	notified.Store(0)
	// The record of a write, committed with the write's events.
	commit := func(expected int64) func([]byte) (uint64, error) {
		return func(record []byte) (uint64, error) {
			_, first, err := h.st.AppendWithRecords(ctx, "case-1", expected,
				[]eventlog.Event{{ID: randomID(), Type: "CaseOpened", Data: []byte(`{}`)}}, [][]byte{record})
			return first, err
		}
	}

	t.Run("it sets the index and notifies", func(t *testing.T) {
		r := accesslog.Record{Time: base, Sub: "pc-anna", Issuer: "liaison-dev", Action: "case.open", CaseID: "case-1",
			Decision: accesslog.Allow, Status: 201, Roles: []string{"caseworker"}, Reasons: []string{}}
		i, err := h.log.AppendWith(&r, commit(eventlog.NoStream))
		if err != nil {
			t.Fatal(err)
		}
		if i != 1 || r.Index != 1 {
			t.Errorf("index %d, r.Index %d; want 1", i, r.Index)
		}
		if n := notified.Load(); n != 1 {
			t.Errorf("OnAppend called %d times, want 1", n)
		}
		for got, err := range h.log.Records(ctx, 1) {
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("stored\n%+v\nwant\n%+v", got, r)
			}
			break
		}
		if got := readEvents(t, h, "case-1"); got != 1 {
			t.Errorf("the stream holds %d events, want 1", got)
		}
	})
	t.Run("an error from commit is returned and nothing is notified", func(t *testing.T) {
		notified.Store(0)
		r := accesslog.Record{Time: base, Action: "case.open", CaseID: "case-1", Roles: []string{}, Reasons: []string{}, Index: 42}
		_, err := h.log.AppendWith(&r, commit(eventlog.NoStream)) // the stream exists
		if !errors.Is(err, eventlog.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if r.Index != 42 {
			t.Errorf("r.Index set to %d", r.Index)
		}
		if n := notified.Load(); n != 0 {
			t.Errorf("OnAppend called %d times, want 0", n)
		}
		if n, _ := h.log.Len(ctx); n != 2 {
			t.Errorf("the log holds %d records, want 2", n)
		}
		errOther := errors.New("no")
		if _, err := h.log.AppendWith(&r, func([]byte) (uint64, error) { return 7, errOther }); err != errOther || r.Index != 42 || notified.Load() != 0 {
			t.Errorf("got %v, r.Index %d, %d notifications; want the error as is, 42, 0", err, r.Index, notified.Load())
		}
	})
}

// readEvents returns the number of events of stream.
func readEvents(t *testing.T, h *hub, stream string) int {
	t.Helper()
	n := 0
	for _, err := range h.st.ReadStream(t.Context(), stream, 1) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestQueryReturnsTheOptionalFields(t *testing.T) {
	for name, follow := range map[string]bool{"indexed": true, "not yet indexed": false} {
		t.Run(name, func(t *testing.T) {
			h := newHub(t, follow)
			recs := h.fill(t, 200, 9)
			if !follow {
				h.svc.Wait = time.Millisecond
			}
			yes := true
			for fname, f := range map[string]accesslog.Filter{"break-glass": {BreakGlass: &yes}, "one user": {Sub: "user-2"}, "everything": {}} {
				p, err := h.svc.Query(t.Context(), f, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Records) == 0 {
					t.Fatalf("%s: no records", fname)
				}
				for _, r := range p.Records {
					want := recs[r.Index]
					want.Roles, want.Reasons = []string{}, []string{} // nil in fill, [] as stored
					if !reflect.DeepEqual(r, want) {
						t.Errorf("%s: record %d reads\n%+v\nwant\n%+v", fname, r.Index, r, want)
					}
				}
			}
		})
	}
}

// randomID returns a random event ID: every event is a new one (the store
// deduplicates an event appended again at the same version).
func randomID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	return id
}
