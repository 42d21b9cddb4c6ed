package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// TestAHubThatIsNotReadyAnswers503Everywhere: while the views have not caught
// up with the log, every call that needs them answers 503 with Retry-After
// (never 500), and leaves its record; /readyz says so too.
func TestAHubThatIsNotReadyAnswers503Everywhere(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "casekeys"), make([]byte, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := policies.New(context.Background(), policies.Default(), policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := api.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	cdc := codec.New(keys)
	access := accesslog.New(st)
	// A projector that is never run: never ready.
	h, err := hub.New(hub.Config{
		Log: st, Projector: projections.New(st, cdc, logger), Codec: cdc, Keys: keys, Policy: policy, Access: access, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Hub: h, Verifier: api.NewVerifier(api.DevKeys(devKey), api.DevIssuer, api.DevAudience, nil), Logger: logger})
	token := func(agency, role string) string {
		tok, err := api.MintDevToken(devKey, api.TokenRequest{Subject: "u-1", Agency: agency, Roles: []string{role}, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	caseID := domain.NewID()
	for _, c := range []struct {
		method, path, agency, role, purpose, body string
	}{
		{"GET", "/v1/cases", "prison-service", "caseworker", "case-management", ""},
		{"GET", "/v1/cases/" + caseID, "prison-service", "caseworker", "case-management", ""},
		{"GET", "/v1/cases/" + caseID + "/sections/risk", "prison-service", "caseworker", "case-management", ""},
		{"GET", "/v1/cases/" + caseID + "/events", "prison-service", "caseworker", "case-management", ""},
		{"POST", "/v1/cases/" + caseID + "/events", "prison-service", "caseworker", "", `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`},
		{"POST", "/v1/cases/" + caseID + "/break-glass", "prison-service", "manager", "", `{"justification":"imminent threat reported by the police"}`},
		{"POST", "/v1/cases/" + caseID + "/erase", "oversight-board", "dpo", "", `{"legal_basis":"subject-request"}`},
		{"POST", "/v1/erasures/" + caseID + "/confirm", "oversight-board", "dpo", "", `{}`},
		{"GET", "/v1/erasures", "oversight-board", "dpo", "oversight", ""},
		{"GET", "/v1/stats/practices", "research-institute", "researcher", "research", ""},
		{"GET", "/v1/stats/breakdowns", "research-institute", "researcher", "research", ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			before, err := access.Len(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+token(c.agency, c.role))
			if c.purpose != "" {
				req.Header.Set("Liaison-Purpose", c.purpose)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, req)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
				t.Errorf("%d (Retry-After %q), want 503 with Retry-After: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			if after, _ := access.Len(context.Background()); after != before+1 {
				t.Errorf("%d access records written, want 1", after-before)
			}
		})
	}
	t.Run("readyz", func(t *testing.T) {
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "case") {
			t.Errorf("readyz: %d %s", w.Code, w.Body)
		}
	})
}
