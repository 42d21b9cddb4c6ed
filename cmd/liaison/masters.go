package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/keystore/hsm"
)

// Key custody (docs/operations.md, "Key custody").
//
// The key directory (--keys, by default the data directory) holds every
// secret the hub keeps and nothing a data backup needs: the case keys and
// the register of erasures (casekeys/), the development master key
// (master.key, when no other is given), the checkpoint signing key and its
// verifier keys, the key that seals the API's opaque tokens and the
// development token key. The master key that wraps the case keys comes from,
// in this order: a PKCS#11 token (--pkcs11-module, the hub never holds it),
// $LIAISON_MASTER_KEY, --master-key-file, or master.key in the key
// directory (development only).

// masterFlags are the flags naming the master key, shared by serve and keys.
type masterFlags struct {
	MasterKeyFile string
	PKCS11Module  string
	PKCS11Token   string
	PKCS11PINFile string
	PKCS11Label   string
}

func (f *masterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.MasterKeyFile, "master-key-file", "", "file holding the master key that wraps case keys, base64, one key a line after rotations, the current one last (or set LIAISON_MASTER_KEY; default: a development key in the key directory)")
	fs.StringVar(&f.PKCS11Module, "pkcs11-module", "", "PKCS#11 module of the token (HSM) holding the master key, e.g. /usr/lib/softhsm/libsofthsm2.so; the PIN comes from LIAISON_PKCS11_PIN or --pkcs11-pin-file")
	fs.StringVar(&f.PKCS11Token, "pkcs11-token", "", "label of the PKCS#11 token holding the master key")
	fs.StringVar(&f.PKCS11PINFile, "pkcs11-pin-file", "", "file holding the token's user PIN (or set LIAISON_PKCS11_PIN)")
	fs.StringVar(&f.PKCS11Label, "pkcs11-key-label", hsm.DefaultLabel, "label prefix of the master keys in the token (<label>-1, <label>-2, … after rotations)")
}

// masterSource is where the master keys came from, and how a rotation makes
// a new one.
type masterSource struct {
	// kind is "pkcs11", "env", "file" or "dev".
	kind  string
	path  string // the key file (file, dev)
	token *hsm.Token
	keys  [][]byte // the software keys of the file or the environment
}

func (s *masterSource) describe() string {
	switch s.kind {
	case "pkcs11":
		return "PKCS#11 token"
	case "env":
		return "$LIAISON_MASTER_KEY"
	}
	return s.path
}

// close ends the token's sessions.
func (s *masterSource) close() error {
	if s.token != nil {
		return s.token.Close()
	}
	return nil
}

