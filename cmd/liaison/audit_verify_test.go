package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/test/testlog"
)

// verifyExit runs "liaison audit verify --data dir" and returns its exit code
// and output.
func verifyExit(t *testing.T, dir string, extra ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runVerify(context.Background(), append([]string{"--data", dir}, extra...), &out, &errOut)
	code := 0
	var ec exitCode
	switch {
	case errors.As(err, &ec):
		code = int(ec)
	case err != nil:
		t.Fatalf("verify: %v", err)
	}
	return code, out.String() + errOut.String()
}

// auditData builds a data directory through three sessions of a real hub
// (cases, events, reads, break-glass, an erased case), so each log has three
// checkpoints, and returns it with the number of access records.
func auditData(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	var n int
	for session := range 3 {
		h := startTestHub(t, dir)
		id := h.openCase("P-S" + string(rune('0'+session)))
		h.as(psychologist, "POST", "/v1/cases/"+id+"/events", "", riskAssessment())
		h.as(caseworker, "POST", "/v1/cases/"+id+"/events", "", needsAssessment())
		for range 4 {
			h.as(caseworker, "GET", "/v1/cases/"+id+"/sections/risk", "case-management", nil)
			h.as(coordinator, "GET", "/v1/cases/"+id, "reintegration", nil)
		}
		if session == 1 {
			h.as(analyst, "POST", "/v1/cases/"+id+"/break-glass", "", map[string]any{"justification": "credible threat reported this morning"})
			h.as(analyst, "GET", "/v1/cases/"+id+"/sections/needs", "risk-management", nil)
			h.erase(id)
		}
		n = len(h.records())
		h.close()
	}
	return dir, n
}

// copyDir copies a data directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Raw access to the store's Pebble database (eventlog/embedded/keys.go).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func withPebble(t *testing.T, dir string, f func(db *pebble.DB)) {
	t.Helper()
	db, err := pebble.Open(filepath.Join(dir, "log"), &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	f(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)              {}
func (quietPebble) Errorf(string, ...any)             {}
func (quietPebble) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func numKey(prefix byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, n)
}

func get(t *testing.T, db *pebble.DB, key []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatalf("get %x: %v", key, err)
	}
	defer closer.Close()
	return bytes.Clone(v)
}

func set(t *testing.T, db *pebble.DB, key, value []byte) {
	t.Helper()
	if err := db.Set(key, value, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, db *pebble.DB, key []byte) {
	t.Helper()
	if err := db.Delete(key, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// flipRecord changes one byte of journal record i; with fixCRC, it also
// rewrites the record's checksum, as a careful attacker would.
func flipRecord(t *testing.T, db *pebble.DB, i uint64, fixCRC bool) {
	t.Helper()
	v := get(t, db, numKey('J', i))
	v[len(v)-3] ^= 0x01
	if fixCRC {
		binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], castagnoli))
	}
	set(t, db, numKey('J', i), v)
}

// flipEvent changes one byte of the event at position pos, at the offset that
// at returns (given the record), and rewrites its checksum.
func flipEvent(t *testing.T, db *pebble.DB, pos uint64, at func(v []byte) int) {
	t.Helper()
	v := get(t, db, numKey('E', pos))
	v[at(v)] ^= 0x01
	binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], castagnoli))
	set(t, db, numKey('E', pos), v)
}

// metadataAt returns the offset of the first metadata byte of an event record.
func metadataAt(v []byte) int {
	n := 1 + 4 + 8 + 8 + 16
	for range 2 { // stream, type
		l, k := binary.Uvarint(v[n:])
		n += k + int(l)
	}
	_, k := binary.Uvarint(v[n:])
	return n + k
}

func lastNum(t *testing.T, db *pebble.DB, prefix byte) uint64 {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Last() {
		t.Fatalf("no %c keys", prefix)
	}
	return binary.BigEndian.Uint64(it.Key()[1:])
}

// checkpointKey is the store key of access-log checkpoint seq.
func checkpointKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'K', 'T', 'a', 'c'}, seq)
}

