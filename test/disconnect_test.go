package liaison_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// Where a disconnecting client closes its connection.
const (
	dcMidHeaders   = "mid-headers"   // the headers are not complete: no call
	dcAfterHeaders = "after-headers" // headers sent, no byte of the body
	dcMidBody      = "mid-body"      // half the body sent
	dcAfterRequest = "after-request" // the whole request sent, the answer not awaited
	dcAfterStatus  = "after-status"  // the answer's status line read
	dcRepeats      = 10              // attempts per kind of call and point
	dcJustLongEnuf = "disconnect test: emergency review of an imminent threat"
)

// dcAttempt is one call cut short; its identity (sub) is its own, so that its
// records and events can be told from every other attempt's.
type dcAttempt struct {
	kind, point string
	rep         int
	sub         string
	status      int // the status line read (after-status only)
}

// TestDisconnectLeavesEveryRecord is issue 13's decision A: a client that goes
// away at any point of a call (mid-headers, before or in the middle of the
// body, right after the request, after the status line) changes nothing of
// the rule that every call the hub handled has its access record, and that
// the record of a write is durable no later than the write. A raw TCP client
// cuts appends, break-glass calls and section reads short, each point ten
// times (with a FIN and with a RST, alternately); then the hub is stopped and
// its data directory read with the Go packages:
//
//   - every event of the case has one access record with its request id
//     (the event's correlation id), decision allow, status 201 and the
//     action of its kind; every 201 record of an append or a break-glass has
//     its event: one to one;
//   - an attempt cut mid-headers left nothing; one cut in its body left a
//     refusal and no event; one whose request was complete left exactly one
//     record, and an event exactly when that record says 201; one whose status
//     line was read left a record with that status. (An attempt closed with a
//     RST before its answer may also have left nothing at all: the RST can
//     reach the hub before the bytes sent do.)
func TestDisconnectLeavesEveryRecord(t *testing.T) {
	start := time.Now()
	h := startHub(t, "")
	caseID := openCase(t, h, prisonCaseworker, "DC-2026-0001")
	appendOK(t, h, caseID, prisonCaseworker, "InterventionRecorded", map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": "DC-FIRST"}, nil)
	key := readDevKey(t, h.data)
	kid := kidOf(t, h.token(prisonCaseworker))

	var attempts []*dcAttempt
	for _, kind := range []string{"append", "break-glass", "read"} {
		points := []string{dcMidHeaders, dcAfterHeaders, dcMidBody, dcAfterRequest, dcAfterStatus}
		if kind == "read" {
			points = []string{dcMidHeaders, dcAfterRequest, dcAfterStatus}
		}
		for _, point := range points {
			for rep := range dcRepeats {
				attempts = append(attempts, &dcAttempt{kind: kind, point: point, rep: rep, sub: fmt.Sprintf("dc-%s-%s-%d", kind, point, rep)})
			}
		}
	}
	for _, a := range attempts {
		roles := []string{"caseworker"}
		if a.kind == "break-glass" {
			roles = []string{"manager"}
		}
		tok := dcToken(t, key, kid, a.sub, "prison-service", roles)
		var method, target, purpose string
		var body []byte
		switch a.kind {
		case "append":
			method, target = "POST", "/v1/cases/"+caseID+"/events"
			body = mustJSON(t, map[string]any{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": "DC " + a.sub}})
		case "break-glass":
			method, target = "POST", "/v1/cases/"+caseID+"/break-glass"
			body = mustJSON(t, map[string]string{"justification": dcJustLongEnuf + " " + a.sub})
		case "read":
			method, target, purpose = "GET", "/v1/cases/"+caseID+"/sections/interventions", "case-management"
		}
		a.status = dcSend(t, h.Addr, a, method, target, tok, purpose, body)
	}
	// Let the calls whose clients left finish, then stop the hub cleanly: a
	// clean stop waits for the calls in flight.
	time.Sleep(500 * time.Millisecond)
	h.Stop()

	store, err := embedded.Open(filepath.Join(h.data, "log"), embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("opening the stopped hub's store: %v", err)
	}
	defer store.Close()
	ctx := context.Background()
	type event struct {
		typ, author, requestID string
		version                uint64
	}
	var events []event
	for r, err := range store.ReadStream(ctx, caseID, 1) {
		if err != nil {
			t.Fatal(err)
		}
		e, err := codec.DecodeMeta(r)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, event{string(e.Type), e.Author, e.CorrelationID, e.Version})
	}
	var records []accesslog.Record
	for r, err := range accesslog.New(store).Records(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	byRequest := map[string][]accesslog.Record{}
	bySub := map[string][]accesslog.Record{}
	for _, r := range records {
		byRequest[r.RequestID] = append(byRequest[r.RequestID], r)
		bySub[r.Sub] = append(bySub[r.Sub], r)
	}
	eventsBySub := map[string][]event{}
	eventsByRequest := map[string][]event{}
	for _, e := range events {
		eventsBySub[e.author] = append(eventsBySub[e.author], e)
		eventsByRequest[e.requestID] = append(eventsByRequest[e.requestID], e)
	}

	t.Run("every event of the case has its allowed access record with its request id and action", func(t *testing.T) {
		for _, e := range events {
			action := "event.append"
			switch e.typ {
			case "CaseOpened":
				action = "case.open"
			case "BreakGlassInvoked":
				action = "break-glass"
			}
			rs := byRequest[e.requestID]
			if e.requestID == "" || len(rs) != 1 {
				t.Errorf("event %d (%s by %s, request %q) has %d access records, want 1", e.version, e.typ, e.author, e.requestID, len(rs))
				continue
			}
			r := rs[0]
			if r.Decision != accesslog.Allow || r.Status != 201 || r.Action != action || r.CaseID != caseID || r.Sub != e.author {
				t.Errorf("event %d (%s by %s): its record says %s %s %d on %q by %q, want %s allow 201", e.version, e.typ, e.author, r.Action, r.Decision, r.Status, r.CaseID, r.Sub, action)
			}
		}
	})

	t.Run("no record claims an append or a break-glass that is not in the log", func(t *testing.T) {
		for _, r := range records {
			if r.CaseID != caseID || r.Status != 201 || (r.Action != "event.append" && r.Action != "break-glass") {
				continue
			}
			if n := len(eventsByRequest[r.RequestID]); n != 1 {
				t.Errorf("record %d (%s by %s, 201) has %d events with its request id %s, want 1", r.Index, r.Action, r.Sub, n, r.RequestID)
			}
		}
	})

	t.Run("each attempt left what its point allows, and nothing else", func(t *testing.T) {
		bad := 0
		for _, a := range attempts {
			recs, evs := bySub[a.sub], eventsBySub[a.sub]
			var problem string
			switch {
			case a.point != dcMidHeaders && a.point != dcAfterStatus && a.rep%2 == 1 && len(recs) == 0 && len(evs) == 0:
				// A RST may reach the hub before it read the bytes sent: then
				// there was no call. (Closed with a FIN, the bytes sent
				// always arrive, and the call must leave its record.)
				continue
			}
			switch a.point {
			case dcMidHeaders:
				if len(recs) != 0 || len(evs) != 0 {
					problem = fmt.Sprintf("%d records and %d events from headers never completed", len(recs), len(evs))
				}
			case dcAfterHeaders, dcMidBody:
				switch {
				case len(recs) != 1:
					problem = fmt.Sprintf("%d access records for a call refused for its cut body, want 1", len(recs))
				case recs[0].Decision != accesslog.Deny || recs[0].Status < 400 || recs[0].Status >= 500:
					problem = fmt.Sprintf("the cut body is recorded as %s %d, want a deny 4xx", recs[0].Decision, recs[0].Status)
				case len(evs) != 0:
					problem = fmt.Sprintf("%d events from a body never completed", len(evs))
				}
			case dcAfterRequest, dcAfterStatus:
				switch {
				case len(recs) != 1:
					problem = fmt.Sprintf("%d access records for a complete request, want 1", len(recs))
				case a.point == dcAfterStatus && recs[0].Status != a.status:
					problem = fmt.Sprintf("the answer's status line said %d, its record %d", a.status, recs[0].Status)
				case a.kind == "read" && (recs[0].Action != "section.read" || recs[0].CaseID != caseID || recs[0].Section != "interventions"):
					problem = fmt.Sprintf("the read is recorded as %s of %q/%q", recs[0].Action, recs[0].CaseID, recs[0].Section)
				case a.kind == "read" && recs[0].Status == 200 && recs[0].Decision == accesslog.Deny:
					problem = "a read answered 200 is recorded as a denial"
				case a.kind != "read" && recs[0].Status == 201 && (len(evs) != 1 || evs[0].requestID != recs[0].RequestID):
					problem = fmt.Sprintf("recorded as appended (201) but %d events by it in the log", len(evs))
				case a.kind != "read" && recs[0].Status != 201 && len(evs) != 0:
					problem = fmt.Sprintf("recorded as %d but %d events by it in the log", recs[0].Status, len(evs))
				case a.kind == "read" && len(evs) != 0:
					problem = fmt.Sprintf("a read appended %d events", len(evs))
				}
			}
			if problem != "" {
				bad++
				t.Errorf("%s cut %s (attempt %d, %s): %s", a.kind, a.point, a.rep, dcClose(a.rep), problem)
			}
		}
		if bad > 0 {
			t.Logf("%d of %d attempts left the wrong trace", bad, len(attempts))
		}
	})

	appended, bgs := 0, 0
	for _, e := range events {
		switch {
		case strings.HasPrefix(e.author, "dc-") && e.typ == "BreakGlassInvoked":
			bgs++
		case strings.HasPrefix(e.author, "dc-"):
			appended++
		}
	}
	t.Logf("%d calls cut short (%d repeats per kind and point); the log holds %d of their appends and %d of their break-glass events, the access log %d records; %v",
		len(attempts), dcRepeats, appended, bgs, len(records), time.Since(start).Round(time.Millisecond))
}

// dcClose says how attempt rep closes its connection.
func dcClose(rep int) string {
	if rep%2 == 1 {
		return "RST"
	}
	return "FIN"
}

// dcSend writes a request by hand on a new connection and closes it at the
// attempt's point; it returns the status of the answer's status line when it
// reads one.
func dcSend(t *testing.T, addr string, a *dcAttempt, method, target, token, purpose string, body []byte) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", a.sub, err)
	}
	defer func() {
		if tc, ok := conn.(*net.TCPConn); ok && a.rep%2 == 1 {
			tc.SetLinger(0) // close with a RST
		}
		conn.Close()
	}()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, target, addr, token)
	if purpose != "" {
		fmt.Fprintf(&head, "Liaison-Purpose: %s\r\n", purpose)
	}
	if body != nil {
		fmt.Fprintf(&head, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	head.WriteString("\r\n")
	h := []byte(head.String())
	var out []byte
	switch a.point {
	case dcMidHeaders:
		out = h[:len(h)/2]
	case dcAfterHeaders:
		out = h
	case dcMidBody:
		out = append(h, body[:len(body)/2]...)
	default:
		out = append(h, body...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatalf("%s: writing the request: %v", a.sub, err)
	}
	if a.point != dcAfterStatus {
		return 0
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: reading the status line: %v", a.sub, err)
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("%s: status line %q", a.sub, line)
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("%s: status line %q", a.sub, line)
	}
	return code
}

// dcToken signs a development token for sub with the hub's key, as
// "liaison token" would, without a process per token.
func dcToken(t *testing.T, key any, kid, sub, agency string, roles []string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "liaison-dev", "aud": []string{"liaison"}, "sub": sub, "agency": agency, "roles": roles,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
