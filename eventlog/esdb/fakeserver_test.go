package esdb_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/eventlogtest"
)

// fakeServer is an in-memory stand-in for the EventStoreDB Streams gRPC service,
// just enough to drive this backend through the real client without a server:
// appends with expected revisions, stream and $all reads in both directions,
// and filtered $all subscriptions with checkpoints, caught-up and drops.
//
// It models the server as this backend assumes it behaves (documented in the
// package); it is no proof that the real one does. Positions are commit ==
// prepare == 1000 + 100 * (index in $all), like implicit-transaction events.
type fakeServer struct {
	api.UnimplementedStreamsServer

	mu      sync.Mutex
	all     []*fakeEvent
	streams map[string][]*fakeEvent
	changed chan struct{} // closed and replaced on every append

	// dropEvery, when > 0, makes each subscription fail (Unavailable) after
	// sending that many events.
	dropEvery atomic.Int64
	drops     atomic.Int64
}

type fakeEvent struct {
	id      [16]byte
	stream  string
	rev     uint64
	pos     uint64
	typ     string
	created time.Time
	meta    []byte
	data    []byte
}

// startFake serves a fakeServer on a local port and returns it with its
// connection string.
func startFake(t *testing.T) (*fakeServer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{streams: map[string][]*fakeEvent{}, changed: make(chan struct{})}
	// The client pings every 10s even when idle; let it.
	srv := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}))
	api.RegisterStreamsServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	// Some system events first, as on a real server.
	f.write("$users", "$User", []byte(`{}`))
	f.write("$settings", "$settings", []byte(`{}`))
	return f, "esdb://" + lis.Addr().String() + "?tls=false&maxDiscoverAttempts=2"
}

// write appends one event without checks (for seeding).
func (f *fakeServer) write(stream, typ string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id [16]byte
	copy(id[:], strconv.Itoa(len(f.all)))
	f.appendLocked(stream, []*fakeEvent{{id: id, typ: typ, data: data}})
}

func (f *fakeServer) appendLocked(stream string, evs []*fakeEvent) {
	for _, e := range evs {
		e.stream = stream
		e.rev = uint64(len(f.streams[stream]))
		e.pos = 1000 + 100*uint64(len(f.all))
		e.created = time.Now()
		f.all = append(f.all, e)
		f.streams[stream] = append(f.streams[stream], e)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeServer) Append(s api.Streams_AppendServer) error {
	req, err := s.Recv()
	if err != nil {
		return err
	}
	opts := req.GetOptions()
	name := string(opts.GetStreamIdentifier().GetStreamName())
	var evs []*fakeEvent
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		m := r.GetProposedMessage()
		var id [16]byte
		st := m.GetId().GetStructured()
		binary.BigEndian.PutUint64(id[:8], uint64(st.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(id[8:], uint64(st.GetLeastSignificantBits()))
		evs = append(evs, &fakeEvent{id: id, typ: m.GetMetadata()["type"], meta: m.GetCustomMetadata(), data: m.GetData()})
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.streams[name]
	ok := true
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_NoStream:
		ok = len(cur) == 0
	case *api.AppendReq_Options_StreamExists:
		ok = len(cur) > 0
	case *api.AppendReq_Options_Revision:
		ok = len(cur) > 0 && uint64(len(cur)-1) == e.Revision
	}
	if !ok {
		wev := &api.AppendResp_WrongExpectedVersion{}
		if len(cur) == 0 {
			wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		} else {
			wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(len(cur) - 1)}
		}
		return s.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wev}})
	}
	if len(evs) == 0 {
		return status.Error(codes.InvalidArgument, "fake: empty append")
	}
	f.appendLocked(name, evs)
	// Like the real server, report where the write starts (its first event).
	return s.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: evs[len(evs)-1].rev},
		PositionOption:        &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: evs[0].pos, PreparePosition: evs[0].pos}},
	}}})
}

