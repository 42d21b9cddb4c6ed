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
	"time"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// Exit codes of "liaison audit verify".
const (
	verifyTampered   exitCode = 1 // evidence of tampering (a bad record, named; a store that does not open or read back)
	verifyImpossible exitCode = 2 // nothing was verified (bad flags, no store, locked, no key)
)

// runVerify checks the access log and the case log of a data directory
// against their Merkle trees and signed checkpoints, offline. It prints one
// summary line on stdout and returns nil when both are intact; it prints the
// first bad record (or checkpoint) of each damaged log and returns exit code 1
// when not; it returns exit code 2, having said why on stderr, when it cannot
// verify.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./liaison-data", "data directory of the hub (stopped)")
	keysDir := fs.String("keys", "", "key directory of the hub, holding checkpoint.pub (default: the data directory)")
	keyFile := fs.String("key", "", "file holding the checkpoints' note verifier keys, one a line (default: checkpoint.pub in the key directory; pass the keys published by the hub to be independent of it)")
	var witnesses []*transparency.CosignatureVerifier
	fs.Func("witness", "verifier key of a witness that must have cosigned the access log's latest checkpoint (repeatable; URL=VKEY is taken too)", func(v string) error {
		if i := strings.LastIndex(v, "="); i >= 0 {
			v = v[i+1:]
		}
		w, err := transparency.NewCosignatureVerifier(v)
		if err != nil {
			return err
		}
		witnesses = append(witnesses, w)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison audit verify [--data DIR] [--keys DIR] [--key FILE] [--witness VKEY]...")
		fmt.Fprintln(fs.Output(), "Recomputes the Merkle trees of the access log and the case log from the stored records,")
		fmt.Fprintln(fs.Output(), "checks every signed checkpoint against them, and names the first bad record.")
		fmt.Fprintln(fs.Output(), "Exit status: 0 intact, 1 tampered, 2 could not verify.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		fmt.Fprintln(stderr, "liaison audit verify:", err)
		return verifyImpossible
	}
	fail := func(format string, args ...any) error {
		fmt.Fprintf(stderr, "liaison audit verify: "+format+"\n", args...)
		return verifyImpossible
	}

	dir := filepath.Join(*data, "log")
	if _, err := os.Stat(dir); err != nil {
		if _, lerr := os.Stat(filepath.Join(*data, "local")); lerr == nil {
			return fail("%s holds the trees of a hub on EventStoreDB (--store esdb); its logs are not in the data directory", *data)
		}
		return fail("no liaison store in %s (%v)", *data, err)
	}
	if *keysDir == "" {
		*keysDir = *data
	}
	vkeys, err := readVerifierKeys(*keysDir, *keyFile)
	if err != nil {
		return fail("%v", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // what goes wrong is reported below
	var rep transparency.Report
	var unreadable error // the store is there, but does not open or read back
	var witnessed []string
	var unwitnessed []string
	err = transparency.Guard("the store", func() error {
		st, err := embedded.Open(dir, embedded.Options{Logger: quiet})
		if err != nil {
			if !errors.Is(err, embedded.ErrLocked) {
				unreadable = err
			}
			return err
		}
		defer st.Close()
		rep, err = transparency.Verify(ctx, transparency.Sources{Journal: st, Events: st, KV: st}, vkeys...)
		if err == nil && len(witnesses) > 0 {
			witnessed, unwitnessed, err = checkWitnesses(ctx, st, vkeys, witnesses)
		}
		return err
	})
	if errors.Is(err, embedded.ErrLocked) {
		return fail("the data directory %s is in use by a running hub: stop it first, or verify a copy of the directory", *data)
	}
	var tamper *transparency.TamperError
	switch {
	case err == nil:
	case unreadable != nil || errors.Is(err, eventlog.ErrCorrupt) || errors.As(err, &tamper):
		// To an auditor, a store that cannot be read back is tampered with.
		fmt.Fprintln(stdout, "TAMPERED:")
		if unreadable != nil {
			fmt.Fprintf(stdout, "  the store %s could not be opened: %v\n", dir, unreadable)
			return verifyTampered
		}
		for _, e := range unjoin(err) {
			fmt.Fprintln(stdout, "  "+e.Error())
		}
		return verifyTampered
	default:
		return fail("%v", err)
	}
	if len(unwitnessed) > 0 {
		fmt.Fprintln(stdout, "NOT WITNESSED:")
		for _, u := range unwitnessed {
			fmt.Fprintln(stdout, "  "+u)
		}
		return verifyTampered
	}
	fmt.Fprintln(stdout, summary(rep))
	for _, w := range witnessed {
		fmt.Fprintln(stdout, w)
	}
	return nil
}

// checkWitnesses checks that the access log's latest checkpoint in kv carries
// a valid cosignature of every witness: it returns a line saying so for each
// one that has cosigned it, and one saying why not (with what the hub last
// heard from the witness) for each that has not.
func checkWitnesses(ctx context.Context, kv eventlog.KV, vkeys []string, ws []*transparency.CosignatureVerifier) (ok, missing []string, err error) {
	cp, _, err := transparency.LatestCheckpoints(ctx, kv, vkeys)
	if err != nil {
		return nil, nil, err
	}
	if cp.Seq == 0 {
		return nil, []string{"the access log has no checkpoint for a witness to cosign"}, nil
	}
	cosigs, err := transparency.Cosignatures(ctx, kv, cp.Seq)
	if err != nil {
		return nil, nil, err
	}
	signed := append(append([]byte(nil), cp.Note...), cosigs...)
	what := fmt.Sprintf("the access log's latest checkpoint (#%d, %d records)", cp.Seq, cp.Size)
	for _, w := range ws {
		if transparency.CheckCosignatures(signed, []string{w.String()}) == nil {
			ok = append(ok, fmt.Sprintf("witnessed: %s is cosigned by %s", what, w.Name()))
			continue
		}
		st, err := transparency.ReadWitnessState(ctx, kv, w)
		if err != nil {
			return nil, nil, err
		}
		m := fmt.Sprintf("%s is not cosigned by the witness %s", what, w.Name())
		switch {
		case st.CosignedSeq > 0:
			m += fmt.Sprintf("; it last cosigned checkpoint #%d (%d records)", st.CosignedSeq, st.CosignedSize)
		default:
			m += "; it has cosigned none of this hub's checkpoints"
		}
		if st.Refused != "" {
			m += fmt.Sprintf("; at %s the hub was told: %s", st.RefusedAt.Format(time.RFC3339), st.Refused)
		}
		missing = append(missing, m)
	}
	return ok, missing, nil
}

// readVerifierKeys reads the verifier keys from file, or from the key
// directory's checkpoint.pub.
func readVerifierKeys(dir, file string) ([]string, error) {
	if file == "" {
		k, err := transparency.ReadVerifierKeys(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // no checkpoints yet; Verify fails if there are some
		}
		return k, err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return transparency.ParseVerifierKeys(string(b)), nil
}

// unjoin flattens joined errors.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// summary is the one line printed when both logs are intact.
func summary(rep transparency.Report) string {
	n := rep.Access.Leaves + rep.Cases.Leaves
	secs := rep.Elapsed.Seconds()
	rate := float64(n) / max(secs, 1e-9)
	s := fmt.Sprintf("intact: %d access records, %d events, %d checkpoints verified in %.2fs (%s records/s)",
		rep.Access.Leaves, rep.Cases.Leaves, rep.Access.Checkpoints+rep.Cases.Checkpoints, secs, humanRate(rate))
	if tail := (rep.Access.Leaves - rep.Access.Covered) + (rep.Cases.Leaves - rep.Cases.Covered); tail > 0 {
		s += fmt.Sprintf("; %d access records and %d events after the last checkpoints are not signed yet",
			rep.Access.Leaves-rep.Access.Covered, rep.Cases.Leaves-rep.Cases.Covered)
	}
	return s
}

func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}
