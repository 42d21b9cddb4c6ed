package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// ceilingKey names one recorded answer: the caller's Authorization header and
// the path, so that the ceiling answers every request of a run with the very
// bytes the hub answered it with.
func ceilingKey(auth, path string) string { return auth + " " + path }

// serveCeiling is the ceiling of docs/targets.md, P3, run in a child process of
// the harness (the hidden -ceiling-serve flag): a bare Echo endpoint on the
// hub's route that answers each request with the JSON body the hub gave it,
// read from the file bodies (a JSON object of key → base64 body). It is served
// by an http.Server with the hub's settings and does nothing else: no token, no
// policy, no projection, no access record.
func serveCeiling(bodies string) error {
	b, err := os.ReadFile(bodies)
	if err != nil {
		return err
	}
	var answers map[string][]byte
	if err := json.Unmarshal(b, &answers); err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/v1/cases/:id/sections/:section", func(c echo.Context) error {
		body, ok := answers[ceilingKey(c.Request().Header.Get("Authorization"), c.Request().URL.Path)]
		if !ok {
			return c.NoContent(http.StatusNotFound)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ceiling listening addr=%s answers=%d\n", ln.Addr(), len(answers))
	srv := &http.Server{
		Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	return srv.Serve(ln)
}

// startCeiling re-executes the harness as the ceiling server.
func startCeiling(answers map[string][]byte, dir string) (*child, error) {
	b, err := json.Marshal(answers)
	if err != nil {
		return nil, err
	}
	file := dir + "/ceiling-bodies.json"
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild("ceiling", self, "-ceiling-serve", file)
}
