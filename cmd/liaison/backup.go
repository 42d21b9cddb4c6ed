package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// Backup (docs/operations.md, "Backup and restore").
//
// "liaison backup --data DIR --to DIR" copies a hub's store while it serves
// (or while it is stopped): the embedded store's checkpoint (Pebble's
// DB.Checkpoint, embedded.Store.Backup) into TO/log, and the checkpoints'
// verifier keys (checkpoint.pub) beside it; then it opens the copy and
// verifies both logs against their signed checkpoints, as "liaison audit
// verify" does, and only then writes the manifest (manifestFile) and reports
// success. A backup holds no key: the case keys, the register of erasures
// and the other secrets live in the key directory, backed up on their own
// schedule and never restored to an older state, so that a restored backup
// cannot bring an erased case back (the register re-applies the erasure).

// manifestFile describes a verified backup; a directory without it is no
// complete backup.
const manifestFile = "BACKUP.json"

// manifestFormat is the format of manifestFile.
const manifestFormat = 1

// backupResult is what the copy holds, as the hub (or the command, with the
// hub stopped) made it.
type backupResult struct {
	Dir     string        `json:"dir"`
	Mode    string        `json:"mode"` // online (the hub running) or offline
	Head    uint64        `json:"head"`
	Records uint64        `json:"records"`
	Files   int           `json:"files"`
	Linked  int           `json:"linked"`
	Bytes   int64         `json:"bytes"`
	Took    time.Duration `json:"took_ns"`
}

// manifest is manifestFile's content.
type manifest struct {
	Format      int          `json:"format"`
	StoreFormat int          `json:"store_format"`
	CreatedAt   time.Time    `json:"created_at"`
	Source      string       `json:"source"`
	Copy        backupResult `json:"copy"`
	Events      uint64       `json:"events"`
	Records     uint64       `json:"records"`
	Access      checkpointAt `json:"access_checkpoint"`
	Cases       checkpointAt `json:"case_checkpoint"`
	Verified    string       `json:"verified"`
}

// checkpointAt names the checkpoint a log of the backup ends at.
type checkpointAt struct {
	Seq  uint64 `json:"seq"`
	Size uint64 `json:"size"`
	Root string `json:"root_hash"`
}

// backupStore copies st into to/log and the verifier keys of keysDir into
// to (both synced).
func backupStore(ctx context.Context, st *embedded.Store, keysDir, to, mode string) (backupResult, error) {
	info, err := st.Backup(ctx, filepath.Join(to, "log"))
	if err != nil {
		return backupResult{}, err
	}
	res := backupResult{Dir: to, Mode: mode, Head: info.Head, Records: info.Records, Files: info.Files, Linked: info.Linked, Bytes: info.Bytes, Took: info.Took}
	pub, err := os.ReadFile(filepath.Join(keysDir, transparency.PubFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return res, nil // no checkpoint yet
	case err != nil:
		return res, err
	}
	if err := eventlog.WriteFileSynced(filepath.Join(to, transparency.PubFile), pub, 0o644, true); err != nil {
		return res, err
	}
	res.Files++
	res.Bytes += int64(len(pub))
	return res, nil
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./liaison-data", "data directory of the hub (running or stopped)")
	keys := fs.String("keys", "", "key directory of the hub, for its checkpoints' verifier keys when the hub is stopped (default: the data directory)")
	to := fs.String("to", "", "directory to create the backup in (must not exist, or be empty); on another disk, the copy is a full copy; on the same file system, the store's table files are hard-linked")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison backup --data DIR --to DIR [--keys DIR]")
		fmt.Fprintln(fs.Output(), "Copies the hub's store, consistently, while it serves (or while it is stopped), verifies the copy")
		fmt.Fprintln(fs.Output(), "against its signed checkpoints, and prints what it copied and the checkpoints it ends at.")
		fmt.Fprintln(fs.Output(), "The copy holds no key: back up the key directory on its own (docs/operations.md).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return errors.New("--to is required")
	}
	if *keys == "" {
		*keys = *data
	}
	dest, err := filepath.Abs(*to)
	if err != nil {
		return err
	}
	if ents, err := os.ReadDir(dest); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s exists and is not empty: back up into a new directory", dest)
	} else if err == nil {
		if err := os.Remove(dest); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(*data, "log")); err != nil {
		if _, lerr := os.Stat(filepath.Join(*data, "local")); lerr == nil {
			return fmt.Errorf("%s is the data directory of a hub on EventStoreDB: back up the cluster with its own tools (docs/operations.md)", *data)
		}
		return fmt.Errorf("no liaison store in %s", *data)
	}

	var res backupResult
	if hubRunning(*data) {
		if err := callAdmin(ctx, *data, "/admin/backup", map[string]any{"to": dest}, &res); err != nil {
			return err
		}
	} else {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		st, err := embedded.Open(filepath.Join(*data, "log"), embedded.Options{Logger: quiet})
		if err != nil {
			return err
		}
		res, err = backupStore(ctx, st, *keys, dest, "offline")
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}

	// Verify the copy as "liaison audit verify" would, before saying it is one.
	m, rep, err := verifyBackup(ctx, dest)
	if err != nil {
		fmt.Fprintf(stdout, "backup of %s to %s FAILED verification (the directory is left as it is, without %s):\n  %v\n", *data, dest, manifestFile, err)
		return verifyTampered
	}
	m.Source, m.Copy = *data, res
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := eventlog.WriteFileSynced(filepath.Join(dest, manifestFile), append(b, '\n'), 0o644, true); err != nil {
		return err
	}
	printBackup(stdout, *data, m, rep)
	return nil
}