// openMasters returns the master keys of the key directory keysDir as
// configured by f. With a token, its masters are the current and older ones;
// a software key configured beside it (or a development master.key left in
// the key directory) is kept as an older master, so that keys it wrapped
// open until a rotation moves them under the token's key. A token with no
// master key gets its first only when the key directory holds no key yet
// (fresh says so), so that a wrong label does not silently start a new key.
func openMasters(f masterFlags, keysDir string, fresh bool) (*keystore.Masters, *masterSource, error) {
	dev := filepath.Join(keysDir, "master.key")
	if f.PKCS11Module == "" {
		keys, source, err := keystore.LoadMasterKeys("LIAISON_MASTER_KEY", f.MasterKeyFile, dev, true)
		if err != nil {
			return nil, nil, err
		}
		src := &masterSource{kind: "dev", path: source, keys: keys}
		switch {
		case strings.HasPrefix(source, "$"):
			src.kind, src.path = "env", ""
		case f.MasterKeyFile != "":
			src.kind = "file"
		}
		ms, err := softwareMasters(keys)
		if err != nil {
			return nil, nil, err
		}
		var older []keystore.Master
		for _, w := range ms[:len(ms)-1] {
			older = append(older, w)
		}
		return keystore.NewMasters(ms[len(ms)-1], older...), src, nil
	}
	pin := os.Getenv("LIAISON_PKCS11_PIN")
	if f.PKCS11PINFile != "" {
		b, err := os.ReadFile(f.PKCS11PINFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--pkcs11-pin-file: %w", err)
		}
		pin = strings.TrimSpace(string(b))
	}
	if f.PKCS11Token == "" {
		return nil, nil, errors.New("--pkcs11-module needs --pkcs11-token")
	}
	tok, err := hsm.Open(hsm.Config{Module: f.PKCS11Module, Token: f.PKCS11Token, PIN: pin, Label: f.PKCS11Label})
	if err != nil {
		return nil, nil, err
	}
	cur, err := tok.Current(fresh)
	if err != nil {
		tok.Close()
		return nil, nil, fmt.Errorf("%w (a hub whose key directory holds keys never makes a new master key on its own: check --pkcs11-token and --pkcs11-key-label)", err)
	}
	all, err := tok.Masters()
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	var older []keystore.Master
	for _, m := range all {
		older = append(older, m)
	}
	// Software keys beside the token: those of a hub that is moving its
	// master key into the token.
	keys, _, err := keystore.LoadMasterKeys("LIAISON_MASTER_KEY", f.MasterKeyFile, dev, false)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	sw, err := softwareMasters(keys)
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	for _, w := range sw {
		older = append(older, w)
	}
	return keystore.NewMasters(cur, older...), &masterSource{kind: "pkcs11", token: tok, keys: keys}, nil
}

