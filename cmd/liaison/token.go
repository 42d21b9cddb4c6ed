package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/api"
)

// runToken prints one development token on stdout, nothing else.
func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agency := fs.String("agency", "", "organisation id (from the directory), e.g. prison-service")
	roles := fs.String("roles", "", "comma-separated roles, e.g. caseworker,manager")
	sub := fs.String("sub", "", "the user (token subject)")
	purpose := fs.String("purpose", "", "default purpose of reads made with this token")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	data := fs.String("data", "./liaison-data", "data directory holding the development signing key")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison token --agency ORG --roles R1,R2 --sub USER [--purpose P] [--ttl 1h] [--data DIR]")
		fmt.Fprintln(fs.Output(), "Prints one development token (EdDSA, issuer liaison-dev, audience liaison) on stdout.")
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
