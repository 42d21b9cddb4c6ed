package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/projections"
)

// The admin operations of a running hub.
//
// A running hub holds the lock of its data directory, so that "liaison
// backup" and "liaison keys rotate-…" cannot open its store or its keys
// beside it; they ask the hub instead, on its admin address (--admin-addr,
// loopback by default): POST /admin/backup, /admin/keys/rotate-master and
// /admin/keys/rotate-checkpoint. The hub writes where it listens and a
// fresh random token into adminFile in its data directory (mode 0600) when
// it starts, and removes it when it stops: whoever may read the data
// directory may run them, as they could with the hub stopped; every other
// caller of the admin address gets 401. The commands find a running hub by
// its lock (embedded.ErrLocked) and then read that file
// (docs/operations.md, "Backup and restore").

// adminFile is the file in the data directory naming a running hub's admin
// address and token.
const adminFile = "admin.json"

// adminInfo is adminFile's content.
type adminInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// adminOps serves the admin operations, one at a time.
type adminOps struct {
	m     *Main
	token string
	mu    sync.Mutex
}

// adminHandler is the admin address's handler: the admin operations under
// /admin/, the API's admin side (health, readiness, metrics) elsewhere.
func (m *Main) adminHandler() (http.Handler, error) {
	tok := make([]byte, 32)
	rand.Read(tok)
	m.ops = &adminOps{m: m, token: base64.RawURLEncoding.EncodeToString(tok)}
	mux := http.NewServeMux()
	mux.Handle("/admin/", m.ops)
	mux.Handle("/", m.Server.AdminHandler())
	return mux, nil
}

// writeAdminInfo writes adminFile once the admin address listens.
func (m *Main) writeAdminInfo() error {
	if m.ops == nil || m.adminAddr == "" {
		return nil
	}
	b, _ := json.Marshal(adminInfo{Addr: m.adminAddr, Token: m.ops.token, PID: os.Getpid()})
	return eventlog.WriteFileSynced(filepath.Join(m.Config.DataDir, adminFile), b, 0o600, false)
}

func (m *Main) removeAdminInfo() {
	if m.ops != nil && m.adminAddr != "" {
		os.Remove(filepath.Join(m.Config.DataDir, adminFile))
	}
}

func (o *adminOps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(auth), []byte(o.token)) != 1 {
		http.Error(w, `{"error":"the admin token of the data directory is required"}`, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"POST"}`, http.StatusMethodNotAllowed)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var req struct {
		To     string `json:"to"`
		Retire bool   `json:"retire"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, `{"error":"the body must be JSON"}`, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	var out any
	var err error
	switch r.URL.Path {
	case "/admin/backup":
		out, err = o.m.backup(ctx, req.To)
	case "/admin/keys/rotate-master":
		out, err = o.m.rotateMaster(ctx, req.Retire)
	case "/admin/keys/rotate-checkpoint":
		out, err = o.m.rotateCheckpoint(ctx)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		o.m.Logger.Error("admin operation failed", "op", r.URL.Path, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	o.m.Logger.Info("admin operation done", "op", r.URL.Path)
	json.NewEncoder(w).Encode(out)
}

// backup copies the running hub's store into to (docs/operations.md,
// "Backup and restore"); the command verifies the copy.
func (m *Main) backup(ctx context.Context, to string) (backupResult, error) {
	if m.store == nil {
		return backupResult{}, errors.New("this hub keeps its log on EventStoreDB: back up the cluster with its own tools")
	}
	if !filepath.IsAbs(to) {
		return backupResult{}, errors.New("the backup directory must be an absolute path")
	}
	if m.trees != nil {
		// The copy ends at checkpoints signed now.
		if err := m.trees.Checkpoint(ctx); err != nil {
			return backupResult{}, err
		}
	}
	return backupStore(ctx, m.store, m.Config.keysDir(), to, "online")
}

// rotateMaster rotates the running hub's master key (masters.go).
func (m *Main) rotateMaster(ctx context.Context, retire bool) (rotateReport, error) {
	if m.fileKeys == nil || m.masters == nil {
		return rotateReport{}, errors.New("this hub keeps its case keys on EventStoreDB: rotate them with the cluster's key store")
	}
	var cases []string
	m.Projector.Scan(0, func(v *projections.View) bool {
		cases = append(cases, v.Case.ID)
		return true
	})
	return rotateMaster(ctx, m.masters, m.fileKeys, cases, retire)
}

// rotateCheckpoint starts a new checkpoint signing key in the running hub.
func (m *Main) rotateCheckpoint(ctx context.Context) (checkpointRotation, error) {
	k, err := transparency.RotateKey(m.Config.keysDir())
	if err != nil {
		return checkpointRotation{}, err
	}
	if err := m.trees.SetKey(ctx, k); err != nil {
		return checkpointRotation{}, err
	}
	return checkpointRotation{VerifierKey: k.VerifierKey, VerifierKeys: k.Verifiers}, nil
}

// checkpointRotation is what rotate-checkpoint answers.
type checkpointRotation struct {
	VerifierKey  string   `json:"verifier_key"`
	VerifierKeys []string `json:"verifier_keys"`
}

// hubRunning reports whether a hub holds the data directory's store.
func hubRunning(data string) bool {
	release, err := embedded.LockDir(filepath.Join(data, "log"))
	if err != nil {
		return errors.Is(err, embedded.ErrLocked)
	}
	release()
	return false
}

// callAdmin asks the hub running on data (hubRunning) for the admin
// operation path, with body, decoding its answer into out.
func callAdmin(ctx context.Context, data, path string, body, out any) error {
	b, err := os.ReadFile(filepath.Join(data, adminFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("a hub runs on %s without an admin address (--admin-addr off, or its default was taken): restart it with --admin-addr, or stop it and run the command again", data)
	}
	if err != nil {
		return err
	}
	var info adminInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Addr == "" {
		return fmt.Errorf("%s is damaged: restart the hub", filepath.Join(data, adminFile))
	}
	j, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+info.Addr+path, bytes.NewReader(j))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the hub running on %s does not answer on its admin address %s: %w", data, info.Addr, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rb, &e) == nil && e.Error != "" {
			return fmt.Errorf("the hub: %s", e.Error)
		}
		return fmt.Errorf("the hub answered %s: %s", resp.Status, rb)
	}
	return json.Unmarshal(rb, out)
}
