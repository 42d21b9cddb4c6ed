package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's "Command line" block names only commands and flags that
// exist: every "liaison <command> …" line's flags are in that command's
// --help.
func TestReadmeCommandLine(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Command line\n\n```\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the README has no Command line block")
	}
	// Join continuation lines to their command.
	var cmds []string
	for _, line := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(line, "liaison "):
			cmds = append(cmds, line)
		case strings.TrimSpace(line) != "" && len(cmds) > 0:
			cmds[len(cmds)-1] += " " + strings.TrimSpace(line)
		}
	}
	flagRe := regexp.MustCompile(`--([a-z0-9-]+)`)
	for _, c := range cmds {
		f := strings.Fields(c)
		args := []string{f[1]}
		if len(f) > 2 && !strings.HasPrefix(f[2], "-") && !strings.HasPrefix(f[2], "[") {
			args = append(args, f[2]) // a subcommand: audit verify, keys rotate-master
		}
		var stdout, stderr bytes.Buffer
		run(context.Background(), append(args, "--help"), &stdout, &stderr)
		help := stdout.String() + stderr.String()
		for _, m := range flagRe.FindAllStringSubmatch(c, -1) {
			if !strings.Contains(help, "-"+m[1]+" ") && !strings.Contains(help, "-"+m[1]+"\n") {
				t.Errorf("README: liaison %s has no flag --%s:\n%s", strings.Join(args, " "), m[1], help)
			}
		}
	}
	if len(cmds) < 8 {
		t.Errorf("the Command line block lists %d commands", len(cmds))
	}
}
