package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaison-hub/liaison/domain"
)

// DemoPersona is one demo identity offered on the console's sign-in page.
type DemoPersona struct {
	Subject string   `json:"sub"`
	Agency  string   `json:"agency"`
	Roles   []string `json:"roles"`
	Label   string   `json:"label"`
	Purpose string   `json:"purpose"`
}

// DemoConfig enables the demo sign-in: development tokens for the listed
// personas, signed with the data directory's development key. Only for a hub
// started with --demo and the development key.
type DemoConfig struct {
	Personas []DemoPersona
	Key      ed25519.PrivateKey
}

// DemoTokenTTL is the lifetime of a token minted by POST /demo/token: a
// working day.
const DemoTokenTTL = 8 * time.Hour

// maxDemoBody bounds the body of POST /demo/token, which holds one subject.
const maxDemoBody = 4 << 10

// demoRoutes registers the demo sign-in endpoints. They touch no case data and
// leave no access record; what the minted token then reads is recorded like
// any other call.
func (s *Server) demoRoutes(e *echo.Echo) {
	e.GET("/demo/personas", s.demoPersonas)
	e.POST("/demo/token", s.demoToken)
}

// demoPersonas answers the configured personas, in their configured order.
func (s *Server) demoPersonas(c echo.Context) error {
	out := make([]DemoPersona, len(s.cfg.Demo.Personas))
	for i, p := range s.cfg.Demo.Personas {
		if p.Roles == nil {
			p.Roles = []string{}
		}
		out[i] = p
	}
	return writeJSON(c, http.StatusOK, out)
}

// demoToken mints a development token for one listed persona, with the
// persona's default purpose as the token's purpose claim. Anything else — a
// subject not listed, a body that is not {"sub": "..."} — is a 400 problem.
func (s *Server) demoToken(c echo.Context) error {
	req := c.Request()
	if ct := req.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return s.writeProblem(c, problemOf(domain.Invalid("the body must be JSON",
			domain.FieldError{Field: "Content-Type", Message: "must be application/json"})))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxDemoBody+1))
	if err != nil || len(body) > maxDemoBody {
		return s.writeProblem(c, problemOf(domain.Invalid("the body could not be read")))
	}
	var in struct {
		Sub string `json:"sub"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return s.writeProblem(c, problemOf(domain.Invalid("the body must be {\"sub\": \"...\"}",
			domain.FieldError{Field: "sub", Message: "is required"})))
	}
	var persona *DemoPersona
	for i := range s.cfg.Demo.Personas {
		if s.cfg.Demo.Personas[i].Subject == in.Sub {
			persona = &s.cfg.Demo.Personas[i]
			break
		}
	}
	if persona == nil {
		return s.writeProblem(c, problemOf(domain.Invalid("not a demo identity",
			domain.FieldError{Field: "sub", Message: "must be the sub of one of GET /demo/personas"})))
	}
	now := s.now()
	tok, err := MintDevToken(s.cfg.Demo.Key, TokenRequest{
		Subject: persona.Subject, Agency: persona.Agency, Roles: persona.Roles,
		Purpose: persona.Purpose, TTL: DemoTokenTTL, Now: now,
	})
	if err != nil {
		s.log.Error("demo token not minted", "err", err)
		return s.writeProblem(c, problemOf(domain.Internal(err)))
	}
	return writeJSON(c, http.StatusOK, struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}{tok, domain.FormatTime(now.Add(DemoTokenTTL))})
}
