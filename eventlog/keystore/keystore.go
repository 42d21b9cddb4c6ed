// Package keystore holds the per-case data keys that encrypt case content at
// rest, wrapped by a master key. Destroying a case's key makes every byte of its
// content unreadable for good (crypto-shredding), while the log that holds the
// ciphertext stays intact and verifiable.
//
// The default store (FileStore) keeps one small file per case in the hub's key
// directory, with the register of erasures; the master key that wraps them is
// in memory (Wrapper) or in a PKCS#11 token (eventlog/keystore/hsm). A
// deployment can put a KMS behind the Store interface instead.
package keystore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/liaison-hub/liaison/eventlog"
)

// KeySize is the size of data keys and of the master key: AES-256.
const KeySize = 32

// ErrDestroyed is returned for a case whose key was destroyed (the case was
// erased).
var ErrDestroyed = errors.New("keystore: the case key was destroyed")

// ErrNoKey is returned for a case that has no key (and was not asked to get one).
var ErrNoKey = errors.New("keystore: no key for this case")

// Store holds one data key per case.
type Store interface {
	// Key returns the case's data key. With create, a case without a key gets a
	// fresh one, durably stored before Key returns. It returns ErrDestroyed for an
	// erased case and ErrNoKey when there is no key and create is false.
	Key(ctx context.Context, caseID string, create bool) ([]byte, error)
	// Destroy erases the case's key for good; later calls to Key return
	// ErrDestroyed. Destroying twice is not an error.
	Destroy(ctx context.Context, caseID string) error
}

// Wrapper is a software master key: it wraps and unwraps data keys with the
// master key (AES-256-GCM, the case id as additional data, so a wrapped key
// cannot be moved to another case), holding that key in memory. It is a
// Master; the EventStoreDB key store uses it too.
type Wrapper struct {
	master cipher.AEAD
	id     string
}

// NewWrapper returns a wrapper for a 32-byte master key; it returns an error for
// a key of another size.
func NewWrapper(masterKey []byte) (*Wrapper, error) {
	if len(masterKey) != KeySize {
		return nil, fmt.Errorf("keystore: master key must be %d bytes, got %d", KeySize, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &Wrapper{master: aead, id: softwareID(masterKey)}, nil
}

// NewKey returns a fresh random data key and its wrapped form for caseID.
func (w *Wrapper) NewKey(caseID string) (key, wrapped []byte) {
	key = make([]byte, KeySize)
	rand.Read(key)
	return key, w.seal(caseID, key)
}

func (w *Wrapper) seal(caseID string, key []byte) []byte {
	nonce := make([]byte, w.master.NonceSize())
	rand.Read(nonce)
	return w.master.Seal(nonce, nonce, key, []byte(caseID))
}

// Unwrap returns the data key of caseID from its wrapped form; it returns an
// error when the bytes are damaged or were wrapped by another master key or
// for another case.
func (w *Wrapper) Unwrap(caseID string, wrapped []byte) ([]byte, error) {
	ns := w.master.NonceSize()
	if len(wrapped) < ns {
		return nil, fmt.Errorf("keystore: key of case %q is damaged", caseID)
	}
	key, err := w.master.Open(nil, wrapped[:ns], wrapped[ns:], []byte(caseID))
	if err != nil {
		return nil, fmt.Errorf("keystore: key of case %q does not unwrap (wrong master key?)", caseID)
	}
	return key, nil
}

// FileStore keeps each case's data key, wrapped by a master key, in its own
// file under a directory, with the register of erasures (register.go).
// Destroy overwrites the file with a tombstone, syncs it, and so leaves no
// trace of the key on the file system.
//
// The directory carries a format version (FormatFile); a key file of format
// 2 names the master that wrapped it and its case (the file's name is a hash
// of the case id, and the wrapping binds the key to the id):
//
//	liaison-casekey 2 <master id> <base64url of the case id> <base64 of the wrapped key>
//
// A file of format 1 (written before version 2 of the directory) is the
// base64 line alone, wrapped by a software master key; both are read. A
// tombstone is the line "destroyed".
type FileStore struct {
	dir     string
	masters *Masters
	created bool
	mu      sync.Mutex // serialises creation, destruction and rewrapping of a key
	cache   sync.Map   // case id → []byte key, or errDestroyedMark

	rmu      sync.Mutex // guards the register
	register map[string]Erasure

	// rewrapHook, when set (tests), is called before each key file Rewrap
	// replaces; an error stops Rewrap there, as a crash would.
	rewrapHook func(n int) error
}

var errDestroyedMark = new(int)

const tombstone = "destroyed\n"

// Key directory formats. FormatVersion is the one this build writes; it reads
// every format up to it and refuses a directory of a newer one.
const (
	// FormatFile is the file in the key directory that holds its format.
	FormatFile = "FORMAT"
	// FormatVersion 2: key files name their master (format 1: they did not,
	// and the directory had no FormatFile).
	FormatVersion = 2

	formatPrefix = "liaison-casekeys "
	fileV2       = "liaison-casekey 2 "
)

// ErrNewerFormat is wrapped by the error OpenFileStore returns for a key
// directory written by a newer release.
var ErrNewerFormat = errors.New("keystore: written by a newer liaison")

// OpenFileStore opens (creating if needed) a key directory with a 32-byte master
// key. It returns an error if the directory cannot be created or the master key
// has the wrong size.
func OpenFileStore(dir string, masterKey []byte) (*FileStore, error) {
	w, err := NewWrapper(masterKey)
	if err != nil {
		return nil, err
	}
	return OpenFileStoreWith(dir, NewMasters(w))
}

// OpenFileStoreWith opens (creating if needed) a key directory whose keys are
// wrapped by masters. It returns an error wrapping ErrNewerFormat for a
// directory of a format newer than FormatVersion, and an error when the
// directory, its format or its register cannot be read or created.
func OpenFileStoreWith(dir string, masters *Masters) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	s := &FileStore{dir: dir, masters: masters}
	v, err := ReadFormat(dir)
	switch {
	case err != nil:
		return nil, err
	case v > FormatVersion:
		return nil, fmt.Errorf("%w: the key directory %s has format %d, and this build reads formats up to %d: run the liaison release that wrote it (or a later one)", ErrNewerFormat, dir, v, FormatVersion)
	case v < FormatVersion:
		// Format 1 (or a new directory): every file of format 1 is read as
		// it is; new files are written in format 2.
		s.created = v == 0 && !DirHoldsKeys(dir)
		if err := eventlog.WriteFileSynced(filepath.Join(dir, FormatFile), []byte(formatPrefix+strconv.Itoa(FormatVersion)+"\n"), 0o600, true); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
	}
	if err := s.loadRegister(); err != nil {
		return nil, err
	}
	return s, nil
}

// ReadFormat returns the format of a key directory: 0 when it has no format
// file (a new directory, or one of format 1 if it holds key files), and an
// error when the file cannot be read or is not a format file.
func ReadFormat(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, FormatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("keystore: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(string(b)), formatPrefix))
	if err != nil || !strings.HasPrefix(string(b), formatPrefix) || v < 1 {
		return 0, fmt.Errorf("keystore: %s is not a key directory's format file", filepath.Join(dir, FormatFile))
	}
	return v, nil
}

// DirHoldsKeys reports whether dir is a key directory that holds (or held)
// case keys: it has a format file or a key file. A hub whose log holds events
// refuses to start on a key directory that does not: it would read none of
// its cases (a restored data backup holds no keys; see docs/operations.md).
func DirHoldsKeys(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, FormatFile)); err == nil {
		return true
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".key") {
			return true
		}
	}
	return false
}

