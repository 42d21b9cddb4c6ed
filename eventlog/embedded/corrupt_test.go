package embedded_test

import (
	"encoding/binary"
	"errors"
	"iter"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/liaison-hub/liaison/eventlog"
)

// numKey is a key of a numbered keyspace of the schema ('E' events, 'J'
// journal records).
func numKey(prefix byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, n)
}

// tamper opens the store's Pebble database directly and changes it.
func tamper(t *testing.T, dir string, change func(db *pebble.DB) error) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := change(db); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

type pebbleQuiet struct{}

func (pebbleQuiet) Infof(string, ...any)         {}
func (pebbleQuiet) Errorf(string, ...any)        {}
func (pebbleQuiet) Fatalf(f string, args ...any) { panic(f) }

// firstErr drains seq and returns how many values came before its error.
func firstErr[T any](seq iter.Seq2[T, error]) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// corruptStore returns a closed store holding stream "c" with 3 events at
// positions 1–3 and 3 journal records, after change.
func corruptStore(t *testing.T, change func(db *pebble.DB) error) string {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	mustAppend(t, s, "c", eventlog.NoStream, event("one"), event("two"), event("three"))
	if _, err := s.AppendRecords(t.Context(), []byte("r0"), []byte("r1"), []byte("r2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tamper(t, dir, change)
	return dir
}

func TestCorruption(t *testing.T) {
	flipLastByte := func(key []byte) func(db *pebble.DB) error {
		return func(db *pebble.DB) error {
			v, closer, err := db.Get(key)
			if err != nil {
				return err
			}
			v = append([]byte(nil), v...)
			closer.Close()
			v[len(v)-1] ^= 1
			return db.Set(key, v, pebble.Sync)
		}
	}
	remove := func(key []byte) func(db *pebble.DB) error {
		return func(db *pebble.DB) error { return db.Delete(key, pebble.Sync) }
	}
	for _, tc := range []struct {
		name   string
		change func(db *pebble.DB) error
	}{
		{"a changed event byte is ErrCorrupt", flipLastByte(numKey('E', 2))},
		{"a missing event is ErrCorrupt", remove(numKey('E', 2))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, corruptStore(t, tc.change))
			n, err := firstErr(s.ReadAll(t.Context(), eventlog.Position{}))
			if !errors.Is(err, eventlog.ErrCorrupt) || n != 1 {
				t.Errorf("ReadAll: got %v after %d events, want ErrCorrupt after 1", err, n)
			}
			n, err = firstErr(s.ReadStream(t.Context(), "c", 1))
			if !errors.Is(err, eventlog.ErrCorrupt) || n != 1 {
				t.Errorf("ReadStream: got %v after %d events, want ErrCorrupt after 1", err, n)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		change func(db *pebble.DB) error
	}{
		{"a changed journal byte is ErrCorrupt", flipLastByte(numKey('J', 1))},
		{"a missing journal record is ErrCorrupt", remove(numKey('J', 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, corruptStore(t, tc.change))
			n, err := firstErr(s.ReadRecords(t.Context(), 0))
			if !errors.Is(err, eventlog.ErrCorrupt) || n != 1 {
				t.Errorf("ReadRecords: got %v after %d records, want ErrCorrupt after 1", err, n)
			}
		})
	}
}
