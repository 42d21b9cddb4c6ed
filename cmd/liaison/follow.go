package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/eventlog"
)

// The reference follower (docs/api.md, "The feed"): a partner system's
// mirror of what the hub shares with it. It reads GET /v1/feed page by page
// (long-polling), keeps one file per case holding the items it may read, and
// deletes a case's file on its withdrawal notice. It resumes after a crash
// from the cursor it saved: a page's effects are written before its cursor,
// and applying a page twice changes nothing (items are kept by event id).

// followEntry is one feed entry as the follower reads it.
type followEntry struct {
	Kind    string `json:"kind"`
	CaseID  string `json:"case_id"`
	Reason  string `json:"reason"`
	EventID string `json:"event_id"`
	Version int    `json:"version"`
	raw     json.RawMessage
}

// mirrorCase is one case of the mirror: its items by event id, in the order
// they came.
type mirrorCase struct {
	CaseID string            `json:"case_id"`
	Items  []json.RawMessage `json:"items"`
}

func runFollow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison follow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hubURL := fs.String("hub", "http://127.0.0.1:8080", "the hub's base URL")
	dir := fs.String("to", "./liaison-mirror", "directory of the mirror (created; one file per case, and the cursor)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token, read again before each request (default: $LIAISON_TOKEN)")
	purpose := fs.String("purpose", "", "purpose of the reads (default: the token's)")
	once := fs.Bool("once", false, "stop when the feed has nothing new instead of waiting")
	wait := fs.Duration("wait", 30*time.Second, "how long each request waits for something new")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: liaison follow --hub URL --to DIR [--token-file F] [--purpose P] [--once]")
		fmt.Fprintln(fs.Output(), "Keeps DIR a mirror of what the hub's feed shares with the token's identity: one file per case,")
		fmt.Fprintln(fs.Output(), "deleted when the case is withdrawn; resumes from DIR/cursor.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(*dir, "cases"), 0o700); err != nil {
		return err
	}
	f := &follower{hub: strings.TrimRight(*hubURL, "/"), dir: *dir, tokenFile: *tokenFile, purpose: *purpose, client: &http.Client{Timeout: *wait + 30*time.Second}}
	applied := 0
	for {
		n, err := f.step(ctx, *wait, *once)
		if err != nil {
			return err
		}
		applied += n
		if n == 0 && *once {
			fmt.Fprintf(stdout, "mirror up to date: %d entries applied\n", applied)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// follower is a running mirror.
type follower struct {
	hub, dir, tokenFile, purpose string
	client                       *http.Client
}

func (f *follower) token() (string, error) {
	if f.tokenFile == "" {
		if t := os.Getenv("LIAISON_TOKEN"); t != "" {
			return t, nil
		}
		return "", errors.New("no token: --token-file or LIAISON_TOKEN")
	}
	b, err := os.ReadFile(f.tokenFile)
	return strings.TrimSpace(string(b)), err
}

// step reads one page after the saved cursor, applies it to the mirror and
// saves the new cursor; it returns how many entries it applied.
func (f *follower) step(ctx context.Context, wait time.Duration, once bool) (int, error) {
	cursorFile := filepath.Join(f.dir, "cursor")
	cursor, err := os.ReadFile(cursorFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	q := url.Values{}
	if len(cursor) > 0 {
		q.Set("cursor", strings.TrimSpace(string(cursor)))
	}
	if !once {
		q.Set("wait", fmt.Sprint(int(wait.Seconds())))
	}
	tok, err := f.token()
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.hub+"/v1/feed?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if f.purpose != "" {
		req.Header.Set("Liaison-Purpose", f.purpose)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/feed: %s: %s", resp.Status, body)
	}
	var page struct {
		Items  []json.RawMessage `json:"items"`
		Cursor string            `json:"cursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, fmt.Errorf("GET /v1/feed: %w", err)
	}
	for _, raw := range page.Items {
		var e followEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, err
		}
		e.raw = raw
		if err := f.apply(e); err != nil {
			return 0, err
		}
	}
	if len(page.Items) > 0 || len(cursor) == 0 {
		// The cursor last: a crash before it applies the page again.
		if err := eventlog.WriteFileSynced(cursorFile, []byte(page.Cursor+"\n"), 0o600, false); err != nil {
			return 0, err
		}
	}
	return len(page.Items), nil
}

// apply applies one entry to the mirror.
func (f *follower) apply(e followEntry) error {
	if strings.ContainsAny(e.CaseID, `/\.`) || e.CaseID == "" {
		return fmt.Errorf("a case id the mirror cannot hold: %q", e.CaseID)
	}
	file := filepath.Join(f.dir, "cases", e.CaseID+".json")
	if e.Kind == "withdrawn" {
		// Delete the copy; a "reduced" view comes again right after.
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	mc := mirrorCase{CaseID: e.CaseID}
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &mc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	for i, it := range mc.Items {
		var have followEntry
		if json.Unmarshal(it, &have) == nil && have.EventID == e.EventID {
			mc.Items[i] = e.raw
			return writeMirror(file, mc)
		}
	}
	mc.Items = append(mc.Items, e.raw)
	return writeMirror(file, mc)
}

func writeMirror(file string, mc mirrorCase) error {
	b, err := json.MarshalIndent(mc, "", " ")
	if err != nil {
		return err
	}
	return eventlog.WriteFileSynced(file, append(b, '\n'), 0o600, false)
}