// verifyBackup opens the copy in dir and verifies it; it returns its
// manifest (without its source and copy) and the verification's report.
func verifyBackup(ctx context.Context, dir string) (manifest, transparency.Report, error) {
	vkeys, err := transparency.ReadVerifierKeys(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return manifest{}, transparency.Report{}, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		return manifest{}, transparency.Report{}, fmt.Errorf("the copy does not open: %w", err)
	}
	defer st.Close()
	rep, err := transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, vkeys...)
	if err != nil {
		return manifest{}, rep, err
	}
	acp, ccp, err := transparency.LatestCheckpoints(ctx, st, vkeys)
	if err != nil {
		return manifest{}, rep, err
	}
	m := manifest{
		Format: manifestFormat, StoreFormat: embedded.SchemaVersion, CreatedAt: time.Now().UTC(),
		Events: rep.Cases.Leaves, Records: rep.Access.Leaves,
		Access:   checkpointAt{Seq: acp.Seq, Size: acp.Size, Root: base64.StdEncoding.EncodeToString(acp.Root)},
		Cases:    checkpointAt{Seq: ccp.Seq, Size: ccp.Size, Root: base64.StdEncoding.EncodeToString(ccp.Root)},
		Verified: summary(rep),
	}
	return m, rep, nil
}

func printBackup(w io.Writer, data string, m manifest, rep transparency.Report) {
	c := m.Copy
	mode := "the hub running"
	if c.Mode == "offline" {
		mode = "the hub stopped"
	}
	fmt.Fprintf(w, "backup of %s to %s (%s), in %s\n", data, c.Dir, mode, c.Took.Round(time.Millisecond))
	fmt.Fprintf(w, "  copied:   %d files, %s (%d table files hard-linked to the store's), and %s\n", c.Files, mib(c.Bytes), c.Linked, transparency.PubFile)
	fmt.Fprintf(w, "  holds:    %d events and %d access records (all %d events and %d records durable when it began)\n", m.Events, m.Records, c.Head, c.Records)
	fmt.Fprintf(w, "  ends at:  access log checkpoint %d (size %d, root %s), case log checkpoint %d (size %d, root %s)\n",
		m.Access.Seq, m.Access.Size, m.Access.Root, m.Cases.Seq, m.Cases.Size, m.Cases.Root)
	if tail := (rep.Access.Leaves - rep.Access.Covered) + (rep.Cases.Leaves - rep.Cases.Covered); tail > 0 {
		fmt.Fprintf(w, "            (%d records and %d events after them, not signed yet, were checked against the stored tree)\n",
			rep.Access.Leaves-rep.Access.Covered, rep.Cases.Leaves-rep.Cases.Covered)
	}
	fmt.Fprintf(w, "  verified: %s\n", m.Verified)
	fmt.Fprintf(w, "  not copied: the key directory (case keys, the register of erasures, the other keys): back it up on its own\n")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
