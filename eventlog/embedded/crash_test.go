package embedded_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// The crash test (docs/targets.md, R1, and R8 for the store): a child process
// appends from many goroutines and prints an acknowledgement line after every
// successful call; the parent SIGKILLs it at a random moment, reopens the data
// directory and checks that everything acknowledged is there, byte for byte,
// and that the store is consistent. The same directory is reused across rounds.
//
// Some writers use AppendWithRecords, each call with a journal record naming
// its events (linkedRecord): after the kill, every event of theirs must have
// its record and every such record its events, acknowledged or not, and a
// call refused for a conflict must have left neither.

var crashRounds = flag.Int("crash.rounds", 0, "rounds of TestCrashRecovery (default $LIAISON_CRASH_ROUNDS, else 3)")

const (
	crashDirEnv   = "LIAISON_CRASH_CHILD_DIR"
	crashRoundEnv = "LIAISON_CRASH_CHILD_ROUND"
	hotStreams    = 4
)

func TestCrashRecovery(t *testing.T) {
	rounds := *crashRounds
	if rounds == 0 {
		rounds = 3
		if n, err := strconv.Atoi(os.Getenv("LIAISON_CRASH_ROUNDS")); err == nil && n > 0 {
			rounds = n
		}
	}
	dir := t.TempDir()
	acked := &ledger{events: map[string]map[uint64][16]byte{}, records: map[uint64][16]byte{}, linked: map[uint64][]byte{}}
	for round := range rounds {
		runChild(t, dir, round, acked)
		// Now and then the next child recovers the killed store itself.
		if round%3 == 1 && round != rounds-1 {
			continue
		}
		verifyStore(t, dir, round, acked)
	}
	t.Logf("%d rounds: %d events and %d journal records (%d of them with their events) acknowledged in all",
		rounds, acked.nevents(), len(acked.records)+len(acked.linked), len(acked.linked))
}

// ledger is what the children acknowledged.
type ledger struct {
	events  map[string]map[uint64][16]byte // stream → version → event ID
	records map[uint64][16]byte            // journal index → record ID
	linked  map[uint64][]byte              // journal index → record appended with its events
}

func (l *ledger) nevents() (n int) {
	for _, vs := range l.events {
		n += len(vs)
	}
	return n
}

// parse records one acknowledgement line: "E stream version id", "J index id"
// or "L index record" (the record in hex).
func (l *ledger) parse(line string) error {
	f := strings.Fields(line)
	if len(f) == 3 && f[0] == "L" {
		i, err := strconv.ParseUint(f[1], 10, 64)
		record, herr := hex.DecodeString(f[2])
		if err != nil || herr != nil {
			return fmt.Errorf("bad ack line %q", line)
		}
		l.linked[i] = record
		return nil
	}
	var id [16]byte
	if len(f) < 3 || len(f[len(f)-1]) != 32 {
		return fmt.Errorf("bad ack line %q", line)
	}
	if _, err := hex.Decode(id[:], []byte(f[len(f)-1])); err != nil {
		return fmt.Errorf("bad ack line %q", line)
	}
	switch {
	case f[0] == "E" && len(f) == 4:
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("bad ack line %q", line)
		}
		if l.events[f[1]] == nil {
			l.events[f[1]] = map[uint64][16]byte{}
		}
		l.events[f[1]][v] = id
	case f[0] == "J" && len(f) == 3:
		i, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("bad ack line %q", line)
		}
		l.records[i] = id
	default:
		return fmt.Errorf("bad ack line %q", line)
	}
	return nil
}

// runChild starts a child appending to dir, kills it with SIGKILL at a random
// moment after it is ready and records its acknowledgements.
func runChild(t *testing.T, dir string, round int, acked *ledger) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	ready := make(chan struct{})
	readErr := make(chan error, 1)
	before := acked.nevents() + len(acked.records) + len(acked.linked)
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err == io.EOF {
				readErr <- nil // a last line without its newline was not acknowledged
				return
			}
			if err != nil {
				readErr <- err
				return
			}
			switch line = strings.TrimSuffix(line, "\n"); {
			case line == "READY":
				close(ready)
			case strings.HasPrefix(line, "E ") || strings.HasPrefix(line, "J ") || strings.HasPrefix(line, "L "):
				if err := acked.parse(line); err != nil {
					readErr <- err
					return
				}
			}
		}
	}()
	select {
	case <-ready:
	case err := <-readErr:
		cmd.Wait()
		t.Fatalf("round %d: child stopped before it was ready (%v): %s", round, err, stderr.Bytes())
	case <-time.After(time.Minute):
		t.Fatalf("round %d: child not ready after a minute: %s", round, stderr.Bytes())
	}
	time.Sleep(20*time.Millisecond + rand.N(280*time.Millisecond))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("round %d: kill: %v", round, err)
	}
	if err := <-readErr; err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.Exited() {
		t.Fatalf("round %d: child exited by itself (%v) instead of being killed: %s", round, err, stderr.Bytes())
	}
	t.Logf("round %d: %d acknowledgements before the kill", round, acked.nevents()+len(acked.records)+len(acked.linked)-before)
}

