// Package keystore holds the per-case data keys that encrypt case content at
// rest, wrapped by a master key. Destroying a case's key makes every byte of its
// content unreadable for good (crypto-shredding), while the log that holds the
// ciphertext stays intact and verifiable.
//
// The default store keeps one small file per case under the data directory. A
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
	"strings"
	"sync"
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

// Wrapper wraps and unwraps data keys with the master key (AES-256-GCM, the
// case id as additional data, so a wrapped key cannot be moved to another case).
// Every Store implementation shares it.
type Wrapper struct {
	master cipher.AEAD
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
	return &Wrapper{master: aead}, nil
}

// NewKey returns a fresh random data key and its wrapped form for caseID.
func (w *Wrapper) NewKey(caseID string) (key, wrapped []byte) {
	key = make([]byte, KeySize)
	nonce := make([]byte, w.master.NonceSize())
	rand.Read(key)
	rand.Read(nonce)
	return key, w.master.Seal(nonce, nonce, key, []byte(caseID))
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

// FileStore keeps each case's data key, wrapped (AES-256-GCM) by the master key,
// in its own file under a directory. Destroy overwrites the file with a tombstone,
// syncs it, and so leaves no trace of the key on the file system.
type FileStore struct {
	dir   string
	wrap  *Wrapper
	mu    sync.Mutex // serialises creation and destruction
	cache sync.Map   // case id → []byte key, or errDestroyedMark
}

var errDestroyedMark = new(int)

const tombstone = "destroyed\n"

// OpenFileStore opens (creating if needed) a key directory with a 32-byte master
// key. It returns an error if the directory cannot be created or the master key
// has the wrong size.
func OpenFileStore(dir string, masterKey []byte) (*FileStore, error) {
	w, err := NewWrapper(masterKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return &FileStore{dir: dir, wrap: w}, nil
}

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
	b, err := os.ReadFile(s.path(caseID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if string(b) == tombstone {
		return nil, ErrDestroyed
	}
	wrapped, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("keystore: key file of case %q is damaged", caseID)
	}
	return s.wrap.Unwrap(caseID, wrapped)
}

func (s *FileStore) create(caseID string) ([]byte, error) {
	key, wrapped := s.wrap.NewKey(caseID)
	if err := writeSynced(s.path(caseID), []byte(base64.StdEncoding.EncodeToString(wrapped)+"\n")); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return key, nil
}

// Destroy erases the case's key (see Store). The key file is overwritten in place
// with a tombstone of the same length or longer and synced, so the wrapped key
// does not survive in the file's blocks.
func (s *FileStore) Destroy(ctx context.Context, caseID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(caseID)
	if old, err := os.ReadFile(p); err == nil && string(old) != tombstone {
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
	if err := writeSynced(p, []byte(tombstone)); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	s.cache.Store(caseID, errDestroyedMark)
	return nil
}

// writeSynced writes b to path through a temporary file, syncs it, renames it
// into place and syncs the directory: after it returns, the file survives a crash.
func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadMasterKey returns the master key: from the environment variable env when
// it is set (base64 of 32 bytes), else from file (base64 or 32 raw bytes). When
// neither is given and devFile is not empty, it reads devFile, creating it with a
// fresh random key on first use (development only: a key beside the data it
// protects does not protect it from someone holding the disk). It returns an
// error naming the source when a key is malformed.
func LoadMasterKey(env, file, devFile string) ([]byte, error) {
	if v := os.Getenv(env); env != "" && v != "" {
		return decodeKey(v, "$"+env)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if len(b) == KeySize {
			return b, nil
		}
		return decodeKey(string(b), file)
	}
	if devFile == "" {
		return nil, errors.New("master key: none given")
	}
	b, err := os.ReadFile(devFile)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		rand.Read(key)
		if err := os.MkdirAll(filepath.Dir(devFile), 0o700); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if err := writeSynced(devFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return decodeKey(string(b), devFile)
}

func decodeKey(s, source string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("master key from %s must be base64 of %d bytes", source, KeySize)
	}
	return key, nil
}
