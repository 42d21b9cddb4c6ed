package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

const keysUsage = `Usage:
  liaison keys [--data DIR] [--keys DIR] [master key flags]
      creates the hub's keys where missing (never overwrites one) and prints their files
  liaison keys rotate-master [--data DIR] [--keys DIR] [master key flags] [--retire]
      makes a new master key and wraps every case key with it (online when the hub runs)
  liaison keys rotate-checkpoint [--data DIR] [--keys DIR]
      starts a new checkpoint signing key; old checkpoints keep verifying (online when the hub runs)
`

// runKeys runs "liaison keys" and its rotations (docs/operations.md, "Key
// custody", "Rotation").
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "rotate-master":
			return runRotateMaster(ctx, args[1:], stdout, stderr)
		case "rotate-checkpoint":
			return runRotateCheckpoint(ctx, args[1:], stdout, stderr)
		case "help", "-h", "--help", "-help":
			fmt.Fprint(stdout, keysUsage)
			return nil
		}
	}
	return runKeysCreate(args, stdout, stderr)
}

// keysFlags are the flags of every keys command.
func keysFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./liaison-data", "data directory of the hub")
	keys := fs.String("keys", "", "key directory of the hub (default: the data directory)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), keysUsage)
		fs.PrintDefaults()
	}
	return fs, data, keys
}

// runKeysCreate creates, where missing, the keys a hub keeps in its key
// directory — the master key that wraps case keys (in the token, with
// --pkcs11-module), the development token key, the key that seals the API's
// opaque tokens, the checkpoint signing key and its verifier keys — and
// prints their files. Hub replicas share these (e.g. as one Kubernetes
// Secret); see docs/operations.md.
func runKeysCreate(args []string, stdout, stderr io.Writer) error {
	fs, data, keysDir := keysFlags("liaison keys", stderr)
	var mf masterFlags
	mf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := *keysDir
	if dir == "" {
		dir = *data
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Creating where missing: a token without a master key gets its first
	// (the first step of moving a software master key into a token).
	masters, src, err := openMasters(mf, dir, true)
	if err != nil {
		return err
	}
	defer src.close()
	if _, err := api.LoadOrCreateDevKey(dir); err != nil {
		return err
	}
	if _, err := api.LoadOrCreateTokenKey(dir); err != nil {
		return err
	}
	key, err := transparency.LoadOrCreateKey(dir)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("no checkpoint key")
	}
	files := []string{filepath.Join(dir, api.DevKeyFile), filepath.Join(dir, api.TokenKeyFile), filepath.Join(dir, transparency.KeyFile), filepath.Join(dir, transparency.PubFile)}
	if src.path != "" {
		files = append([]string{src.path}, files...)
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if src.kind == "pkcs11" {
		fmt.Fprintf(stdout, "master key %s in the PKCS#11 token\n", masters.Current().ID())
	}
	return nil
}

// offlineKeys opens, with the hub stopped, the data directory's store (which
// holds its lock, so that no hub starts meanwhile) and the case keys with
// the configured masters. The caller closes both.
func offlineKeys(data, keysDir string, mf masterFlags) (*embedded.Store, *keystore.FileStore, *masterSource, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var st *embedded.Store
	if _, err := os.Stat(filepath.Join(data, "log")); err == nil {
		if st, err = embedded.Open(filepath.Join(data, "log"), embedded.Options{Logger: quiet}); err != nil {
			return nil, nil, nil, err
		}
	}
	closeStore := func() {
		if st != nil {
			st.Close()
		}
	}
	dir := filepath.Join(keysDir, "casekeys")
	if !keystore.DirHoldsKeys(dir) {
		closeStore()
		return nil, nil, nil, fmt.Errorf("%s holds no case key", dir)
	}
	masters, src, err := openMasters(mf, keysDir, false)
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	fk, err := keystore.OpenFileStoreWith(dir, masters)
	if err != nil {
		closeStore()
		src.close()
		return nil, nil, nil, err
	}
	return st, fk, src, nil
}

func runRotateMaster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data, keysDir := keysFlags("liaison keys rotate-master", stderr)
	var mf masterFlags
	mf.register(fs)
	retire := fs.Bool("retire", false, "once every case key is wrapped by the new master key, delete the older ones (from the token, or from the key file): key-directory backups wrapped by them open no more")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keysDir == "" {
		*keysDir = *data
	}
	var rep rotateReport
	mode := "the hub running: it rotated online, serving meanwhile"
	if hubRunning(*data) {
		if err := callAdmin(ctx, *data, "/admin/keys/rotate-master", map[string]any{"retire": *retire}, &rep); err != nil {
			return err
		}
	} else {
		mode = "the hub stopped"
		st, fk, src, err := offlineKeys(*data, *keysDir, mf)
		if err != nil {
			return err
		}
		defer src.close()
		var cases []string
		if st != nil {
			defer st.Close() // the store holds the data directory's lock while the keys rotate
			if cases, err = st.Streams(ctx); err != nil {
				return err
			}
		}
		if rep, err = rotateMaster(ctx, src, fk, cases, *retire); err != nil {
			printRotation(stdout, mode, rep)
			return err
		}
	}
	printRotation(stdout, mode, rep)
	return nil
}

func printRotation(w io.Writer, mode string, rep rotateReport) {
	fmt.Fprintf(w, "master key rotation (%s)\n", mode)
	fmt.Fprintf(w, "  current master: %s (%s)\n", rep.Master, rep.Source)
	fmt.Fprintf(w, "  case keys:      %d, of which %d wrapped again; %d destroyed (erased cases)\n", rep.Keys, rep.Rewrapped, rep.Destroyed)
	if len(rep.Retired) > 0 {
		fmt.Fprintf(w, "  retired:        %s\n", strings.Join(rep.Retired, ", "))
	}
	if len(rep.Older) > 0 {
		fmt.Fprintf(w, "  older masters:  %s (kept)\n", strings.Join(rep.Older, ", "))
	}
	if rep.Advice != "" {
		fmt.Fprintf(w, "  note: %s\n", rep.Advice)
	}
}

func runRotateCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, data, keysDir := keysFlags("liaison keys rotate-checkpoint", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keysDir == "" {
		*keysDir = *data
	}
	var out checkpointRotation
	mode := "the hub running: it signs with the new key from now on"
	if hubRunning(*data) {
		if err := callAdmin(ctx, *data, "/admin/keys/rotate-checkpoint", map[string]any{}, &out); err != nil {
			return err
		}
	} else {
		mode = "the hub stopped: it signs with the new key from its next start"
		if release, err := embedded.LockDir(filepath.Join(*data, "log")); err == nil {
			defer release()
		}
		k, err := transparency.RotateKey(*keysDir)
		if err != nil {
			return err
		}
		out = checkpointRotation{VerifierKey: k.VerifierKey, VerifierKeys: k.Verifiers}
	}
	fmt.Fprintf(stdout, "checkpoint key rotation (%s)\n", mode)
	fmt.Fprintf(stdout, "  new verifier key: %s\n", out.VerifierKey)
	fmt.Fprintf(stdout, "  %s lists %d verifier keys (the old ones keep verifying the checkpoints they signed): give auditors the new one\n", filepath.Join(*keysDir, transparency.PubFile), len(out.VerifierKeys))
	return nil
}
