package transparency_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// TestVerifyNamesTheFirstBadRecord tampers with access records the way a
// careful attacker would (checksum fixed), before and after the last
// checkpoint, and checks that Verify names the record.
func TestVerifyNamesTheFirstBadRecord(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		record uint64
	}{{"a record covered by a checkpoint", 7}, {"a record after the last checkpoint", 23}} {
		t.Run(c.name+" is named", func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir+"/log")
			appendRecords(t, st, 20)
			if err := openTrees(t, st, dir, nil).Close(ctx); err != nil { // checkpoint at 20
				t.Fatal(err)
			}
			appendRecords(t, st, 10)
			trees := openTrees(t, st, dir, nil)
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error)
			go func() { done <- trees.Run(runCtx) }()
			trees.NotifyAccess()
			eventually(t, "the tree", func() bool { return trees.Access.Size() == 30 })
			cancel()
			<-done
			st.Close() // as if the hub died: no checkpoint covers records 20 to 29

			db, err := pebble.Open(dir+"/log", &pebble.Options{Logger: quietPebble{}})
			if err != nil {
				t.Fatal(err)
			}
			key := binary.BigEndian.AppendUint64([]byte{'J'}, c.record)
			v, closer, err := db.Get(key)
			if err != nil {
				t.Fatal(err)
			}
			v = append([]byte(nil), v...)
			closer.Close()
			v[len(v)-2] ^= 1
			binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], crc32.MakeTable(crc32.Castagnoli)))
			if err := db.Set(key, v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
			db.Close()

			st = openStore(t, dir+"/log")
			_, err = transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, trees.VerifierKey())
			var te *transparency.TamperError
			if !errors.As(err, &te) || te.Index != c.record || !strings.HasPrefix(err.Error(), "access record ") {
				t.Errorf("Verify: %v, want record %d named", err, c.record)
			}
		})
	}
}

// quietPebble is a Pebble logger for the tests that open a store's files
// directly: silent, and Fatalf panics.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)              {}
func (quietPebble) Errorf(string, ...any)             {}
func (quietPebble) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