// resign replaces the body of a signed note and signs it again with the data
// directory's key (an attacker holding the key).
func resign(t *testing.T, dir string, msg []byte, edit func(body string) string) []byte {
	t.Helper()
	skey, err := os.ReadFile(filepath.Join(dir, "checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(msg), "\n\n")
	out, err := note.Sign(&note.Note{Text: edit(body + "\n")}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyCatchesTampering(t *testing.T) {
	base, records := auditData(t)
	mid := uint64(records / 2)

	t.Run("an intact store with an erased case passes", func(t *testing.T) {
		code, out := verifyExit(t, base)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		want := regexp.MustCompile(`^intact: \d+ access records, \d+ events, 6 checkpoints verified in [0-9.]+s \([0-9.kM]+ records/s\)\n$`)
		if !want.MatchString(out) {
			t.Errorf("summary %q", out)
		}
	})

	t.Run("the key given passes, another key fails", func(t *testing.T) {
		pub := filepath.Join(t.TempDir(), "published.pub")
		b, _ := os.ReadFile(filepath.Join(base, "checkpoint.pub"))
		os.WriteFile(pub, b, 0o600)
		if code, out := verifyExit(t, base, "--key", pub); code != 0 {
			t.Errorf("with the published key: exit %d:\n%s", code, out)
		}
		_, other, _ := note.GenerateKey(nil, "liaison-hub")
		os.WriteFile(pub, []byte(other), 0o600)
		if code, out := verifyExit(t, base, "--key", pub); code != 1 || !strings.Contains(out, "checkpoint 1 (size ") {
			t.Errorf("with another key: exit %d:\n%s", code, out)
		}
	})

	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, db *pebble.DB)
		want   string // in the output
	}{
		{"a byte of an access record with its checksum fixed", func(t *testing.T, dir string, db *pebble.DB) {
			flipRecord(t, db, mid, true)
		}, "access record " + itoa(mid) + ": stored bytes do not match the tree"},
		{"a byte of an access record", func(t *testing.T, dir string, db *pebble.DB) {
			flipRecord(t, db, mid, false)
		}, "access record " + itoa(mid) + ": cannot be read back"},
		{"two access records, the first is named", func(t *testing.T, dir string, db *pebble.DB) {
			flipRecord(t, db, mid+3, true)
			flipRecord(t, db, mid, true)
		}, "access record " + itoa(mid) + ": stored bytes do not match"},
		{"a byte of an event's data", func(t *testing.T, dir string, db *pebble.DB) {
			flipEvent(t, db, 3, func(v []byte) int { return len(v) - 1 })
		}, "case-log event 2 (position 3, case "},
		{"a byte of an event's metadata", func(t *testing.T, dir string, db *pebble.DB) {
			flipEvent(t, db, 4, metadataAt)
		}, "case-log event 3 (position 4, case "},
		{"an event's version", func(t *testing.T, dir string, db *pebble.DB) {
			flipEvent(t, db, 2, func([]byte) int { return 20 })
		}, "case-log event 1 (position 2, case "},
		{"an access record removed", func(t *testing.T, dir string, db *pebble.DB) {
			del(t, db, numKey('J', mid))
		}, "access record " + itoa(mid) + ": cannot be read back"},
		{"an event removed", func(t *testing.T, dir string, db *pebble.DB) {
			del(t, db, numKey('E', 5))
		}, "case-log event 4 (the event after position 4): cannot be read back"},
		{"the access log truncated below the last checkpoint", func(t *testing.T, dir string, db *pebble.DB) {
			last := lastNum(t, db, 'J')
			for i := last - 2; i <= last; i++ {
				del(t, db, numKey('J', i))
			}
		}, "access record " + itoa(uint64(records-3)) + ": is missing"},
		{"the case log truncated below the last checkpoint", func(t *testing.T, dir string, db *pebble.DB) {
			last := lastNum(t, db, 'E')
			del(t, db, numKey('E', last))
		}, "is missing: the log ends before it"},
		{"a checkpoint's root changed", func(t *testing.T, dir string, db *pebble.DB) {
			v := get(t, db, checkpointKey(2))
			i := bytes.IndexByte(v, '=') - 3 // inside the base64 root
			v[i] = map[bool]byte{true: 'A', false: 'B'}[v[i] != 'A']
			set(t, db, checkpointKey(2), v)
		}, "liaison/access-log checkpoint 2 (size "},
		{"a checkpoint re-signed with another root", func(t *testing.T, dir string, db *pebble.DB) {
			v := resign(t, dir, get(t, db, checkpointKey(2)), func(body string) string {
				l := lines(body)
				l[2] = base64.StdEncoding.EncodeToString(make([]byte, 32))
				return strings.Join(l, "\n") + "\n"
			})
			set(t, db, checkpointKey(2), v)
		}, "liaison/access-log checkpoint 2 (size "},
		{"a checkpoint's signature changed", func(t *testing.T, dir string, db *pebble.DB) {
			v := get(t, db, checkpointKey(1))
			i := bytes.LastIndexByte(v, '=') - 5
			v[i] = map[bool]byte{true: 'A', false: 'B'}[v[i] != 'A']
			set(t, db, checkpointKey(1), v)
		}, "liaison/access-log checkpoint 1 (size "},
		{"a checkpoint removed", func(t *testing.T, dir string, db *pebble.DB) {
			del(t, db, checkpointKey(2))
		}, "liaison/access-log checkpoint 2: is missing"},
	}
	for _, c := range cases {
		t.Run(c.name+" fails and is named", func(t *testing.T) {
			dir := copyDir(t, base)
			withPebble(t, dir, func(db *pebble.DB) { c.tamper(t, dir, db) })
			code, out := verifyExit(t, dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output does not name %q:\n%s", c.want, out)
			}
			t.Log(out)
		})
	}

	t.Run("any single byte of a stored event or record is named", func(t *testing.T) {
		dir := copyDir(t, base)
		for _, target := range []struct {
			key    []byte
			name   string
			header int // every byte of the header and lengths, then a sample
		}{{numKey('E', 3), "case-log event 2 ", 80}, {numKey('J', mid), "access record " + itoa(mid) + ":", 8}} {
			var orig []byte
			withPebble(t, dir, func(db *pebble.DB) { orig = get(t, db, target.key) })
			var offsets []int
			for off := 0; off < len(orig); off++ {
				if off < target.header || off%23 == 0 || off == len(orig)-1 {
					offsets = append(offsets, off)
				}
			}
			for _, off := range offsets {
				v := bytes.Clone(orig)
				v[off] ^= 0x10
				if off >= 5 { // a careful attacker fixes the checksum
					binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], castagnoli))
				}
				withPebble(t, dir, func(db *pebble.DB) { set(t, db, target.key, v) })
				code, out := verifyExit(t, dir)
				if code != 1 || !strings.Contains(out, target.name) {
					t.Errorf("byte %d of %q: exit %d, want 1 naming %q:\n%s", off, target.key, code, target.name, out)
				}
			}
			withPebble(t, dir, func(db *pebble.DB) { set(t, db, target.key, orig) })
		}
		if code, out := verifyExit(t, dir); code != 0 {
			t.Errorf("restored store: exit %d:\n%s", code, out)
		}
	})

	t.Run("a byte flipped in a Pebble file fails", func(t *testing.T) {
		dir := copyDir(t, base)
		withPebble(t, dir, func(db *pebble.DB) {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		})
		ssts, _ := filepath.Glob(filepath.Join(dir, "log", "*.sst"))
		if len(ssts) == 0 {
			t.Fatal("no table files")
		}
		slices.SortFunc(ssts, func(a, b string) int { return int(fileSize(t, b) - fileSize(t, a)) })
		b, err := os.ReadFile(ssts[0])
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x40
		if err := os.WriteFile(ssts[0], b, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := verifyExit(t, dir)
		if code != 1 || !strings.Contains(out, "TAMPERED") {
			t.Fatalf("a corrupted table file: exit %d, want 1 (tampered):\n%s", code, out)
		}
		t.Logf("exit %d: %s", code, out)
	})

	t.Run("a store that no longer opens is tampered with, and says what could not be read", func(t *testing.T) {
		dir := copyDir(t, base)
		manifests, _ := filepath.Glob(filepath.Join(dir, "log", "MANIFEST-*"))
		if len(manifests) == 0 {
			t.Fatal("no manifest")
		}
		for _, m := range manifests {
			if err := os.WriteFile(m, []byte("not a manifest"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		code, out := verifyExit(t, dir)
		if code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, "could not be opened") {
			t.Errorf("a store that does not open: exit %d, want 1 naming what could not be read:\n%s", code, out)
		}
	})

	t.Run("a hub started on a tampered log says so", func(t *testing.T) {
		dir := copyDir(t, base)
		withPebble(t, dir, func(db *pebble.DB) { flipRecord(t, db, lastNum(t, db, 'J'), true) })
		var logs testlog.Buffer
		h := startLoggedHub(t, dir, &logs)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), "TAMPER EVIDENCE") {
			if time.Now().After(deadline) {
				t.Fatalf("no tamper evidence in the hub's log:\n%s", logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.close()
	})

	t.Run("a directory in use by a running hub is refused clearly", func(t *testing.T) {
		dir := copyDir(t, base)
		h := startTestHub(t, dir)
		defer h.close()
		code, out := verifyExit(t, dir)
		if code != 2 || !strings.Contains(out, "in use by a running hub") {
			t.Errorf("exit %d: %s", code, out)
		}
	})
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
