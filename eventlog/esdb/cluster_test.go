package esdb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	esdblog "github.com/liaison-hub/liaison/eventlog/esdb"
	"github.com/liaison-hub/liaison/eventlog/esdb/esdbtest"
	"github.com/liaison-hub/liaison/eventlog/eventlogtest"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// These tests run the backend, through the real client, against the fake
// cluster of esdbtest (no server needed): they check this backend's logic on
// the cluster's bad days as the fake models them, not EventStoreDB itself.

// fakeLog is a Log on a fake cluster with its own streams.
type fakeLog struct {
	*esdblog.Log
	prefix, audit string
	logs          *logLines
}

// openOn opens a Log on url that sees only its own streams, retries quickly
// and logs into memory; edit adjusts its options. It is closed when the test
// ends.
func openOn(t *testing.T, url string, edit func(*esdblog.Options)) *fakeLog {
	t.Helper()
	run := strings.ToLower(rand.Text())
	lines := &logLines{}
	opts := esdblog.Options{
		URL:            url,
		StreamPrefix:   "liaison-test-" + run + "-",
		AuditStream:    "liaison-test-audit-" + run,
		Logger:         slog.New(lines),
		AttemptTimeout: 2 * time.Second,
		RetryFor:       20 * time.Second,
		ProbeInterval:  100 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	l, err := esdblog.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &fakeLog{Log: l, prefix: opts.StreamPrefix, audit: opts.AuditStream, logs: lines}
}

// logLines is a slog handler that keeps the messages logged.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (h *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *logLines) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logLines) WithGroup(string) slog.Handler            { return h }
func (h *logLines) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, r.Message)
	return nil
}

func (h *logLines) saw(part string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// eventually waits up to 20 s for cond, failing the test with what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testWrapper(t *testing.T) *keystore.Wrapper {
	t.Helper()
	w, err := keystore.NewWrapper(bytes.Repeat([]byte{5}, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestConformanceFakeCluster runs the shared suite through the real client
// against a three-node fake cluster, discovered by gossip.
func TestConformanceFakeCluster(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log { return openOn(t, c.URL("", ""), nil) })
	eventlogtest.RunJournal(t, func(t *testing.T) eventlog.Journal { return openOn(t, c.URL("", ""), nil) })
}

// TestCredentials: on a secure cluster the hub's user must be an admin to
// read $all; the credentials come from the URL or from Options (which win);
// a refusal ends Open at once, with the reason, rather than waiting.
func TestCredentials(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{TLS: true, Users: map[string]string{"admin": "changeit", "clerk": "pw"}})
	l := openOn(t, c.URL("admin", "changeit"), nil)
	if _, err := l.Append(t.Context(), "c1", eventlog.NoStream, testEvent(t, "a")); err != nil {
		t.Fatalf("append as admin: %v", err)
	}
	if n := len(readAll(t, l)); n != 1 {
		t.Errorf("ReadAll as admin: %d events, want 1", n)
	}
	openOn(t, c.URL("", ""), func(o *esdblog.Options) { o.Username, o.Password = "admin", "changeit" })
	openOn(t, c.URL("admin", "wrong"), func(o *esdblog.Options) { o.Username, o.Password = "admin", "changeit" })
	// The client sends credentials over TLS only: without, they never arrive.
	plain := esdbtest.Start(t, esdbtest.Options{Users: map[string]string{"admin": "changeit"}})
	for name, url := range map[string]string{
		"no credentials":          c.URL("", ""),
		"a wrong password":        c.URL("admin", "wrong"),
		"a user who is no admin":  c.URL("clerk", "pw"),
		"an unknown user":         c.URL("nobody", "pw"),
		"credentials without TLS": plain.URL("admin", "changeit"),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			l, err := esdblog.Open(ctx, esdblog.Options{URL: url, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				_ = l.Close()
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Open waited for its context instead of reporting the refusal: %v", err)
			}
		})
	}
}

