package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

// demoMarker is the file in the data directory that says the demo data set was
// loaded (and with which seed), so that it is loaded once.
const demoMarker = "demo-loaded"

// loadDemo loads the synthetic demo data set once, through the hub's own API
// and policy, as the demo identities with development tokens: every demo event
// is checked and recorded like any other, access records included.
func (m *Main) loadDemo(ctx context.Context) error {
	marker := filepath.Join(m.Config.DataDir, demoMarker)
	if _, err := os.Stat(marker); err == nil {
		m.Logger.Info("demo data already loaded")
		return nil
	}
	if m.Config.JWKSFile != "" || m.Config.JWKSURL != "" {
		return errors.New("--demo needs the development key; it cannot load under --jwks-file/--jwks-url")
	}
	for !m.Projector.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	key, err := api.LoadOrCreateDevKey(m.Config.DataDir)
	if err != nil {
		return err
	}
	cases := demo.Generate(uint64(m.Config.DemoSeed), m.Config.DemoCases)
	tokens := map[string]string{}
	token := func(id domain.Identity) (string, error) {
		k := id.Agency + "/" + id.Subject
		if t, ok := tokens[k]; ok {
			return t, nil
		}
		t, err := api.MintDevToken(key, api.TokenRequest{Subject: id.Subject, Agency: id.Agency, Roles: id.Roles, TTL: time.Hour, Now: m.Clock()})
		tokens[k] = t
		return t, err
	}
	// Mint every token up front: the workers then only read the map.
	for _, c := range cases {
		for _, s := range c.Steps {
			if _, err := token(s.As); err != nil {
				return err
			}
		}
	}
	h := m.Server.Handler()
	post := func(path string, id domain.Identity, body any) (map[string]any, error) {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		var rec *httptest.ResponseRecorder
		// The demo writers are subject to the per-identity rate limit like
		// anyone: wait and try again when over it.
		for attempt := 0; ; attempt++ {
			req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[id.Agency+"/"+id.Subject])
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusTooManyRequests || attempt > 200 || ctx.Err() != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if rec.Code != http.StatusCreated {
			return nil, fmt.Errorf("%s as %s: %d %s", path, id.Subject, rec.Code, rec.Body.String())
		}
		var out map[string]any
		return out, json.Unmarshal(rec.Body.Bytes(), &out)
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
				if err := loadCase(ctx, c, post); err != nil {
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

func loadCase(ctx context.Context, c demo.Case, post func(string, domain.Identity, any) (map[string]any, error)) error {
	opened, err := post("/v1/cases", c.Steps[0].As, json.RawMessage(c.Steps[0].Data))
	if err != nil {
		return err
	}
	id, _ := opened["case_id"].(string)
	for _, s := range c.Steps[1:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch s.Type {
		case domain.BreakGlassInvoked:
			_, err = post("/v1/cases/"+id+"/break-glass", s.As, map[string]string{"justification": s.Justification})
		default:
			body := map[string]any{"type": s.Type, "data": s.Data}
			if s.Classification != "" {
				body["classification"] = s.Classification
			}
			if len(s.ShareWith) > 0 {
				body["share_with"] = s.ShareWith
			}
			_, err = post("/v1/cases/"+id+"/events", s.As, body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
