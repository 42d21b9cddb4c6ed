package embedded_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// When its disk fills, the store refuses appends and journal appends at once,
// writing nothing, with ErrDiskFull and eventlog.ErrUnavailable; it releases
// its reserve, says so once in its log, reports it in Health, and takes
// appends again by itself once there is room, its reserve allocated again.
// Every append it acknowledged is there.
func TestAFullDiskRefusesAppendsAndRecovers(t *testing.T) {
	const reserve = 8 << 20
	var free atomic.Int64
	free.Store(1 << 30)
	defer embedded.SetStatFS(func(string) (int64, int64, bool) { return 2 << 30, free.Load(), true })()
	dir := t.TempDir()
	logs := &syncBuffer{}
	st, err := embedded.Open(dir, embedded.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), DiskReserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	reserveSize := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, embedded.ReserveFile))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	if got := reserveSize(); got != reserve {
		t.Fatalf("reserve file of %d bytes; want %d", got, reserve)
	}
	acked := 0
	appendOne := func() error {
		e := eventlog.Event{Type: "T", Data: []byte("x")}
		e.ID[0] = byte(acked + 1)
		_, err := st.Append(ctx, "s", int64(acked), e)
		if err == nil {
			acked++
		}
		return err
	}
	for range 3 {
		if err := appendOne(); err != nil {
			t.Fatal(err)
		}
	}

	free.Store(1 << 20) // another process filled the disk
	time.Sleep(10 * time.Millisecond)
	for range 50 {
		err := appendOne()
		if !errors.Is(err, embedded.ErrDiskFull) || !errors.Is(err, eventlog.ErrUnavailable) {
			t.Fatalf("append on a full disk: %v; want ErrDiskFull and ErrUnavailable", err)
		}
		if _, err := st.AppendRecords(ctx, []byte("r")); !errors.Is(err, eventlog.ErrUnavailable) {
			t.Fatalf("journal append on a full disk: %v", err)
		}
	}
	if err := st.Health(); !errors.Is(err, embedded.ErrDiskFull) {
		t.Errorf("health on a full disk: %v", err)
	}
	if got := reserveSize(); got != 0 {
		t.Errorf("the reserve (%d bytes) was not released", got)
	}
	// Reads go on.
	if h, err := st.Head(ctx); err != nil || h.Commit != 3 {
		t.Errorf("head %v, %v", h, err)
	}

	free.Store(1 << 30) // room again
	deadline := time.Now().Add(5 * time.Second)
	for st.Health() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not take appends again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := appendOne(); err != nil {
		t.Fatalf("append after room returned: %v", err)
	}
	if got := reserveSize(); got != reserve {
		t.Errorf("reserve after recovery: %d bytes", got)
	}
	n := 0
	for _, err := range st.ReadStream(ctx, "s", 1) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != acked || acked != 4 {
		t.Errorf("%d events stored, %d acknowledged; want 4", n, acked)
	}
	out := logs.String()
	if c := strings.Count(out, "DISK FULL"); c != 1 {
		t.Errorf("the full disk was logged %d times; want once:\n%s", c, out)
	}
	if c := strings.Count(out, "disk has room again"); c != 1 {
		t.Errorf("the recovery was logged %d times; want once:\n%s", c, out)
	}
}

// A store of a newer format is refused with an error that says so.
func TestANewerStoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	st, err := embedded.Open(dir, embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := embedded.SetFormat(st, embedded.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = embedded.Open(dir, embedded.Options{Logger: quiet})
	if !errors.Is(err, embedded.ErrNewerFormat) || !strings.Contains(err.Error(), fmt.Sprintf("format %d", embedded.SchemaVersion+1)) {
		t.Errorf("opening a newer store: %v; want ErrNewerFormat naming its format", err)
	}
}

// A backup taken while appends go on holds every event and record durable
// before it began, opens as a store of its own, and the store goes on.
func TestBackupUnderAppends(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked sync.Map // stream → last version acknowledged
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("case-%d", w)
			for v := int64(0); ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				e := eventlog.Event{Type: "T", Data: bytes.Repeat([]byte{byte(v)}, 500)}
				e.ID[0], e.ID[1], e.ID[2] = byte(w), byte(v), byte(v>>8)
				if _, _, err := st.AppendWithRecords(ctx, stream, v, []eventlog.Event{e}, [][]byte{[]byte("record")}); err != nil {
					t.Error(err)
					return
				}
				acked.Store(stream, v+1)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	before := map[string]int64{}
	acked.Range(func(k, v any) bool { before[k.(string)] = v.(int64); return true })
	info, err := st.Backup(ctx, filepath.Join(dir, "backup", "log"))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Files == 0 || info.Bytes == 0 || info.Head == 0 || info.Records != info.Head {
		t.Errorf("backup info %+v", info)
	}
	if _, err := st.Backup(ctx, info.Dir); !errors.Is(err, os.ErrExist) {
		t.Errorf("a backup into an existing directory: %v", err)
	}
	b, err := embedded.Open(info.Dir, embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for stream, v := range before {
		n := int64(0)
		for _, err := range b.ReadStream(ctx, stream, 1) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n < v {
			t.Errorf("%s: the backup holds %d events; %d were acknowledged before it began", stream, n, v)
		}
	}
	if l, _ := b.Len(ctx); l < info.Records {
		t.Errorf("the backup holds %d records; %d were durable when it began", l, info.Records)
	}
}
