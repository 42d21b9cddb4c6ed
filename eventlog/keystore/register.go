package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// The register of erasures.
//
// Erasure destroys a case key, and the key directory keeps, beside the keys,
// the register of the cases whose keys it destroyed: RegisterFile, one JSON
// object a line, appended and synced before the key file is overwritten.
// The register lives with the keys, not with the log, so that the two are
// backed up apart and correct each other at start (docs/operations.md,
// "Backup and restore"): a log restored from a backup taken before an
// erasure gets its erasure again from the register (the hub appends the
// noted CaseErased event anew), and a key directory restored from a copy
// taken before an erasure loses the key again as the log's CaseErased event
// is applied.

// RegisterFile is the register of erasures in the key directory.
const RegisterFile = "ERASED"

// Erasure is an entry of the register of erasures.
type Erasure struct {
	CaseID      string    `json:"case_id"`
	DestroyedAt time.Time `json:"destroyed_at"`
	// Note is what the hub kept of the erasure (its CaseErased event), nil
	// when it gave none.
	Note []byte `json:"note,omitempty"`
}

// Erasures returns the register of erasures, in the order the keys were
// destroyed.
func (s *FileStore) Erasures() []Erasure {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	out := make([]Erasure, 0, len(s.register))
	for _, e := range s.register {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Erasure) int { return a.DestroyedAt.Compare(b.DestroyedAt) })
	return out
}

// registered reports whether the register holds caseID (with a note, when
// withNote).
func (s *FileStore) registered(caseID string, withNote bool) bool {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	e, ok := s.register[caseID]
	return ok && (!withNote || e.Note != nil)
}

// enter appends the erasure of caseID to the register, durably, unless it
// holds it already (with a note, when note is given).
func (s *FileStore) enter(caseID string, note []byte) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if e, ok := s.register[caseID]; ok && (note == nil || e.Note != nil) {
		return nil
	}
	e := Erasure{CaseID: caseID, DestroyedAt: time.Now().UTC(), Note: note}
	if old, ok := s.register[caseID]; ok {
		e.DestroyedAt = old.DestroyedAt
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("keystore: register: %w", err)
	}
	name := filepath.Join(s.dir, RegisterFile)
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("keystore: register: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("keystore: register: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := eventlog.SyncDir(s.dir); err != nil {
			return fmt.Errorf("keystore: register: %w", err)
		}
	}
	s.register[caseID] = e
	return nil
}

// loadRegister reads the register. A last line cut short by a crash during
// its append is dropped (the erasure it began had not destroyed the key yet);
// any other line that does not parse is an error.
func (s *FileStore) loadRegister() error {
	s.register = map[string]Erasure{}
	name := filepath.Join(s.dir, RegisterFile)
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keystore: register: %w", err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i != len(b)-1 {
		// A torn append: cut it off, so that the next entry starts a line.
		if err := os.Truncate(name, int64(i+1)); err != nil {
			return fmt.Errorf("keystore: register: %w", err)
		}
		b = b[:i+1]
	}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var e Erasure
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.CaseID == "" {
			return fmt.Errorf("keystore: the register of erasures %s is damaged at line %d", name, n+1)
		}
		if old, ok := s.register[e.CaseID]; ok {
			e.DestroyedAt = old.DestroyedAt
			if e.Note == nil {
				e.Note = old.Note
			}
		}
		s.register[e.CaseID] = e
	}
	return nil
}

// Noted reports whether the register holds the erasure of caseID with a
// note.
func (s *FileStore) Noted(caseID string) bool { return s.registered(caseID, true) }