// Created reports whether OpenFileStoreWith created the key directory (it
// held no key before).
func (s *FileStore) Created() bool { return s.created }

// Masters returns the master keys of the store.
func (s *FileStore) Masters() *Masters { return s.masters }

// path names a case's key file by a hash of the case id, so that any id is a
// safe file name.
func (s *FileStore) path(caseID string) string {
	sum := sha256.Sum256([]byte(caseID))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:16])+".key")
}

// Key returns the case's data key (see Store).
func (s *FileStore) Key(ctx context.Context, caseID string, create bool) ([]byte, error) {
	if v, ok := s.cache.Load(caseID); ok {
		if v == errDestroyedMark {
			return nil, ErrDestroyed
		}
		return v.([]byte), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, err := s.read(caseID)
	if errors.Is(err, ErrNoKey) && create {
		s.mu.Lock()
		defer s.mu.Unlock()
		if key, err = s.read(caseID); errors.Is(err, ErrNoKey) {
			key, err = s.create(caseID)
		}
	}
	switch {
	case errors.Is(err, ErrDestroyed):
		s.cache.Store(caseID, errDestroyedMark)
	case err == nil:
		s.cache.Store(caseID, key)
	}
	return key, err
}

func (s *FileStore) read(caseID string) ([]byte, error) {
	key, _, err := s.readFile(caseID, s.path(caseID))
	return key, err
}

// readFile reads and unwraps a key file; it also returns the id of the
// master that wrapped it ("" for format 1).
func (s *FileStore) readFile(caseID, path string) (key []byte, master string, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", ErrNoKey
	}
	if err != nil {
		return nil, "", fmt.Errorf("keystore: %w", err)
	}
	if string(b) == tombstone {
		return nil, "", ErrDestroyed
	}
	line := strings.TrimSpace(string(b))
	if strings.HasPrefix(line, fileV2) {
		id, fileCase, wrapped, ok := parseV2(line)
		if !ok || fileCase != caseID {
			return nil, "", fmt.Errorf("keystore: key file of case %q is damaged", caseID)
		}
		m, ok := s.masters.Get(id)
		if !ok {
			return nil, id, fmt.Errorf("keystore: the key of case %q is wrapped by master key %s, which is not configured", caseID, id)
		}
		key, err := m.Unwrap(caseID, wrapped)
		return key, id, err
	}
	if strings.HasPrefix(line, "liaison-casekey ") {
		return nil, "", fmt.Errorf("%w: the key file of case %q has a format this build does not read", ErrNewerFormat, caseID)
	}
	// Format 1: base64 alone, wrapped by a software master key.
	wrapped, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, "", fmt.Errorf("keystore: key file of case %q is damaged", caseID)
	}
	sw := s.masters.software()
	if len(sw) == 0 {
		return nil, "", fmt.Errorf("keystore: the key of case %q was wrapped by a software master key (format 1), and none is configured", caseID)
	}
	for _, w := range sw {
		if key, err = w.Unwrap(caseID, wrapped); err == nil {
			return key, "", nil
		}
	}
	return nil, "", err
}