// TestALostClusterIsNoEndOfTheLog (issue 22, defect 1): when the cluster goes
// away for longer than the client's node discovery (after which the client
// closes itself for good), the log says it is lost, Subscribe does not end as
// if the log were closed, and everything goes on when the cluster is back.
func TestALostClusterIsNoEndOfTheLog(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	ctx := t.Context()
	got := make(chan eventlog.Recorded, 16)
	done := make(chan error, 1)
	go func() {
		done <- l.Subscribe(ctx, eventlog.Position{}, func(r eventlog.Recorded) error {
			got <- r
			return nil
		})
	}()
	if _, err := l.Append(ctx, "before", eventlog.NoStream, testEvent(t, "a")); err != nil {
		t.Fatal(err)
	}
	receive(t, got, "before")
	if !l.LostSince().IsZero() {
		t.Fatalf("LostSince = %v while the cluster answers", l.LostSince())
	}

	c.Down()
	eventually(t, "LostSince says the cluster is lost", func() bool { return !l.LostSince().IsZero() })
	eventually(t, "the client gives up on the cluster and is replaced", func() bool { return l.logs.saw("gave up on the cluster") })
	select {
	case err := <-done:
		t.Fatalf("Subscribe ended while the cluster was away: %v", err)
	default:
	}

	c.Up()
	if _, err := l.Append(ctx, "after", eventlog.NoStream, testEvent(t, "b")); err != nil {
		t.Fatalf("append once the cluster is back: %v", err)
	}
	receive(t, got, "after")
	eventually(t, "LostSince clears once the cluster answers", func() bool { return l.LostSince().IsZero() })
	select {
	case err := <-done:
		t.Fatalf("Subscribe ended: %v", err)
	default:
	}
}

// TestCloseDoesNotWaitForCallsStuckInTheClient (defect 1): calls that queue
// in the client while its node discovery fails are stuck in it for good;
// Close returns at once anyway, and the calls return ErrClosed.
func TestCloseDoesNotWaitForCallsStuckInTheClient(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	c.Down()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := l.Head(context.Background()); errors.Is(err, eventlog.ErrClosed) {
					return
				}
			}
		}()
	}
	eventually(t, "the client gives up on the cluster", func() bool { return l.logs.saw("gave up on the cluster") })
	closed := make(chan struct{})
	go func() {
		_ = l.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: it waits for calls stuck in the client")
	}
	returned := make(chan struct{})
	go func() {
		wg.Wait()
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("calls in flight did not return after Close")
	}
}

// TestEveryCallGoesToTheLeader (defect 4): the client is on a follower that
// lags (it prefers followers here; with no live leader, discovery settles on
// one too); every call still reaches the leader, so a write is read back at
// once, by the leader.
func TestEveryCallGoesToTheLeader(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", "", "nodePreference=follower"), nil)
	c.Node(1).Freeze()
	c.Node(2).Freeze()
	ctx := t.Context()
	e := testEvent(t, "a")
	if _, err := l.Append(ctx, "c1", eventlog.NoStream, e); err != nil {
		t.Fatal(err)
	}
	served := c.Node(0).Served()
	var got []eventlog.Recorded
	for r, err := range l.ReadStream(ctx, "c1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 1 || got[0].ID != e.ID {
		t.Fatalf("the write read back: %d events, want it (a lagging follower answered)", len(got))
	}
	if c.Node(0).Served() <= served {
		t.Error("the read was not served by the leader")
	}
}

// TestAKeyReadAfterItsTombstoneIsNeverStale (defect 4): a replica on a
// follower that has not seen a key's tombstone yet still learns that the key
// is destroyed.
func TestAKeyReadAfterItsTombstoneIsNeverStale(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	w := testWrapper(t)
	a := openOn(t, c.URL("", "", "nodePreference=follower"), nil)
	b := openOn(t, c.URL("", ""), nil)
	ctx := t.Context()
	caseID := "stale-" + strings.ToLower(rand.Text())
	if _, err := a.KeyStore(w).Key(ctx, caseID, true); err != nil {
		t.Fatal(err)
	}
	c.Node(1).Freeze()
	c.Node(2).Freeze()
	if err := b.KeyStore(w).Destroy(ctx, caseID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.KeyStore(w).Key(ctx, caseID, false); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("the key read after its tombstone: %v, want ErrDestroyed", err)
	}
}