// verifyStore reopens dir and checks it against what was acknowledged.
func verifyStore(t *testing.T, dir string, round int, acked *ledger) {
	t.Helper()
	s, err := embedded.Open(dir, embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer s.Close()
	ctx := t.Context()

	// The global order: positions 1, 2, 3… and every stream contiguous from 1.
	versions := map[string]uint64{}
	linkedEvents := map[[16]byte]eventlog.Recorded{} // by ID, the events of AppendWithRecords
	var last uint64
	for r, err := range s.ReadAll(ctx, eventlog.Position{}) {
		if err != nil {
			t.Fatalf("round %d: ReadAll: %v", round, err)
		}
		if strings.HasPrefix(r.Stream, linkedPrefix) {
			if _, dup := linkedEvents[r.ID]; dup {
				t.Fatalf("round %d: event %x stored twice", round, r.ID)
			}
			linkedEvents[r.ID] = r
		}
		if r.Position.Commit != last+1 {
			t.Fatalf("round %d: position %d follows %d", round, r.Position.Commit, last)
		}
		last = r.Position.Commit
		if r.Version != versions[r.Stream]+1 {
			t.Fatalf("round %d: %s version %d follows %d", round, r.Stream, r.Version, versions[r.Stream])
		}
		versions[r.Stream] = r.Version
	}
	if head, _ := s.Head(ctx); head.Commit != last {
		t.Fatalf("round %d: head %d, but ReadAll ends at %d", round, head.Commit, last)
	}

	// Every acknowledged event, with its exact bytes.
	for stream, acks := range acked.events {
		got := readAll(t, s.ReadStream(ctx, stream, 1))
		if uint64(len(got)) != versions[stream] {
			t.Fatalf("round %d: %s has %d events by ReadStream, %d by ReadAll", round, stream, len(got), versions[stream])
		}
		for v, id := range acks {
			if v == 0 || v > uint64(len(got)) {
				t.Fatalf("round %d: acknowledged %s v%d is missing (stream has %d)", round, stream, v, len(got))
			}
			r := got[v-1]
			want := crashEvent(id)
			if r.ID != id || r.Type != want.Type || !bytes.Equal(r.Data, want.Data) || !bytes.Equal(r.Metadata, want.Metadata) {
				t.Fatalf("round %d: %s v%d is not the acknowledged event %x", round, stream, v, id)
			}
		}
	}

	// Every acknowledged journal record.
	n, _ := s.Len(ctx)
	records := readAll(t, s.ReadRecords(ctx, 0))
	if uint64(len(records)) != n {
		t.Fatalf("round %d: %d journal records read, Len says %d", round, len(records), n)
	}
	for i, id := range acked.records {
		if i >= n || records[i].Index != i || !bytes.Equal(records[i].Data, crashRecord(id)) {
			t.Fatalf("round %d: acknowledged journal record %d is missing or different", round, i)
		}
	}
	for i, record := range acked.linked {
		if i >= n || records[i].Index != i || !bytes.Equal(records[i].Data, record) {
			t.Fatalf("round %d: acknowledged journal record %d, appended with its events, is missing or different", round, i)
		}
	}

	// Every record of AppendWithRecords has its events, consecutive in one
	// stream, and every event of AppendWithRecords has its record.
	named := 0
	for _, e := range records {
		stream, ids, ok := parseLinkedRecord(e.Data)
		if !ok {
			continue
		}
		first := linkedEvents[ids[0]]
		for k, id := range ids {
			r, found := linkedEvents[id]
			if !found {
				t.Fatalf("round %d: journal record %d names event %x, which the log does not hold", round, e.Index, id)
			}
			if r.Stream != stream || r.Version != first.Version+uint64(k) {
				t.Fatalf("round %d: journal record %d names %x, stored as %s v%d", round, e.Index, id, r.Stream, r.Version)
			}
			delete(linkedEvents, id) // so that a second record naming it fails
			named++
		}
	}
	for _, r := range linkedEvents {
		t.Fatalf("round %d: %s v%d (%x) has no journal record", round, r.Stream, r.Version, r.ID)
	}
	t.Logf("round %d: %d events of AppendWithRecords, each with its record", round, named)

	// And the store still takes appends.
	mustAppend(t, s, fmt.Sprintf("verify-%d", round), eventlog.NoStream, event("ok"))
	if first, err := s.AppendRecords(ctx, []byte("ok")); err != nil || first != n {
		t.Fatalf("round %d: AppendRecords after recovery: %d, %v; want %d", round, first, err, n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("round %d: Close: %v", round, err)
	}
}

// crashEvent derives an event's bytes from its ID, so an acknowledgement only
// needs to carry the ID.
func crashEvent(id [16]byte) eventlog.Event {
	data := make([]byte, 64+int(id[0])*4)
	for i := range data {
		data[i] = id[i%16] ^ byte(i*31)
	}
	return eventlog.Event{ID: id, Type: "crash.event", Metadata: id[8:], Data: data}
}

func crashRecord(id [16]byte) []byte {
	return fmt.Appendf(nil, "record %x %s", id, bytes.Repeat(id[:4], int(id[5]%64)))
}

// linkedPrefix starts the streams of AppendWithRecords.
const linkedPrefix = "linked-"

// linkedRecord is the journal record appended with the events ids of stream:
// "linked stream id…" (the IDs in hex) and some padding.
func linkedRecord(stream string, ids [][16]byte) []byte {
	b := fmt.Appendf(nil, "linked %s", stream)
	for _, id := range ids {
		b = fmt.Appendf(b, " %x", id)
	}
	return fmt.Appendf(b, " .%s", bytes.Repeat([]byte{'.'}, int(ids[0][3]%128)))
}

// parseLinkedRecord reads a linkedRecord, and reports whether b is one.
func parseLinkedRecord(b []byte) (stream string, ids [][16]byte, ok bool) {
	f := strings.Fields(string(b))
	if len(f) < 4 || f[0] != "linked" || !strings.HasPrefix(f[len(f)-1], ".") {
		return "", nil, false
	}
	for _, h := range f[2 : len(f)-1] {
		var id [16]byte
		if n, err := hex.Decode(id[:], []byte(h)); err != nil || n != 16 {
			return "", nil, false
		}
		ids = append(ids, id)
	}
	return f[1], ids, true
}

// TestCrashChild is the child of TestCrashRecovery; it appends until killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	round := os.Getenv(crashRoundEnv)
	s, err := embedded.Open(dir, embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stdout.WriteString(line + "\n"); err != nil {
			panic(err) // the parent has gone
		}
	}
	newID := func() (id [16]byte) {
		for i := range id {
			id[i] = byte(rand.N(256))
		}
		return id
	}
	appendEvents := func(stream string, expected int64) (int64, error) {
		events := make([]eventlog.Event, 1+rand.N(3))
		for i := range events {
			events[i] = crashEvent(newID())
		}
		a, err := s.Append(t.Context(), stream, expected, events...)
		if err != nil {
			return 0, err
		}
		for i, e := range events {
			ack(fmt.Sprintf("E %s %d %x", stream, a.Version-uint64(len(events)-1-i), e.ID))
		}
		return int64(a.Version), nil
	}
	ack("READY")

	var wg sync.WaitGroup
	for w := range 12 { // exact expected versions, each writer its own streams
		wg.Go(func() {
			versions := make([]int64, 5)
			for i := 0; ; i++ {
				k := i % len(versions)
				v, err := appendEvents(fmt.Sprintf("r%s-w%d-s%d", round, w, k), versions[k])
				if err != nil {
					panic(err)
				}
				versions[k] = v
			}
		})
	}
	for w := range 4 { // AnyVersion on streams shared by writers and rounds
		wg.Go(func() {
			for i := 0; ; i++ {
				if _, err := appendEvents(fmt.Sprintf("hot-%d", (w+i)%hotStreams), eventlog.AnyVersion); err != nil {
					panic(err)
				}
			}
		})
	}
	for w := range 4 { // events and their journal record together
		wg.Go(func() {
			stream := fmt.Sprintf("%sr%s-w%d", linkedPrefix, round, w)
			var v int64
			for i := 0; ; i++ {
				ids := make([][16]byte, 1+rand.N(3))
				events := make([]eventlog.Event, len(ids))
				for k := range ids {
					ids[k] = newID()
					events[k] = crashEvent(ids[k])
				}
				record := linkedRecord(stream, ids)
				if i%8 == 7 { // a stale expected version: neither is written
					_, _, err := s.AppendWithRecords(t.Context(), stream, v+3, events, [][]byte{record})
					if !errors.Is(err, eventlog.ErrConflict) {
						panic(fmt.Sprintf("got %v, want a conflict", err))
					}
					continue
				}
				a, first, err := s.AppendWithRecords(t.Context(), stream, v, events, [][]byte{record})
				if err != nil {
					panic(err)
				}
				for k, id := range ids {
					ack(fmt.Sprintf("E %s %d %x", stream, a.Version-uint64(len(ids)-1-k), id))
				}
				ack(fmt.Sprintf("L %d %x", first, record))
				v = int64(a.Version)
			}
		})
	}
	for range 4 { // the journal
		wg.Go(func() {
			for {
				ids := make([][16]byte, 1+rand.N(3))
				records := make([][]byte, len(ids))
				for i := range ids {
					ids[i] = newID()
					records[i] = crashRecord(ids[i])
				}
				first, err := s.AppendRecords(t.Context(), records...)
				if err != nil {
					panic(err)
				}
				for i, id := range ids {
					ack(fmt.Sprintf("J %d %x", first+uint64(i), id))
				}
			}
		})
	}
	wg.Wait()
}