func (s *FileStore) create(caseID string) ([]byte, error) {
	key := make([]byte, KeySize)
	rand.Read(key)
	if err := s.writeKey(caseID, s.path(caseID), key, true); err != nil {
		return nil, err
	}
	return key, nil
}

// writeKey wraps key with the current master and replaces the case's key
// file with it; syncDir also syncs the directory (see eventlog.WriteFileSynced).
func (s *FileStore) writeKey(caseID, path string, key []byte, syncDir bool) error {
	m := s.masters.Current()
	wrapped, err := m.Wrap(caseID, key)
	if err != nil {
		return fmt.Errorf("keystore: wrapping the key of case %q with %s: %w", caseID, m.ID(), err)
	}
	line := fileV2 + m.ID() + " " + base64.RawURLEncoding.EncodeToString([]byte(caseID)) + " " + base64.StdEncoding.EncodeToString(wrapped) + "\n"
	if err := eventlog.WriteFileSynced(path, []byte(line), 0o600, syncDir); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// Destroy erases the case's key (see Store); DestroyNoted with no note.
func (s *FileStore) Destroy(ctx context.Context, caseID string) error {
	return s.DestroyNoted(ctx, caseID, nil)
}

// DestroyNoted erases the case's key (see Store) and enters the erasure in the
// register of erasures kept with the keys (register.go), with note (what the
// hub keeps of the erasure: its CaseErased event) when given. The entry is
// durable before the key file is overwritten in place with zeros and then
// replaced by a tombstone, each synced, so that the wrapped key does not
// survive in the file's blocks. An erasure already registered (with a note,
// when one is given) whose key file is a tombstone costs one read.
func (s *FileStore) DestroyNoted(ctx context.Context, caseID string, note []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(caseID)
	old, rerr := os.ReadFile(p)
	if s.registered(caseID, note != nil) && (errors.Is(rerr, fs.ErrNotExist) || rerr == nil && string(old) == tombstone) {
		s.cache.Store(caseID, errDestroyedMark)
		return nil
	}
	if err := s.enter(caseID, note); err != nil {
		return err
	}
	if rerr == nil && string(old) != tombstone {
		// Overwrite the wrapped key's bytes in place before replacing the file.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			_, werr := f.Write(make([]byte, len(old)))
			serr := f.Sync()
			f.Close()
			if werr != nil || serr != nil {
				return fmt.Errorf("keystore: destroying key of case %q: %w", caseID, errors.Join(werr, serr))
			}
		}
	}
	if err := eventlog.WriteFileSynced(p, []byte(tombstone), 0o600, true); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	s.cache.Store(caseID, errDestroyedMark)
	return nil
}

// RewrapReport is what Rewrap did.
type RewrapReport struct {
	// Master is the id of the master every key is now wrapped by.
	Master string
	// Keys counts the case keys found, Rewrapped those wrapped again (the
	// others were under Master already), Destroyed the tombstones.
	Keys, Rewrapped, Destroyed int
	// Older lists the masters other than Master still configured; none of
	// the store's key files uses them any more.
	Older []string
}