func softwareMasters(keys [][]byte) ([]*keystore.Wrapper, error) {
	var out []*keystore.Wrapper
	for _, k := range keys {
		w, err := keystore.NewWrapper(k)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// rotateReport is what a master key rotation did.
type rotateReport struct {
	Master    string   `json:"master"`
	Source    string   `json:"source"`
	Keys      int      `json:"keys"`
	Rewrapped int      `json:"rewrapped"`
	Destroyed int      `json:"destroyed"`
	Older     []string `json:"older"`
	Retired   []string `json:"retired"`
	Advice    string   `json:"advice,omitempty"`
}

// rotateMaster makes a new current master key where the current one lives
// (a new generation in the token; a new key appended to the key file), wraps
// every case key of store with it (keystore.FileStore.Rewrap: crash-safe,
// and the store serves meanwhile), and, with retire, then drops the older
// masters: from the token (deleted) or the key file (rewritten with the
// current key alone). A master from $LIAISON_MASTER_KEY cannot be written: the
// operator puts the new key last in the variable and restarts, and the
// rotation rewraps under it. cases are the log's case ids (for key files of
// format 1).
func rotateMaster(ctx context.Context, src *masterSource, store *keystore.FileStore, cases []string, retire bool) (rotateReport, error) {
	rep := rotateReport{Source: src.describe()}
	masters := store.Masters()
	switch src.kind {
	case "pkcs11":
		m, err := src.token.Generate()
		if err != nil {
			return rep, err
		}
		masters.SetCurrent(m)
	case "file", "dev":
		key := make([]byte, keystore.KeySize)
		rand.Read(key)
		w, err := keystore.NewWrapper(key)
		if err != nil {
			return rep, err
		}
		keys := append(append([][]byte(nil), src.keys...), key)
		// The new key is durable in the file before it wraps anything.
		if err := keystore.WriteMasterKeyFile(src.path, keys); err != nil {
			return rep, fmt.Errorf("writing the new master key to %s: %w", src.path, err)
		}
		src.keys = keys
		masters.SetCurrent(w)
	case "env":
		rep.Advice = "the master key comes from $LIAISON_MASTER_KEY, which liaison cannot write: to rotate, append a new key to it (comma-separated, the new one last), restart the hub, and run this again; it wrapped every key with the last key of the variable"
	}
	r, err := store.Rewrap(ctx, cases)
	rep.Master, rep.Keys, rep.Rewrapped, rep.Destroyed, rep.Older = r.Master, r.Keys, r.Rewrapped, r.Destroyed, r.Older
	if err != nil {
		return rep, fmt.Errorf("rewrapping the case keys (every key still opens; run the rotation again to finish it): %w", err)
	}
	if !retire || len(r.Older) == 0 {
		if len(r.Older) > 0 {
			rep.Advice = strings.TrimSpace(rep.Advice + " No key file uses the older master keys any more; keep them while key-directory backups wrapped by them may be restored, then drop them with --retire.")
		}
		return rep, nil
	}
	cur := masters.Current()
	switch src.kind {
	case "pkcs11":
		all, err := src.token.Masters()
		if err != nil {
			return rep, err
		}
		for _, m := range all {
			if m.ID() != cur.ID() {
				if err := src.token.Destroy(m); err != nil {
					return rep, err
				}
				rep.Retired = append(rep.Retired, m.ID())
			}
		}
		if len(src.keys) > 0 {
			rep.Advice = "software master keys are still configured beside the token (--master-key-file, $LIAISON_MASTER_KEY or master.key in the key directory): no key file uses them; remove them"
		}
	case "file", "dev":
		if err := keystore.WriteMasterKeyFile(src.path, src.keys[len(src.keys)-1:]); err != nil {
			return rep, err
		}
		src.keys = src.keys[len(src.keys)-1:]
		rep.Retired = append(rep.Retired, r.Older...)
	case "env":
		rep.Advice = "remove the older keys from $LIAISON_MASTER_KEY (keep the last) and restart the hub"
		return rep, nil
	}
	masters.Retain(func(m keystore.Master) bool { return false })
	rep.Older = nil
	return rep, nil
}

// keysDir is the key directory: --keys, or the data directory.
func (c Config) keysDir() string {
	if c.KeysDir != "" {
		return c.KeysDir
	}
	return c.DataDir
}

func (c Config) masterFlags() masterFlags {
	return masterFlags{MasterKeyFile: c.MasterKeyFile, PKCS11Module: c.PKCS11Module, PKCS11Token: c.PKCS11Token, PKCS11PINFile: c.PKCS11PINFile, PKCS11Label: c.PKCS11Label}
}

func (c *Config) setMasterFlags(f masterFlags) {
	c.MasterKeyFile, c.PKCS11Module, c.PKCS11Token, c.PKCS11PINFile, c.PKCS11Label = f.MasterKeyFile, f.PKCS11Module, f.PKCS11Token, f.PKCS11PINFile, f.PKCS11Label
}

// openKeys opens the case keys of the embedded store: the key directory's
// casekeys with the configured master keys. It refuses a log that holds
// events with a key directory that never held a key (a restored data backup
// started without its key directory would read none of its cases).
func (m *Main) openKeys(ctx context.Context) (keystore.Store, error) {
	keysDir := m.Config.keysDir()
	dir := filepath.Join(keysDir, "casekeys")
	fresh := !keystore.DirHoldsKeys(dir)
	if head, err := m.Log.Head(ctx); err != nil {
		return nil, err
	} else if head.Commit > 0 && fresh {
		return nil, fmt.Errorf("%w (%s): start the hub with --keys naming its key directory; a data backup holds no key (docs/operations.md, \"Backup and restore\")", errNoKeys, dir)
	}
	masters, src, err := openMasters(m.Config.masterFlags(), keysDir, fresh)
	if err != nil {
		return nil, err
	}
	fk, err := keystore.OpenFileStoreWith(dir, masters)
	if err != nil {
		src.close()
		return nil, err
	}
	m.fileKeys, m.masters = fk, src
	older := 0
	if n := len(masters.All()); n > 1 {
		older = n - 1
	}
	m.Logger.Info("case keys", "dir", dir, "master", masters.Current().ID(), "from", src.describe(), "older_masters", older, "erasures_registered", len(fk.Erasures()))
	return fk, nil
}
