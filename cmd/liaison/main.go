// Command liaison runs the Liaison hub and its tools.
//
//	liaison serve [--addr 127.0.0.1:8080] [--data ./liaison-data] [--demo] …
//	liaison token --agency ORG --roles R1,R2 --sub USER [--purpose P] [--ttl 1h] [--data DIR]
//	liaison audit verify [--data DIR] [--keys DIR]
//	liaison backup --data DIR --to DIR
//	liaison keys [rotate-master|rotate-checkpoint] [--data DIR] [--keys DIR]
//
// Every flag can also be given as an environment variable LIAISON_<FLAG>, with
// dashes as underscores (LIAISON_ADDR, LIAISON_JWKS_FILE); a flag on the command
// line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `liaison: the Liaison information-sharing hub

Usage:
  liaison serve [flags]          run the hub
  liaison token [flags]          print a development token signed with the data directory's key
  liaison audit verify [flags]   check the access log and the case log against their checkpoints
  liaison backup [flags]         copy a hub's store while it serves (or is stopped), verified
  liaison keys [flags]           create the hub's keys in its key directory (for replicas to share)
  liaison keys rotate-master     wrap every case key with a new master key (online when the hub runs)
  liaison keys rotate-checkpoint start a new checkpoint signing key (old checkpoints keep verifying)
  liaison follow [flags]         keep a local mirror of what a hub's feed shares with a token's identity
  liaison healthcheck [flags]    ask a running hub's /readyz on its admin address (exit 0 when ready)

Run "liaison <command> --help" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "keys":
		err = runKeys(ctx, args[1:], stdout, stderr)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, stderr)
	case "follow":
		err = runFollow(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], stdout, stderr)
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			if len(args) >= 2 && isHelp(args[1]) {
				fmt.Fprint(stdout, "Usage: liaison audit verify [--data DIR] [--keys DIR] [--key FILE]\n")
				return 0
			}
			fmt.Fprint(stderr, "Usage: liaison audit verify [--data DIR] [--keys DIR] [--key FILE]\n")
			return 2
		}
		err = runVerify(ctx, args[2:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "liaison: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var exit exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &exit):
		return int(exit)
	}
	fmt.Fprintf(stderr, "liaison %s: %v\n", args[0], err)
	return 1
}

// exitCode is an error that only carries an exit status (the command already
// said why).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

// parseFlags parses args, then fills every flag not given on the command line
// from LIAISON_<NAME> in the environment. It returns a usage error naming a bad
// environment value.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "LIAISON_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}