// Rewrap wraps every case key that the current master did not wrap (older
// masters, format 1) again with the current master, one file at a time, so
// that the store works while it runs: new keys are wrapped by the current
// master already, and a key being rewrapped is locked against its creation
// or destruction.
//
// It is crash-safe: each file is replaced atomically (written beside it,
// synced, renamed over it; the directory synced every 256 files and at the
// end), and every master stays configured until Rewrap has returned, so that
// after a crash each file is wrapped by the old master or the new one, both
// of which open it; running Rewrap again finishes the work. It returns what
// it did, and the first error that stopped it (ctx's, a key that does not
// unwrap, a write).
//
// Files of format 1 do not name their case: cases lists the case ids of the
// log (all of them, or at least those with keys of format 1), which Rewrap
// matches with their file names; a file of format 1 that matches none stops
// it.
func (s *FileStore) Rewrap(ctx context.Context, cases []string) (RewrapReport, error) {
	cur := s.masters.Current()
	rep := RewrapReport{Master: cur.ID()}
	var byFile map[string]string // file name → case id, for format 1
	resolve := func(name string) (string, bool) {
		if byFile == nil {
			byFile = make(map[string]string, len(cases))
			for _, c := range cases {
				byFile[filepath.Base(s.path(c))] = c
			}
		}
		c, ok := byFile[name]
		return c, ok
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return rep, fmt.Errorf("keystore: %w", err)
	}
	pending := 0
	syncDir := func() error {
		if pending == 0 {
			return nil
		}
		pending = 0
		return eventlog.SyncDir(s.dir)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") || e.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, errors.Join(err, syncDir())
		}
		done, err := s.rewrapOne(filepath.Join(s.dir, e.Name()), cur, &rep, resolve)
		if err != nil {
			return rep, errors.Join(err, syncDir())
		}
		if done {
			if pending++; pending == 256 {
				if err := syncDir(); err != nil {
					return rep, fmt.Errorf("keystore: %w", err)
				}
			}
		}
	}
	if err := syncDir(); err != nil {
		return rep, fmt.Errorf("keystore: %w", err)
	}
	for _, m := range s.masters.All() {
		if m.ID() != cur.ID() {
			rep.Older = append(rep.Older, m.ID())
		}
	}
	return rep, nil
}

// rewrapOne rewraps one key file under cur, unless cur wrapped it already or
// it is a tombstone; it reports whether it replaced the file.
func (s *FileStore) rewrapOne(path string, cur Master, rep *RewrapReport, resolve func(name string) (string, bool)) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("keystore: %w", err)
	}
	if string(b) == tombstone {
		rep.Destroyed++
		return false, nil
	}
	rep.Keys++
	if strings.HasPrefix(string(b), fileV2+cur.ID()+" ") {
		return false, nil
	}
	var caseID string
	if _, c, _, ok := parseV2(strings.TrimSpace(string(b))); ok {
		caseID = c
	} else if caseID, ok = resolve(filepath.Base(path)); !ok {
		return false, fmt.Errorf("keystore: the key file %s (format 1) belongs to none of the log's cases", path)
	}
	key, _, err := s.readFile(caseID, path)
	if err != nil {
		return false, err
	}
	if s.rewrapHook != nil {
		if err := s.rewrapHook(rep.Rewrapped); err != nil {
			return false, err
		}
	}
	if err := s.writeKey(caseID, path, key, false); err != nil {
		return false, err
	}
	rep.Rewrapped++
	return true, nil
}

// parseV2 parses a key file line of format 2.
func parseV2(line string) (master, caseID string, wrapped []byte, ok bool) {
	f := strings.Fields(strings.TrimPrefix(line, fileV2))
	if !strings.HasPrefix(line, fileV2) || len(f) != 3 {
		return "", "", nil, false
	}
	c, err1 := base64.RawURLEncoding.DecodeString(f[1])
	w, err2 := base64.StdEncoding.DecodeString(f[2])
	if err1 != nil || err2 != nil {
		return "", "", nil, false
	}
	return f[0], string(c), w, true
}

// LoadMasterKey returns the current master key: from the environment variable
// env when it is set (base64 of 32 bytes), else from file (base64 or 32 raw
// bytes). When neither is given and devFile is not empty, it reads devFile,
// creating it with a fresh random key on first use (development only: a key
// beside the data it protects does not protect it from someone holding the
// disk). A source holding several keys (after a rotation, see LoadMasterKeys)
// gives its last one. It returns an error naming the source when a key is
// malformed.
func LoadMasterKey(env, file, devFile string) ([]byte, error) {
	if v := os.Getenv(env); env != "" && v != "" {
		parts := strings.Split(v, ",")
		return decodeKey(parts[len(parts)-1], "$"+env)
	}
	if file != "" {
		keys, err := readKeyFile(file)
		if err != nil {
			return nil, err
		}
		return keys[len(keys)-1], nil
	}
	if devFile == "" {
		return nil, errors.New("master key: none given")
	}
	_, err := os.Stat(devFile)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		rand.Read(key)
		if err := os.MkdirAll(filepath.Dir(devFile), 0o700); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if err := eventlog.WriteFileSynced(devFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600, true); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	keys, err := readKeyFile(devFile)
	if err != nil {
		return nil, err
	}
	return keys[len(keys)-1], nil
}

func decodeKey(s, source string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("master key from %s must be base64 of %d bytes", source, KeySize)
	}
	return key, nil
}
