package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// runKeys creates, where missing, the keys a hub keeps in its data directory —
// the master key that wraps case keys, the development token key, the key
// that seals the API's opaque tokens, the checkpoint signing key and its
// verifier key — and prints their files. Hub
// replicas share these (e.g. as one Kubernetes Secret); see docs/operations.md.
func runKeys(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./liaison-data", "directory to create the keys in")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison keys [--data DIR]")
		fmt.Fprintln(fs.Output(), "Creates the hub's keys in DIR where missing (never overwrites one) and prints their paths.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	master := filepath.Join(*data, "master.key")
	if _, err := keystore.LoadMasterKey("", "", master); err != nil {
		return err
	}
	if _, err := api.LoadOrCreateDevKey(*data); err != nil {
		return err
	}
	if _, err := api.LoadOrCreateTokenKey(*data); err != nil {
		return err
	}
	key, err := transparency.LoadOrCreateKey(*data)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("no checkpoint key")
	}
	for _, f := range []string{master, filepath.Join(*data, api.DevKeyFile), filepath.Join(*data, api.TokenKeyFile), filepath.Join(*data, transparency.KeyFile), filepath.Join(*data, transparency.PubFile)} {
		fmt.Fprintln(stdout, f)
	}
	return nil
}