// TestADestroyDuringAReadDoesNotBringTheKeyBack (defect 3): a key read just
// before its destruction is not kept in the cache once the destruction is
// done.
func TestADestroyDuringAReadDoesNotBringTheKeyBack(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	w := testWrapper(t)
	ctx := t.Context()
	caseID := "race-" + strings.ToLower(rand.Text())
	if _, err := l.KeyStore(w).Key(ctx, caseID, true); err != nil {
		t.Fatal(err)
	}
	ks := l.KeyStore(w) // nothing cached
	var once sync.Once
	c.SetReadGate(func(stream string) {
		if stream != esdblog.DefaultKeyPrefix+caseID {
			return
		}
		// The node has read the key; before it answers, the key is destroyed.
		once.Do(func() {
			if err := ks.Destroy(ctx, caseID); err != nil {
				t.Errorf("Destroy: %v", err)
			}
		})
	})
	_, _ = ks.Key(ctx, caseID, false) // the key as it was when read: either answer is right
	c.SetReadGate(nil)
	if ks.Cached(caseID) {
		t.Error("the destroyed key is in the cache")
	}
	if _, err := ks.Key(ctx, caseID, false); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("after the destruction: %v, want ErrDestroyed", err)
	}
}

// TestCachedKeysExpire (defect 3): a key another replica destroyed leaves the
// cache at the latest when the entry expires, Watch or not.
func TestCachedKeysExpire(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	a, b := openOn(t, c.URL("", ""), nil), openOn(t, c.URL("", ""), nil)
	w := testWrapper(t)
	ctx := t.Context()
	caseID := "ttl-" + strings.ToLower(rand.Text())
	ka := a.KeyStore(w)
	ka.SetTTL(50 * time.Millisecond)
	if _, err := ka.Key(ctx, caseID, true); err != nil {
		t.Fatal(err)
	}
	if err := b.KeyStore(w).Destroy(ctx, caseID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := ka.Key(ctx, caseID, false); !errors.Is(err, keystore.ErrDestroyed) {
		t.Fatalf("past its expiry: %v, want ErrDestroyed", err)
	}
}

// TestWatchDropsKeysOtherReplicasDestroy (defect 3): a replica drops a key
// another replica destroys as soon as the tombstone shows in $all, and tells
// the other caches of the key.
func TestWatchDropsKeysOtherReplicasDestroy(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	a, b := openOn(t, c.URL("", ""), nil), openOn(t, c.URL("", ""), nil)
	w := testWrapper(t)
	ctx := t.Context()
	caseID := "watch-" + strings.ToLower(rand.Text())
	ka := a.KeyStore(w)
	forgotten := make(chan string, 4)
	ka.OnDestroy(func(id string) { forgotten <- id })
	if _, err := ka.Key(ctx, caseID, true); err != nil {
		t.Fatal(err)
	}
	if !ka.Cached(caseID) {
		t.Fatal("the key is not cached")
	}
	watched := make(chan error, 1)
	go func() { watched <- ka.Watch(ctx) }()
	eventually(t, "Watch subscribes", func() bool { return c.Subscriptions() > 0 })
	if err := b.KeyStore(w).Destroy(ctx, caseID); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-forgotten:
		if id != caseID {
			t.Errorf("OnDestroy told %q, want %q", id, caseID)
		}
	case err := <-watched:
		t.Fatalf("Watch ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the other replica's destruction never reached this one")
	}
	if ka.Cached(caseID) {
		t.Error("the destroyed key is still cached")
	}
	_ = a.Close()
	select {
	case err := <-watched:
		if err != nil {
			t.Errorf("Watch after Close = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Watch did not end with the log")
	}
}

// TestAnAppendWhoseAnswerWasLostIsWrittenOnce (defect 5): an append that
// commits and then times out on the server, or never answers, or a node that
// refuses it, is retried with the same event ids: it succeeds, once.
func TestAnAppendWhoseAnswerWasLostIsWrittenOnce(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	for name, f := range map[string]esdbtest.Fault{
		"server timeout after the commit": esdbtest.TimeoutAfterCommit,
		"no answer after the commit":      esdbtest.HangAfterCommit,
		"unavailable":                     esdbtest.UnavailableBeforeCommit,
	} {
		t.Run(name, func(t *testing.T) {
			l := openOn(t, c.URL("", ""), func(o *esdblog.Options) { o.AttemptTimeout = 300 * time.Millisecond })
			ctx := t.Context()
			e := testEvent(t, "a")
			c.FailAppends(f, 1)
			a, err := l.Append(ctx, "c1", eventlog.NoStream, e)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if ids := c.IDs(l.prefix + "c1"); len(ids) != 1 || ids[0] != e.ID {
				t.Fatalf("the stream holds %d events, want the one appended once", len(ids))
			}
			rs := readAll(t, l)
			if a.Version != 1 || len(rs) != 1 || rs[0].Position != a.Position {
				t.Errorf("Append = %+v; the event is at %+v", a, rs)
			}
			c.FailAppends(f, 1)
			first, err := l.AppendRecords(ctx, []byte("r1"), []byte("r2"))
			if err != nil || first != 0 {
				t.Fatalf("AppendRecords = %d, %v; want 0", first, err)
			}
			if n, err := l.Len(ctx); err != nil || n != 2 {
				t.Errorf("journal length %d, %v; want 2", n, err)
			}
		})
	}
}

// TestAJournalCallerWaitsForItsOwnRecordsOnly (defect 6): under steady load a
// caller of AppendRecords returns once its own records are written, never
// held to flush the calls that came after it.
func TestAJournalCallerWaitsForItsOwnRecordsOnly(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	entered, release := make(chan struct{}, 8), make(chan struct{}, 8)
	c.SetGate(func(stream string) {
		if stream == l.audit {
			entered <- struct{}{}
			<-release
		}
	})
	t.Cleanup(func() {
		c.SetGate(nil)
		close(release)
	})
	ctx := t.Context()
	first := make(chan error, 1)
	go func() {
		_, err := l.AppendRecords(ctx, []byte("first"))
		first <- err
	}()
	<-entered // the first call's batch is at the cluster
	later := make(chan error, 1)
	go func() {
		_, err := l.AppendRecords(ctx, []byte("later"))
		later <- err
	}()
	eventually(t, "the later call queues", func() bool { return l.QueuedRecords() == 1 })
	release <- struct{}{} // the first batch commits
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first caller is held while the later call's batch waits")
	}
	<-entered
	release <- struct{}{}
	if err := <-later; err != nil {
		t.Fatal(err)
	}
	if n, err := l.Len(ctx); err != nil || n != 2 {
		t.Errorf("journal length %d, %v; want 2", n, err)
	}
}