func (f *fakeServer) Read(req *api.ReadReq, s api.Streams_ReadServer) error {
	o := req.GetOptions()
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		return f.readStream(o, so.Stream, s)
	case *api.ReadReq_Options_All:
		if o.GetSubscription() != nil {
			return f.subscribeAll(o, so.All, s)
		}
		return f.readAll(o, so.All, s)
	}
	return status.Error(codes.Unimplemented, "fake: read option")
}

func (f *fakeServer) readStream(o *api.ReadReq_Options, so *api.ReadReq_Options_StreamOptions, s api.Streams_ReadServer) error {
	f.mu.Lock()
	evs := f.streams[string(so.GetStreamIdentifier().GetStreamName())]
	f.mu.Unlock()
	if len(evs) == 0 {
		return s.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{StreamIdentifier: so.GetStreamIdentifier()}}})
	}
	var idx []int
	back := o.GetReadDirection() == api.ReadReq_Options_Backwards
	switch r := so.GetRevisionOption().(type) {
	case *api.ReadReq_Options_StreamOptions_Start:
		if back {
			idx = rangeDown(0)
		} else {
			idx = rangeUp(0, len(evs))
		}
	case *api.ReadReq_Options_StreamOptions_End:
		if back {
			idx = rangeDown(len(evs) - 1)
		}
	case *api.ReadReq_Options_StreamOptions_Revision:
		if back {
			idx = rangeDown(min(int(r.Revision), len(evs)-1))
		} else {
			idx = rangeUp(int(r.Revision), len(evs))
		}
	}
	return f.sendAll(s, evs, idx, o.GetCount())
}

func (f *fakeServer) readAll(o *api.ReadReq_Options, ao *api.ReadReq_Options_AllOptions, s api.Streams_ReadServer) error {
	f.mu.Lock()
	evs := f.all
	f.mu.Unlock()
	var idx []int
	back := o.GetReadDirection() == api.ReadReq_Options_Backwards
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Start:
		if !back {
			idx = rangeUp(0, len(evs))
		}
	case *api.ReadReq_Options_AllOptions_End:
		if back {
			idx = rangeDown(len(evs) - 1)
		}
	case *api.ReadReq_Options_AllOptions_Position:
		pos := p.Position.GetCommitPosition()
		if back { // exclusive
			i := len(evs) - 1
			for i >= 0 && evs[i].pos >= pos {
				i--
			}
			idx = rangeDown(i)
		} else { // inclusive
			i := 0
			for i < len(evs) && evs[i].pos < pos {
				i++
			}
			idx = rangeUp(i, len(evs))
		}
	}
	return f.sendAll(s, evs, idx, o.GetCount())
}

func (f *fakeServer) sendAll(s api.Streams_ReadServer, evs []*fakeEvent, idx []int, count uint64) error {
	for n, i := range idx {
		if uint64(n) >= count {
			break
		}
		if err := s.Send(readResp(evs[i])); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) subscribeAll(o *api.ReadReq_Options, ao *api.ReadReq_Options_AllOptions, s api.Streams_ReadServer) error {
	prefixes := o.GetFilter().GetStreamIdentifier().GetPrefix()
	match := func(e *fakeEvent) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(e.stream, p) {
				return true
			}
		}
		return false
	}
	if err := s.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: "fake"}}}); err != nil {
		return err
	}
	f.mu.Lock()
	next := 0
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_End:
		next = len(f.all)
	case *api.ReadReq_Options_AllOptions_Position: // exclusive
		for next < len(f.all) && f.all[next].pos <= p.Position.GetCommitPosition() {
			next++
		}
	}
	f.mu.Unlock()
	sent, considered, caughtUp := int64(0), 0, false
	for {
		f.mu.Lock()
		evs, changed := f.all, f.changed
		f.mu.Unlock()
		for ; next < len(evs); next++ {
			e := evs[next]
			considered++
			if match(e) {
				if err := s.Send(readResp(e)); err != nil {
					return err
				}
				sent++
				if d := f.dropEvery.Load(); d > 0 && sent >= d {
					f.drops.Add(1)
					return status.Error(codes.Unavailable, "fake: subscription dropped")
				}
			}
			if considered%4 == 0 {
				cp := &api.ReadResp_Checkpoint{CommitPosition: e.pos, PreparePosition: e.pos}
				if err := s.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: cp}}); err != nil {
					return err
				}
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := s.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-s.Context().Done():
			return s.Context().Err()
		case <-changed:
		}
	}
}

