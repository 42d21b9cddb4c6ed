package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
)

func set(k, v string) eventlog.KVOp { return eventlog.KVOp{Key: []byte(k), Value: []byte(v)} }
func del(k string) eventlog.KVOp    { return eventlog.KVOp{Key: []byte(k), Delete: true} }

func mustWrite(t *testing.T, s *embedded.Store, ops ...eventlog.KVOp) {
	t.Helper()
	if err := s.Write(t.Context(), false, ops...); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// scan returns "key=value" for each pair of Scan(prefix, start).
func scan(t *testing.T, s *embedded.Store, prefix, start string) []string {
	t.Helper()
	var st []byte
	if start != "" {
		st = []byte(start)
	}
	var got []string
	for _, p := range readAll(t, s.Scan(t.Context(), []byte(prefix), st)) {
		got = append(got, fmt.Sprintf("%s=%s", p.Key, p.Value))
	}
	return got
}

func checkStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func TestKV(t *testing.T) {
	t.Run("Get of a missing key reports false", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		v, ok, err := s.Get(t.Context(), []byte("nope"))
		if err != nil || ok || v != nil {
			t.Errorf("got %q, %v, %v; want nil, false, nil", v, ok, err)
		}
	})
	t.Run("Write applies sets and deletes in order", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		mustWrite(t, s, set("a", "1"), set("b", "2"), del("a"), set("c", "3"), set("c", "4"))
		if err := s.Write(t.Context(), true, del("b"), set("b", "5")); err != nil {
			t.Fatal(err)
		}
		checkStrings(t, "Scan", scan(t, s, "", ""), "b=5", "c=4")
		v, ok, err := s.Get(t.Context(), []byte("c"))
		if err != nil || !ok || string(v) != "4" {
			t.Errorf("Get(c): got %q, %v, %v; want 4", v, ok, err)
		}
	})
	t.Run("Scan keeps to the prefix and starts at start", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		mustWrite(t, s, set("m/1", "a"), set("m/2", "b"), set("m/3", "c"), set("m", "x"), set("n/1", "y"), set("l/9", "z"))
		checkStrings(t, "prefix", scan(t, s, "m/", ""), "m/1=a", "m/2=b", "m/3=c")
		checkStrings(t, "start inside", scan(t, s, "m/", "m/2"), "m/2=b", "m/3=c")
		checkStrings(t, "start between", scan(t, s, "m/", "m/15"), "m/2=b", "m/3=c")
		checkStrings(t, "start before", scan(t, s, "m/", "a"), "m/1=a", "m/2=b", "m/3=c")
		checkStrings(t, "start after", scan(t, s, "m/", "z"))
		checkStrings(t, "no prefix", scan(t, s, "", ""), "l/9=z", "m=x", "m/1=a", "m/2=b", "m/3=c", "n/1=y")
	})
	t.Run("a Scan stopped early stops cleanly", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		mustWrite(t, s, set("a", "1"), set("b", "2"))
		for _, err := range s.Scan(t.Context(), nil, nil) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		checkStrings(t, "Scan", scan(t, s, "", ""), "a=1", "b=2")
	})
	t.Run("Scan handles a prefix of 0xff bytes", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		mustWrite(t, s, set("\xff\xff", "a"), set("\xff\xff\x00", "b"), set("\xfe", "c"))
		checkStrings(t, "prefix", scan(t, s, "\xff\xff", ""), "\xff\xff=a", "\xff\xff\x00=b")
	})
	t.Run("KV keys never collide with the log's", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		mustAppend(t, s, "c", eventlog.NoStream, event("e1"))
		if _, err := s.AppendRecords(t.Context(), []byte("r")); err != nil {
			t.Fatal(err)
		}
		// Keys spelled like the log's own: they live in the KV keyspace only.
		mustWrite(t, s, set("E\x00\x00\x00\x00\x00\x00\x00\x01", "x"), set("Hc", "x"), set("J\x00\x00\x00\x00\x00\x00\x00\x00", "x"), set("Mformat", "x"))
		checkStrings(t, "Scan", scan(t, s, "", ""),
			"E\x00\x00\x00\x00\x00\x00\x00\x01=x", "Hc=x", "J\x00\x00\x00\x00\x00\x00\x00\x00=x", "Mformat=x")
		mustWrite(t, s, del("E\x00\x00\x00\x00\x00\x00\x00\x01"), del("Hc"))
		if got := readAll(t, s.ReadStream(t.Context(), "c", 1)); len(got) != 1 || string(got[0].Data) != "e1" {
			t.Errorf("stream: got %d events, want the one appended", len(got))
		}
		mustAppend(t, s, "c", 1, event("e2"))
		if got := readAll(t, s.ReadRecords(t.Context(), 0)); len(got) != 1 || string(got[0].Data) != "r" {
			t.Errorf("journal: got %d records, want the one appended", len(got))
		}
	})
}

func TestCompactKeepsEverything(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	for i := range 2000 {
		if _, err := s.AppendRecords(ctx, []byte(fmt.Sprintf("record %d", i))); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, false, eventlog.KVOp{Key: []byte(fmt.Sprintf("k%05d", i)), Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for e, err := range s.ReadRecords(ctx, 0) {
		if err != nil || string(e.Data) != fmt.Sprintf("record %d", n) {
			t.Fatalf("record %d after Compact: %q, %v", n, e.Data, err)
		}
		n++
	}
	v, ok, err := s.Get(ctx, []byte("k01234"))
	if n != 2000 || !ok || err != nil || v[0] != byte(1234%256) {
		t.Fatalf("after Compact: %d records, k01234 = %v %v %v", n, v, ok, err)
	}
	s.Close()
	if err := s.Compact(ctx); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("Compact of a closed store: %v, want ErrClosed", err)
	}
}

// TestKVSpansCutTables writes the keys of three KV spans in one batch: a flush
// writes each span to tables of its own, and without KVSpans to one table.
func TestKVSpansCutTables(t *testing.T) {
	spans := func(key []byte) []byte {
		switch {
		case string(key) < "b":
			return []byte("b")
		case string(key) < "c":
			return []byte("c")
		}
		return nil
	}
	ops := []eventlog.KVOp{set("a1", "1"), set("a2", "2"), set("b1", "3"), set("b2", "4"), set("c1", "5"), set("z9", "6")}
	for _, tc := range []struct {
		name  string
		spans func([]byte) []byte
		want  [][2]string
	}{
		{"with KVSpans", spans, [][2]string{{"a1", "a2"}, {"b1", "b2"}, {"c1", "z9"}}},
		{"without", nil, [][2]string{{"a1", "z9"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), func(o *embedded.Options) { o.KVSpans = tc.spans })
			// The store's own metadata goes first, in a table of its own.
			if _, err := embedded.FlushedKVTables(s); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, s, ops...)
			got, err := embedded.FlushedKVTables(s)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(got, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("tables after a flush: %q, want %q", got, tc.want)
			}
			checkStrings(t, "keys", scan(t, s, "", ""), "a1=1", "a2=2", "b1=3", "b2=4", "c1=5", "z9=6")
		})
	}
}
