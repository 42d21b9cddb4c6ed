package keystore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/liaison-hub/liaison/eventlog"
)

// Master is a master key: it wraps and unwraps case keys, binding each to its
// case id. A software master (Wrapper) holds its key in memory; a master in a
// PKCS#11 token (eventlog/keystore/hsm) never lets its key out of the token,
// which does the wrapping (docs/operations.md, "Key custody").
type Master interface {
	// ID names the master key in the key files it wrapped, so that each file
	// is unwrapped by its own master after a rotation ("sw:…" for software
	// keys, "p11:<label>" for keys in a token). It never reveals the key.
	ID() string
	// Wrap returns key wrapped for caseID.
	Wrap(caseID string, key []byte) ([]byte, error)
	// Unwrap returns the key of caseID from its wrapped form; it returns an
	// error when the bytes are damaged or were wrapped by another master or
	// for another case.
	Unwrap(caseID string, wrapped []byte) ([]byte, error)
}

// Masters is the set of master keys a key store unwraps with: the current
// one, which wraps every new key, and older ones kept so that keys wrapped
// before a rotation still open until they are wrapped again
// (FileStore.Rewrap). It is safe for concurrent use; SetCurrent switches the
// current master of a running store.
type Masters struct {
	state atomic.Pointer[masterSet]
}

type masterSet struct {
	current Master
	all     []Master // current included, in the order given
}

// NewMasters returns the set of masters with current as the current one and
// older ones beside it. Masters with the same ID count once.
func NewMasters(current Master, older ...Master) *Masters {
	m := &Masters{}
	m.state.Store(newSet(current, older))
	return m
}

func newSet(current Master, older []Master) *masterSet {
	set := &masterSet{current: current, all: []Master{current}}
	for _, o := range older {
		if o != nil && !slices.ContainsFunc(set.all, func(x Master) bool { return x.ID() == o.ID() }) {
			set.all = append(set.all, o)
		}
	}
	return set
}

// Current returns the master that wraps new keys.
func (m *Masters) Current() Master { return m.state.Load().current }

// All returns every master, the current one first.
func (m *Masters) All() []Master { return slices.Clone(m.state.Load().all) }

// Get returns the master of id, false when the set holds none.
func (m *Masters) Get(id string) (Master, bool) {
	for _, x := range m.state.Load().all {
		if x.ID() == id {
			return x, true
		}
	}
	return nil, false
}

// SetCurrent makes master the current one, keeping every other master of the
// set (the former current one included) for unwrapping.
func (m *Masters) SetCurrent(master Master) {
	old := m.state.Load()
	m.state.Store(newSet(master, old.all))
}

// Retain drops every master but those keep says to keep; the current one is
// always kept.
func (m *Masters) Retain(keep func(Master) bool) {
	old := m.state.Load()
	var older []Master
	for _, x := range old.all[1:] {
		if keep(x) {
			older = append(older, x)
		}
	}
	m.state.Store(newSet(old.current, older))
}

// software returns the software masters, which unwrap the key files of
// format 1 (written before key files named their master).
func (m *Masters) software() []*Wrapper {
	var out []*Wrapper
	for _, x := range m.state.Load().all {
		if w, ok := x.(*Wrapper); ok {
			out = append(out, w)
		}
	}
	return out
}

// ID names a software master key by a hash of it: "sw:" and 16 hex digits.
// The hash is domain-separated, so it is no check value of the key.
func (w *Wrapper) ID() string { return w.id }

// Wrap wraps key for caseID under the master key (AES-256-GCM, a random
// nonce, the case id as additional data).
func (w *Wrapper) Wrap(caseID string, key []byte) ([]byte, error) {
	return w.seal(caseID, key), nil
}

func softwareID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("liaison master key id\x00"))
	h.Write(key)
	return "sw:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// LoadMasterKeys returns the software master keys configured: from the
// environment variable env when it is set (base64 of 32 bytes, several
// separated by commas), else from file (one base64 key per line, or 32 raw
// bytes), else from devFile as LoadMasterKey does (creating it on first use
// when create is set). The last key is the current one; the others are older
// keys kept after a rotation. It returns the keys and where they came from
// ("$ENV", the file), or an error naming the source of a malformed key, and
// nil keys without error when none is configured and devFile is "" or absent
// and create is not set.
func LoadMasterKeys(env, file, devFile string, create bool) (keys [][]byte, source string, err error) {
	if v := os.Getenv(env); env != "" && v != "" {
		for _, part := range strings.Split(v, ",") {
			k, err := decodeKey(part, "$"+env)
			if err != nil {
				return nil, "", err
			}
			keys = append(keys, k)
		}
		return keys, "$" + env, nil
	}
	if file != "" {
		keys, err := readKeyFile(file)
		return keys, file, err
	}
	if devFile == "" {
		return nil, "", nil
	}
	if _, err := os.Stat(devFile); errors.Is(err, fs.ErrNotExist) && !create {
		return nil, "", nil
	}
	if _, err := LoadMasterKey("", "", devFile); err != nil { // creates it on first use
		return nil, "", err
	}
	keys, err = readKeyFile(devFile)
	return keys, devFile, err
}

// readKeyFile reads a master key file: 32 raw bytes, or base64 keys one per
// line (blank lines and lines starting with # ignored).
func readKeyFile(file string) ([][]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if len(b) == KeySize {
		return [][]byte{b}, nil
	}
	var keys [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decodeKey(line, file)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("master key file %s holds no key", file)
	}
	return keys, nil
}

// WriteMasterKeyFile replaces file, durably (a temporary file synced and
// renamed, the directory synced), with keys, one base64 key per line, the
// current one last.
func WriteMasterKeyFile(file string, keys [][]byte) error {
	var sb strings.Builder
	sb.WriteString("# liaison master keys, base64, one a line; the last is the current one\n")
	for _, k := range keys {
		if len(k) != KeySize {
			return fmt.Errorf("master key must be %d bytes", KeySize)
		}
		sb.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	}
	return eventlog.WriteFileSynced(file, []byte(sb.String()), 0o600, true)
}