func readResp(e *fakeEvent) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
				MostSignificantBits:  int64(binary.BigEndian.Uint64(e.id[:8])),
				LeastSignificantBits: int64(binary.BigEndian.Uint64(e.id[8:])),
			}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.rev,
			PreparePosition:  e.pos,
			CommitPosition:   e.pos,
			Metadata: map[string]string{
				"type":         e.typ,
				"content-type": "application/octet-stream",
				"created":      strconv.FormatInt(e.created.UnixNano()/100, 10),
			},
			CustomMetadata: e.meta,
			Data:           e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.pos},
	}}}
}

func rangeUp(from, to int) []int {
	var r []int
	for i := from; i < to; i++ {
		r = append(r, i)
	}
	return r
}

func rangeDown(from int) []int {
	var r []int
	for i := from; i >= 0; i-- {
		r = append(r, i)
	}
	return r
}

// ---- Tests against the fake ----

// TestConformanceFakeServer runs the shared suite through the real client
// against the fake: it checks this backend's logic (numbering, filtering,
// bounds, resubscription, errors), not EventStoreDB itself.
func TestConformanceFakeServer(t *testing.T) {
	_, url := startFake(t)
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log { return openLog(t, url) })
	eventlogtest.RunJournal(t, func(t *testing.T) eventlog.Journal { return openLog(t, url) })
}

func TestFakeHeadPagesPastOtherStreams(t *testing.T) {
	f, url := startFake(t)
	l := openLog(t, url)
	ctx := t.Context()
	if h, err := l.Head(ctx); err != nil || !h.IsZero() {
		t.Fatalf("Head of an empty log = %+v, %v", h, err)
	}
	app, err := l.Append(ctx, "c1", eventlog.NoStream, testEvent(t, "a"), testEvent(t, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // more than the first pages (1, 4, 16)
		f.write(fmt.Sprintf("other-%d", i), "Other", nil)
	}
	if _, err := l.AppendRecords(ctx, []byte("r1"), []byte("r2")); err != nil {
		t.Fatal(err)
	}
	if h, err := l.Head(ctx); err != nil || h != app.Position {
		t.Errorf("Head = %+v, %v; want the last case event at %+v", h, err, app.Position)
	}
}

func TestFakeAppendWithoutEventsOnlyChecks(t *testing.T) {
	_, url := startFake(t)
	l := openLog(t, url)
	ctx := t.Context()
	if a, err := l.Append(ctx, "c1", eventlog.NoStream); err != nil || a != (eventlog.Appended{}) {
		t.Errorf("empty append to a new stream = %+v, %v", a, err)
	}
	if _, err := l.Append(ctx, "c1", eventlog.NoStream, testEvent(t, "a"), testEvent(t, "b")); err != nil {
		t.Fatal(err)
	}
	if a, err := l.Append(ctx, "c1", 2); err != nil || a != (eventlog.Appended{Version: 2}) {
		t.Errorf("empty append at the right version = %+v, %v", a, err)
	}
	if _, err := l.Append(ctx, "c1", 1); !errors.Is(err, eventlog.ErrConflict) {
		t.Errorf("empty append at a stale version = %v, want ErrConflict", err)
	}
	if _, err := l.Append(ctx, "c1", eventlog.AnyVersion, eventlog.Event{Type: "$metadata"}); err == nil {
		t.Error("append of a system event type succeeded")
	}
	if _, err := l.Append(ctx, "", eventlog.AnyVersion, testEvent(t, "a")); err == nil {
		t.Error("append to an empty stream name succeeded")
	}
	if _, err := l.Append(ctx, "c1", -2, testEvent(t, "a")); err == nil {
		t.Error("append with expected version -2 succeeded")
	}
	if n := len(readAll(t, l)); n != 2 {
		t.Errorf("ReadAll yields %d events, want 2", n)
	}
}

func TestFakeSubscribeResubscribesWithoutGapOrDuplicate(t *testing.T) {
	f, url := startFake(t)
	l := openLog(t, url)
	ctx := t.Context()
	f.dropEvery.Store(3) // every subscription drops after 3 events
	for i := range 5 {
		if _, err := l.Append(ctx, fmt.Sprint("c", i%2), eventlog.AnyVersion, testEvent(t, "x"), testEvent(t, "y")); err != nil {
			t.Fatal(err)
		}
		f.write("noise", "Noise", nil)
	}
	var want []eventlog.Position
	for _, r := range readAll(t, l) {
		want = append(want, r.Position)
	}
	if len(want) != 10 {
		t.Fatalf("ReadAll across drops yielded %d events, want 10", len(want))
	}

	errEnough := errors.New("enough")
	got := make(chan eventlog.Position, 100)
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- l.Subscribe(ctx, eventlog.Position{}, func(r eventlog.Recorded) error {
			got <- r.Position
			if n++; n == 14 {
				return errEnough
			}
			return nil
		})
	}()
	time.Sleep(100 * time.Millisecond)
	for range 2 { // live events, while the subscription keeps dropping
		a, err := l.Append(ctx, "live", eventlog.AnyVersion, testEvent(t, "l1"), testEvent(t, "l2"))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, eventlog.Position{Commit: a.Position.Commit - 100, Prepare: a.Position.Prepare - 100}, a.Position)
	}
	select {
	case err := <-done:
		if err != errEnough {
			t.Fatalf("Subscribe = %v, want the handler's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Subscribe did not deliver 14 events")
	}
	close(got)
	var positions []eventlog.Position
	for p := range got {
		positions = append(positions, p)
	}
	if !reflect.DeepEqual(positions, want) {
		t.Errorf("Subscribe delivered %v\nwant %v", positions, want)
	}
	if f.drops.Load() < 4 {
		t.Errorf("only %d drops: the test did not exercise resubscription", f.drops.Load())
	}
}

