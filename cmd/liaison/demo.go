package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/hub"
)

// demoMarker is the file in the data directory that says the demo data set was
// loaded (and with which seed), so that it is loaded once.
const demoMarker = "demo-loaded"

// loadDemo loads the synthetic demo data set once, through the hub's use
// cases, as the demo identities (known to the development issuer): every demo
// event is decided by the protocol and recorded like any other, access
// records included; no HTTP, no rate limit.
func (m *Main) loadDemo(ctx context.Context) error {
	marker := filepath.Join(m.Config.DataDir, demoMarker)
	if _, err := os.Stat(marker); err == nil {
		m.Logger.Info("demo data already loaded")
		return nil
	}
	if m.production() {
		return errors.New("--demo needs the development key; it cannot load under --trust, --jwks-file or --jwks-url")
	}
	for !m.Hub.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	cases := demo.Generate(uint64(m.Config.DemoSeed), m.Config.DemoCases)
	var calls atomic.Int64
	// do runs one use case as id, with its access record, and fails on a
	// refusal: the demo data set only holds what the protocol allows.
	do := func(id domain.Identity, action string, status int, use func(*hub.Call) error) error {
		id.Issuer = api.DevIssuer
		c := hub.NewCall(id, "", m.Clock(), "demo-"+strconv.FormatInt(calls.Add(1), 10), action)
		err := use(c)
		if err != nil {
			status = api.StatusOf(err)
		}
		if rerr := m.Hub.Close(ctx, c, status, err); rerr != nil {
			return rerr
		}
		if err != nil {
			return fmt.Errorf("%s as %s: %w", action, id.Subject, err)
		}
		return nil
	}
	start := time.Now()
	var done atomic.Int64
	var events atomic.Int64
	var firstErr error
	var once sync.Once
	work := make(chan demo.Case)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := loadCase(ctx, m.Hub, c, do); err != nil {
					once.Do(func() { firstErr = err })
					continue
				}
				events.Add(int64(len(c.Steps)))
				if n := done.Add(1); n%50 == 0 || int(n) == len(cases) {
					m.Logger.Info("loading demo data", "cases", strconv.FormatInt(n, 10)+"/"+strconv.Itoa(len(cases)), "events", events.Load())
				}
			}
		}()
	}
	for _, c := range cases {
		if firstErr != nil || ctx.Err() != nil {
			break
		}
		work <- c
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte("seed "+strconv.FormatInt(m.Config.DemoSeed, 10)+"\n"), 0o600); err != nil {
		return err
	}
	m.Logger.Info("demo data loaded", "cases", len(cases), "events", events.Load(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func loadCase(ctx context.Context, h *hub.Service, c demo.Case, do func(domain.Identity, string, int, func(*hub.Call) error) error) error {
	var id string
	err := do(c.Steps[0].As, "case.open", http.StatusCreated, func(call *hub.Call) error {
		out, err := h.OpenCase(ctx, call, c.Steps[0].Data)
		id = out.CaseID
		return err
	})
	if err != nil {
		return err
	}
	for _, s := range c.Steps[1:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch s.Type {
		case domain.BreakGlassInvoked:
			body, _ := json.Marshal(map[string]string{"justification": s.Justification})
			err = do(s.As, "break-glass", http.StatusCreated, func(call *hub.Call) error {
				call.Record.CaseID = id
				_, err := h.BreakGlass(ctx, call, id, body)
				return err
			})
		default:
			body := map[string]any{"type": s.Type, "data": s.Data}
			if s.Classification != "" {
				body["classification"] = s.Classification
			}
			if len(s.ShareWith) > 0 {
				body["share_with"] = s.ShareWith
			}
			b, _ := json.Marshal(body)
			err = do(s.As, "event.append", http.StatusCreated, func(call *hub.Call) error {
				call.Record.CaseID = id
				_, err := h.Append(ctx, call, id, b)
				return err
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
