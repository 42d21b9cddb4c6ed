package transparency

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog"
)

// Checkpoint signing key files in the key directory (by default the data
// directory), and the key's name.
const (
	// KeyFile holds the note signer key (secret, mode 0600).
	KeyFile = "checkpoint.key"
	// PubFile holds the note verifier keys, one a line, for auditors: every
	// key that ever signed this hub's checkpoints, the current one last
	// (docs/operations.md, "Rotating the checkpoint key").
	PubFile = "checkpoint.pub"
	// KeyName is the name of a generated key, shown in every signature line.
	KeyName = "liaison-hub"
)

// Key signs the checkpoints of a hub.
type Key struct {
	signer note.Signer
	// VerifierKey is the public note verifier key ("name+hash+keydata") that
	// checks the signatures this key makes.
	VerifierKey string
	// Verifiers are every verifier key of the hub's checkpoints (PubFile),
	// VerifierKey included: those of the keys it signed with before a
	// rotation, so that its older checkpoints keep verifying.
	Verifiers []string
}

// LoadOrCreateKey reads the checkpoint key from dir (KeyFile), generating an
// Ed25519 key into KeyFile and its verifier into PubFile on first use. A
// missing PubFile is written again from KeyFile. It returns an error when a
// file cannot be read or written, when KeyFile does not hold a note signer key,
// or when PubFile does not list KeyFile's verifier key.
func LoadOrCreateKey(dir string) (*Key, error) {
	keyPath, pubPath := filepath.Join(dir, KeyFile), filepath.Join(dir, PubFile)
	b, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		skey, _, gerr := note.GenerateKey(rand.Reader, KeyName)
		if gerr != nil {
			return nil, fmt.Errorf("checkpoint key: %w", gerr)
		}
		if err := eventlog.WriteFileSynced(keyPath, []byte(skey+"\n"), 0o600, false); err != nil {
			return nil, fmt.Errorf("checkpoint key: %w", err)
		}
		b, err = []byte(skey), nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	k, err := parseSignerKey(string(b), keyPath)
	if err != nil {
		return nil, err
	}
	switch vkeys, err := ReadVerifierKeys(dir); {
	case errors.Is(err, os.ErrNotExist):
		if err := eventlog.WriteFileSynced(pubPath, []byte(k.VerifierKey+"\n"), 0o644, false); err != nil {
			return nil, fmt.Errorf("checkpoint key: %w", err)
		}
		k.Verifiers = []string{k.VerifierKey}
	case err != nil:
		return nil, fmt.Errorf("checkpoint key: %w", err)
	case !slices.Contains(vkeys, k.VerifierKey):
		return nil, fmt.Errorf("checkpoint key: %s does not match %s", pubPath, keyPath)
	default:
		k.Verifiers = vkeys
	}
	return k, nil
}

func parseSignerKey(text, path string) (*Key, error) {
	skey := strings.TrimSpace(text)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key %s: %w", path, err)
	}
	return &Key{signer: signer, VerifierKey: vkey}, nil
}

// RotateKey starts a new checkpoint signing key in dir: it generates one,
// adds its verifier key to PubFile (the old ones stay, so that the
// checkpoints they signed keep verifying) and then replaces KeyFile with it,
// each file written to a temporary file, synced and renamed. A crash between
// the two leaves the old key signing and an unused verifier listed; rotating
// again is harmless. It returns the new key; a running hub takes it with
// Trees.SetKey.
func RotateKey(dir string) (*Key, error) {
	old, err := LoadOrCreateKey(dir)
	if err != nil {
		return nil, err
	}
	skey, _, err := note.GenerateKey(rand.Reader, KeyName)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	k, err := parseSignerKey(skey, "(new)")
	if err != nil {
		return nil, err
	}
	k.Verifiers = append(slices.Clone(old.Verifiers), k.VerifierKey)
	if err := eventlog.WriteFileSynced(filepath.Join(dir, PubFile), []byte(strings.Join(k.Verifiers, "\n")+"\n"), 0o644, false); err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	if err := eventlog.WriteFileSynced(filepath.Join(dir, KeyFile), []byte(skey+"\n"), 0o600, false); err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	return k, nil
}

// ReadVerifierKey returns the current note verifier key in dir's PubFile (its
// last line). It returns an error wrapping os.ErrNotExist when there is none.
func ReadVerifierKey(dir string) (string, error) {
	keys, err := ReadVerifierKeys(dir)
	if err != nil {
		return "", err
	}
	return keys[len(keys)-1], nil
}