func TestFakeCloseStopsEverything(t *testing.T) {
	_, url := startFake(t)
	l := openLog(t, url)
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- l.Subscribe(ctx, eventlog.Position{}, func(eventlog.Recorded) error { return nil }) }()
	time.Sleep(100 * time.Millisecond)
	_ = l.Close()
	select {
	case err := <-done:
		if err != eventlog.ErrClosed {
			t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe still running after Close")
	}
	if _, err := l.Append(ctx, "c", eventlog.AnyVersion, testEvent(t, "a")); err != eventlog.ErrClosed {
		t.Errorf("Append = %v", err)
	}
	if _, err := l.Head(ctx); err != eventlog.ErrClosed {
		t.Errorf("Head = %v", err)
	}
	for _, err := range l.ReadStream(ctx, "c", 0) {
		if err != eventlog.ErrClosed {
			t.Errorf("ReadStream = %v", err)
		}
	}
	for _, err := range l.ReadAll(ctx, eventlog.Position{}) {
		if err != eventlog.ErrClosed {
			t.Errorf("ReadAll = %v", err)
		}
	}
	if _, err := l.AppendRecords(ctx, []byte("r")); err != eventlog.ErrClosed {
		t.Errorf("AppendRecords = %v", err)
	}
	if _, err := l.Len(ctx); err != eventlog.ErrClosed {
		t.Errorf("Len = %v", err)
	}
	if err := l.Subscribe(ctx, eventlog.Position{}, nil); err != eventlog.ErrClosed {
		t.Errorf("Subscribe = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// readAll reads the whole log.
func readAll(t *testing.T, l eventlog.Log) []eventlog.Recorded {
	t.Helper()
	var rs []eventlog.Recorded
	for r, err := range l.ReadAll(t.Context(), eventlog.Position{}) {
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		rs = append(rs, r)
	}
	return rs
}
