package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/esdb/esdbtest"
)

// syncBuffer is a buffer written by the hub and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestServeOnALostClusterTurnsUnreadyThenExits (issue 22, defect 1): a hub on
// a cluster is ready while the cluster answers; when the cluster goes away
// /readyz turns 503 at once (and `liaison healthcheck` fails), and once it
// has been away longer than --cluster-timeout, `liaison serve` exits
// non-zero, saying why, so that its orchestrator restarts it.
func TestServeOnALostClusterTurnsUnreadyThenExits(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	dir := t.TempDir()
	var stderr syncBuffer
	exit := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		exit <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", dir,
			"--store", "esdb", "--esdb-url", c.URL("", ""), "--cluster-timeout", "2s"}, io.Discard, &stderr)
	}()
	listening := regexp.MustCompile(`liaison hub listening" addr=(\S+) admin=(\S+)`)
	var api, admin string
	defer func() {
		if t.Failed() {
			t.Logf("the hub's log:\n%s", stderr.String())
		}
	}()
	waitUntil(t, "the hub listens", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		default:
		}
		m := listening.FindStringSubmatch(stderr.String())
		if m != nil {
			api, admin = m[1], m[2]
		}
		return m != nil
	})
	for _, base := range []string{api, admin} {
		waitUntil(t, "ready on "+base, func() bool { return status("http://"+base+"/readyz") == 200 })
	}
	if code := run(ctx, []string{"healthcheck", "--admin-addr", admin}, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck of a ready hub: exit %d", code)
	}

	c.Down()
	waitUntil(t, "/readyz turns 503 with the cluster away", func() bool {
		return status("http://"+api+"/readyz") == 503 && status("http://"+admin+"/readyz") == 503
	})
	if status("http://"+admin+"/healthz") != 200 {
		t.Error("/healthz is not 200 while the hub runs")
	}
	if code := run(ctx, []string{"healthcheck", "--admin-addr", admin}, io.Discard, io.Discard); code != 1 {
		t.Errorf("healthcheck of a hub without its cluster: exit %d, want 1", code)
	}
	select {
	case code := <-exit:
		if code == 0 {
			t.Fatalf("serve exited 0 having lost its cluster:\n%s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "--cluster-timeout") {
			t.Errorf("serve does not say why it exits:\n%s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve still runs a minute after it lost its cluster (--cluster-timeout 2s):\n%s", stderr.String())
	}
}

// TestServeRidesOutAShortAbsence: a cluster away for less than
// --cluster-timeout is no reason to exit: the hub is ready again when it is
// back, with what was written meanwhile.
func TestServeRidesOutAShortAbsence(t *testing.T) {
	c := esdbtest.Start(t, esdbtest.Options{})
	dir := t.TempDir()
	m := &Main{Config: Config{Addr: "127.0.0.1:0", AdminAddr: "off", DataDir: dir, Store: "esdb", ESDBURL: c.URL("", ""), ClusterTimeout: time.Minute},
		Logger: slog.New(slog.DiscardHandler)}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	base := "http://" + m.Addr()
	waitUntil(t, "ready", func() bool { return status(base+"/readyz") == 200 })
	h := &testHub{t: t, dir: dir, m: m, base: base}
	id := h.openCase("SHORT-2026-0001")
	c.Down()
	waitUntil(t, "unready while the cluster is away", func() bool { return status(base+"/readyz") == 503 })
	c.Up()
	waitUntil(t, "ready again", func() bool { return status(base+"/readyz") == 200 })
	if a := h.as(caseworker, "POST", "/v1/cases/"+id+"/events", "", needsAssessment()); a.status != 201 {
		t.Fatalf("append after the cluster came back: %d %s", a.status, a.body)
	}
	select {
	case err := <-m.Err():
		t.Fatalf("the hub stopped: %v", err)
	default:
	}
}
