package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/policies"
)

// runToken prints one development token on stdout, nothing else.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agency := fs.String("agency", "", "organisation id (from the directory), e.g. prison-service")
	roles := fs.String("roles", "", "comma-separated roles, e.g. caseworker,manager")
	sub := fs.String("sub", "", "the user (token subject)")
	purpose := fs.String("purpose", "", "default purpose of reads made with this token")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	data := fs.String("data", "./liaison-data", "data directory of the hub")
	keysDir := fs.String("keys", "", "key directory holding the development signing key (default: the data directory)")
	bundlePath := fs.String("policies", "", "policy bundle whose directory and roles the token is checked against (default: the built-in protocol)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison token --agency ORG --roles R1,R2 --sub USER [--purpose P] [--ttl 1h] [--data DIR] [--policies DIR]")
		fmt.Fprintln(fs.Output(), "Prints one development token (EdDSA, issuer liaison-dev, audience liaison) on stdout.")
		fmt.Fprintln(fs.Output(), "The organisation and roles must be the policy's; the data directory must hold a hub's development key.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *agency == "" || *sub == "" {
		fs.Usage()
		return errors.New("--agency and --sub are required")
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		return errors.New("--ttl must be between 1s and 24h")
	}
	var rs []string
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	if err := checkIdentity(ctx, *bundlePath, *agency, rs); err != nil {
		return err
	}
	// Only a hub (serve) or "liaison keys" makes keys: a token signed by a key
	// no hub uses would be refused anyway.
	if *keysDir != "" {
		*data = *keysDir
	}
	if _, err := os.Stat(filepath.Join(*data, api.DevKeyFile)); err != nil {
		return fmt.Errorf("no development key in %s: start the hub once (liaison serve --data %s) or create its keys (liaison keys --data %s), then ask again", *data, *data, *data)
	}
	key, err := api.LoadOrCreateDevKey(*data)
	if err != nil {
		return err
	}
	tok, err := api.MintDevToken(key, api.TokenRequest{Subject: *sub, Agency: *agency, Roles: rs, Purpose: *purpose, TTL: *ttl})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// checkIdentity refuses an organisation that is not in the policy's directory
// and roles the policy does not know for its type, naming those it knows.
func checkIdentity(ctx context.Context, bundlePath, agency string, roles []string) error {
	b := policies.Default()
	if bundlePath != "" {
		var err error
		if b, err = policies.Load(ctx, bundlePath); err != nil {
			return fmt.Errorf("--policies: %w", err)
		}
	}
	dir, err := b.Directory()
	if err != nil {
		return err
	}
	t, ok := dir.TypeOf(agency)
	if !ok {
		return fmt.Errorf("--agency %q is not an organisation of the directory; it knows %s", agency, strings.Join(slices.Sorted(maps.Keys(dir)), ", "))
	}
	known := b.Roles(t)
	for _, r := range roles {
		if !slices.Contains(known, r) {
			return fmt.Errorf("--roles: %q is not a role of %s (a %s organisation); its roles are %s", r, agency, t, strings.Join(known, ", "))
		}
	}
	return nil
}
