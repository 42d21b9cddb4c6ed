package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// postAs sends POST target with body as the holder of token, and checks
// that the call left exactly one access record.
func (s *fuzzServer) postAs(t *testing.T, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	before, _ := s.access.Len(context.Background())
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	if after, _ := s.access.Len(context.Background()); after != before+1 {
		t.Errorf("POST %s (%d) left %d access records, want 1", target, w.Code, after-before)
	}
	return w
}

// TestAuditReviewRoutes checks the translation of the auditor's review
// endpoints (docs/api.md, "Audit"): their parameters, the problems naming
// them, and their answers' shapes. test/auditreview_test.go walks them on a
// running hub with break-glass grants.
func TestAuditReviewRoutes(t *testing.T) {
	s := newFuzzServer(t)
	records := func(t *testing.T, r *httptest.ResponseRecorder) ([]accesslog.Record, *string) {
		t.Helper()
		s.checkAnswer(t, r, http.StatusOK)
		var page struct {
			Items      []accesslog.Record `json:"items"`
			NextCursor *string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
			t.Fatalf("%v: %s", err, r.Body)
		}
		return page.Items, page.NextCursor
	}

	t.Run("records newest first, by action", func(t *testing.T) {
		n, _ := s.access.Len(context.Background())
		latest, next := records(t, s.get(t, "/v1/audit/records?order=desc&limit=2", s.auditor, "oversight"))
		if len(latest) != 2 || latest[0].Index != n-1 || latest[1].Index != n-2 || next == nil {
			t.Fatalf("order=desc: %+v, next %v; want records %d and %d", latest, next, n-1, n-2)
		}
		older, _ := records(t, s.get(t, "/v1/audit/records?order=desc&limit=1&cursor="+*next, s.auditor, "oversight"))
		if len(older) != 1 || older[0].Index != n-3 {
			t.Errorf("the next page: %+v, want record %d", older, n-3)
		}
		r := s.get(t, "/v1/audit/records?cursor="+*next, s.auditor, "oversight")
		s.checkAnswer(t, r, http.StatusBadRequest)
		checkFieldErrors(t, r, "cursor")
		opened, _ := records(t, s.get(t, "/v1/audit/records?action=case.open", s.auditor, "oversight"))
		if len(opened) != len(s.cases) || opened[0].CaseID != s.cases[0] || opened[1].CaseID != s.cases[1] {
			t.Errorf("action=case.open: %+v, want the openings of %v", opened, s.cases)
		}
		r = s.get(t, "/v1/audit/records?order=up", s.auditor, "oversight")
		s.checkAnswer(t, r, http.StatusBadRequest)
		checkFieldErrors(t, r, "order")
	})

	t.Run("break-glass uses", func(t *testing.T) {
		r := s.get(t, "/v1/audit/break-glass?reviewed=false&limit=5", s.auditor, "oversight")
		s.checkAnswer(t, r, http.StatusOK)
		if got := strings.TrimSpace(r.Body.String()); got != `{"items":[],"next_cursor":null}` {
			t.Errorf("no grants: %s", got)
		}
		for q, field := range map[string]string{"reviewed=yes": "reviewed", "limit=500": "limit", "to=never": "to", "cursor=%21": "cursor"} {
			r := s.get(t, "/v1/audit/break-glass?"+q, s.auditor, "oversight")
			s.checkAnswer(t, r, http.StatusBadRequest)
			checkFieldErrors(t, r, field)
		}
		s.checkAnswer(t, s.get(t, "/v1/audit/break-glass", s.caseworker, "oversight"), http.StatusForbidden)
	})

	t.Run("a review", func(t *testing.T) {
		r := s.postAs(t, "/v1/audit/records/0/review", s.auditor, `{"note":"n"}`)
		s.checkAnswer(t, r, http.StatusNotFound) // record 0 opened a case
		r = s.postAs(t, "/v1/audit/records/0/review", s.auditor, `{"note":7}`)
		s.checkAnswer(t, r, http.StatusBadRequest)
		checkFieldErrors(t, r, "note")
		s.checkAnswer(t, s.postAs(t, "/v1/audit/records/0/review", s.caseworker, `{"note":"n"}`), http.StatusForbidden)
		s.checkAnswer(t, s.postAs(t, "/v1/audit/records/0/review", s.auditor, `{"note":"n"`), http.StatusBadRequest)
	})

	t.Run("the summary", func(t *testing.T) {
		r := s.get(t, "/v1/audit/summary?bucket=week", s.auditor, "oversight")
		s.checkAnswer(t, r, http.StatusOK)
		var sum struct {
			Bucket string `json:"bucket"`
			Series []struct {
				Agency  string `json:"agency"`
				Buckets []struct {
					Reads   int `json:"reads"`
					Denials int `json:"denials"`
				} `json:"buckets"`
			} `json:"series"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &sum); err != nil || sum.Bucket != "week" || len(sum.Series) == 0 {
			t.Fatalf("%v: %s", err, r.Body)
		}
		for q, field := range map[string]string{"bucket=year": "bucket", "from=2000-01-01T00:00:00Z": "bucket", "from=1": "from"} {
			r := s.get(t, "/v1/audit/summary?"+q, s.auditor, "oversight")
			s.checkAnswer(t, r, http.StatusBadRequest)
			checkFieldErrors(t, r, field)
		}
		s.checkAnswer(t, s.get(t, "/v1/audit/summary", s.caseworker, "case-management"), http.StatusForbidden)
	})
}