// ReadVerifierKeys returns every note verifier key in dir's PubFile, the
// current one last. It returns an error wrapping os.ErrNotExist when there is
// none.
func ReadVerifierKeys(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, PubFile))
	if err != nil {
		return nil, err
	}
	keys := ParseVerifierKeys(string(b))
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s lists no verifier key: %w", filepath.Join(dir, PubFile), os.ErrNotExist)
	}
	return keys, nil
}

// ParseVerifierKeys returns the verifier keys of a PubFile's text: one a line,
// blank lines and lines starting with # skipped.
func ParseVerifierKeys(text string) []string {
	var keys []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	return keys
}

// verifierKeyOf derives the verifier key of a note signer key
// ("PRIVATE+KEY+name+hash+base64(alg || Ed25519 seed)").
func verifierKeyOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// Checkpoint is a signed statement of a tree's size and root hash, in the
// C2SP tlog-checkpoint format: the note body is the origin line, the size in
// decimal and the base64 root hash, each ending in a newline.
type Checkpoint struct {
	// Seq numbers the tree's checkpoints in the order they were written,
	// from 1.
	Seq    uint64
	Origin string
	Size   uint64
	Root   []byte
	// Note is the signed note (body, blank line, signature lines).
	Note []byte
}

// checkpointBody returns the note text of a checkpoint.
func checkpointBody(origin string, size uint64, root []byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// sign returns the checkpoint of a tree of size size and root root, signed
// with k.
func (k *Key) sign(seq uint64, origin string, size uint64, root []byte) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: checkpointBody(origin, size, root)}, k.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	return Checkpoint{Seq: seq, Origin: origin, Size: size, Root: root, Note: msg}, nil
}

// OpenCheckpoint checks the signature of a signed checkpoint note with the
// verifier key vkey and parses its body. It returns an error when vkey is not a
// verifier key, when the note is not signed by it (a bad or missing
// signature), or when the body is not a checkpoint (origin, decimal size,
// base64 SHA-256 root hash, then optional extension lines).
func OpenCheckpoint(msg []byte, vkey string) (Checkpoint, error) {
	cp, _, err := OpenCheckpointAny(msg, []string{vkey})
	return cp, err
}

// OpenCheckpointAny is OpenCheckpoint with several verifier keys (a hub's
// keys across rotations): the note must be signed by one of them, which it
// returns.
func OpenCheckpointAny(msg []byte, vkeys []string) (Checkpoint, string, error) {
	vs := make([]note.Verifier, 0, len(vkeys))
	byName := map[string]string{}
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return Checkpoint{}, "", fmt.Errorf("verifier key: %w", err)
		}
		vs = append(vs, v)
		byName[v.Name()+"+"+strconv.FormatUint(uint64(v.KeyHash()), 16)] = k
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		return Checkpoint{}, "", fmt.Errorf("signature: %w", err)
	}
	sig := n.Sigs[0]
	cp, err := parseCheckpoint(n.Text)
	cp.Note = bytes.Clone(msg)
	return cp, byName[sig.Name+"+"+strconv.FormatUint(uint64(sig.Hash), 16)], err
}

// parseCheckpoint parses a checkpoint body.
func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("body is not a checkpoint")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, errors.New("checkpoint size is not a decimal number")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != hashSize {
		return Checkpoint{}, errors.New("checkpoint root is not a base64 SHA-256 hash")
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// unverifiedSize returns the size a checkpoint note claims, without checking
// its signature, and false when its body does not parse.
func unverifiedSize(msg []byte) (uint64, bool) {
	text, _, ok := strings.Cut(string(msg), "\n\n")
	if !ok {
		return 0, false
	}
	cp, err := parseCheckpoint(text + "\n")
	return cp.Size, err == nil
}

// storedCheckpoints yields the checkpoints of tree stored in kv, in order, as
// stored: their notes are not opened (see OpenCheckpoint). A malformed key
// yields an error.
func storedCheckpoints(ctx context.Context, kv eventlog.KV, tree byte) iter.Seq2[Checkpoint, error] {
	return func(yield func(Checkpoint, error) bool) {
		prefix := treeKey(tree, kindCheckpoint)
		for p, err := range kv.Scan(ctx, prefix, nil) {
			if err != nil {
				yield(Checkpoint{}, err)
				return
			}
			if len(p.Key) != len(prefix)+8 {
				yield(Checkpoint{}, fmt.Errorf("transparency: malformed checkpoint key %x", p.Key))
				return
			}
			cp := Checkpoint{Seq: binary.BigEndian.Uint64(p.Key[len(prefix):]), Note: p.Value}
			if !yield(cp, nil) {
				return
			}
		}
	}
}