// TestLeaderFailoverDuringAppendsAndReads: the leader goes away and another
// is elected, again and again, while writers append with exact expected
// versions and read their writes back, and a subscription follows: every
// append succeeds once, every read sees its write, the subscription misses
// nothing and repeats nothing.
func TestLeaderFailoverDuringAppendsAndReads(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	ctx := t.Context()
	const writers, appends = 4, 12
	var (
		subMu sync.Mutex
		seen  []eventlog.Position
	)
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() {
		subDone <- l.Subscribe(subCtx, eventlog.Position{}, func(r eventlog.Recorded) error {
			subMu.Lock()
			seen = append(seen, r.Position)
			subMu.Unlock()
			return nil
		})
	}()
	const rounds = 4
	failing := make(chan struct{}) // closed once the failovers are over
	go func() {
		defer close(failing)
		for round := range rounds {
			leader := round % 3
			time.Sleep(100 * time.Millisecond)
			c.Node(leader).Stop() // the leader dies; no leader for a while
			c.Elect(-1)
			time.Sleep(100 * time.Millisecond)
			c.Elect((leader + 1) % 3)
			c.Node(leader).Start()
		}
	}()
	var wg sync.WaitGroup
	want := make([][]eventlog.Event, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprint("w", w)
			for i := 0; ; i++ {
				select {
				case <-failing:
					if i >= appends {
						return
					}
				default:
				}
				e := testEvent(t, fmt.Sprint(w, "-", i))
				if _, err := l.Append(ctx, stream, int64(i), e); err != nil {
					t.Errorf("writer %d, append %d: %v", w, i, err)
					return
				}
				want[w] = append(want[w], e)
				n := 0
				for r, err := range l.ReadStream(ctx, stream, uint64(i+1)) {
					if err != nil {
						t.Errorf("writer %d, read %d: %v", w, i, err)
						return
					}
					if r.ID == e.ID {
						n++
					}
				}
				if n != 1 {
					t.Errorf("writer %d does not read its append %d back", w, i)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	<-failing
	for w := range writers {
		if ids := c.IDs(l.prefix + fmt.Sprint("w", w)); len(ids) != len(want[w]) {
			t.Errorf("writer %d: the stream holds %d events, want %d", w, len(ids), len(want[w]))
		}
		got := readStreamIDs(t, l, fmt.Sprint("w", w))
		for i, e := range want[w] {
			if i >= len(got) || got[i] != e.ID {
				t.Errorf("writer %d: event %d is not the one appended", w, i)
				break
			}
		}
	}
	all := readAll(t, l)
	eventually(t, "the subscription catches up", func() bool {
		subMu.Lock()
		defer subMu.Unlock()
		return len(seen) >= len(all)
	})
	stopSub()
	<-subDone
	subMu.Lock()
	defer subMu.Unlock()
	var positions []eventlog.Position
	for _, r := range all {
		positions = append(positions, r.Position)
	}
	if !reflect.DeepEqual(seen, positions) {
		t.Errorf("the subscription delivered %d events, ReadAll %d, or not in the same order", len(seen), len(positions))
	}
}

func readStreamIDs(t *testing.T, l eventlog.Log, stream string) [][16]byte {
	t.Helper()
	var ids [][16]byte
	for r, err := range l.ReadStream(t.Context(), stream, 0) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func receive(t *testing.T, got <-chan eventlog.Recorded, stream string) {
	t.Helper()
	select {
	case r := <-got:
		if r.Stream != stream {
			t.Fatalf("Subscribe delivered %s, want %s", r.Stream, stream)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Subscribe did not deliver %s", stream)
	}
}

// ---- The backend's choices, on the fake ----

func TestFakeHeadPagesPastOtherStreams(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	ctx := t.Context()
	if h, err := l.Head(ctx); err != nil || !h.IsZero() {
		t.Fatalf("Head of an empty log = %+v, %v", h, err)
	}
	app, err := l.Append(ctx, "c1", eventlog.NoStream, testEvent(t, "a"), testEvent(t, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // more than the first pages (1, 4, 16)
		c.Write(fmt.Sprintf("other-%d", i), "Other", nil)
	}
	if _, err := l.AppendRecords(ctx, []byte("r1"), []byte("r2")); err != nil {
		t.Fatal(err)
	}
	if h, err := l.Head(ctx); err != nil || h != app.Position {
		t.Errorf("Head = %+v, %v; want the last case event at %+v", h, err, app.Position)
	}
}

func TestFakeAppendWithoutEventsOnlyChecks(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
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
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
	ctx := t.Context()
	c.DropSubscriptionsEvery(3) // every subscription drops after 3 events
	for i := range 5 {
		if _, err := l.Append(ctx, fmt.Sprint("c", i%2), eventlog.AnyVersion, testEvent(t, "x"), testEvent(t, "y")); err != nil {
			t.Fatal(err)
		}
		c.Write("noise", "Noise", nil)
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
	if c.Drops() < 4 {
		t.Errorf("only %d drops: the test did not exercise resubscription", c.Drops())
	}
}

func TestFakeCloseStopsEverything(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	l := openOn(t, c.URL("", ""), nil)
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
