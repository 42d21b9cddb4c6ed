package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/transparency"
)

// TestEveryCallLeavesOneAccessRecord makes one call of every route, allowed
// and refused, and checks that each left exactly one access record, already
// durable when the answer arrived (the journal's length only counts durable
// records), with the call's action, decision and status.
func TestEveryCallLeavesOneAccessRecord(t *testing.T) {
	h := startTestHub(t, t.TempDir())
	id := h.openCase("P-2026-0001")
	if a := h.as(psychologist, "POST", "/v1/cases/"+id+"/events", "", riskAssessment()); a.status != http.StatusCreated {
		t.Fatalf("risk assessment: %d %s", a.status, a.body)
	}
	other := h.openCase("P-2026-0002")
	bad := "bad.token.here"
	cases := []struct {
		name     string
		as       *who
		tok      string
		method   string
		path     string
		purpose  string
		body     any
		status   int
		action   string
		decision string
	}{
		{"case opened", &caseworker, "", "POST", "/v1/cases", "", map[string]any{"subject_ref": "P-3", "target_group": "returnee"}, 201, "case.open", "allow"},
		{"case refused to a municipality", &coordinator, "", "POST", "/v1/cases", "", map[string]any{"subject_ref": "P-4", "target_group": "returnee"}, 403, "case.open", "deny"},
		{"invalid case refused", &caseworker, "", "POST", "/v1/cases", "", map[string]any{"subject_ref": "P-5"}, 400, "case.open", "deny"},
		{"event appended", &caseworker, "", "POST", "/v1/cases/" + id + "/events", "", needsAssessment(), 201, "event.append", "allow"},
		{"event refused to an unseen case", &mentor, "", "POST", "/v1/cases/" + id + "/events", "", needsAssessment(), 404, "event.append", "deny"},
		{"stale version conflicts", &caseworker, "", "POST", "/v1/cases/" + id + "/events", "", map[string]any{"type": "NeedsAssessmentRecorded", "expected_version": 1, "data": needsAssessment()["data"]}, 409, "event.append", "deny"},
		{"cases listed", &caseworker, "", "GET", "/v1/cases", "case-management", nil, 200, "case.list", "allow"},
		{"case read", &caseworker, "", "GET", "/v1/cases/" + id, "case-management", nil, 200, "case.read", "allow"},
		{"unseen case is not found", &coordinator, "", "GET", "/v1/cases/" + id, "reintegration", nil, 404, "case.read", "deny"},
		{"read without purpose", &caseworker, "", "GET", "/v1/cases/" + id, "", nil, 400, "case.read", "deny"},
		{"purpose refused", &analyst, "", "GET", "/v1/cases/" + id, "research", nil, 403, "case.read", "deny"},
		{"section read", &caseworker, "", "GET", "/v1/cases/" + id + "/sections/risk", "case-management", nil, 200, "section.read", "allow"},
		{"section refused", &analyst, "", "GET", "/v1/cases/" + id + "/sections/needs", "risk-management", nil, 403, "section.read", "deny"},
		{"events read", &caseworker, "", "GET", "/v1/cases/" + id + "/events", "case-management", nil, 200, "events.read", "allow"},
		{"break glass invoked", &analyst, "", "POST", "/v1/cases/" + id + "/break-glass", "", map[string]any{"justification": "imminent threat reported by the police"}, 201, "break-glass", "allow"},
		{"break glass refused", &coordinator, "", "POST", "/v1/cases/" + id + "/break-glass", "", map[string]any{"justification": "imminent threat reported by the police"}, 404, "break-glass", "deny"},
		{"erasure refused to an auditor", &auditor, "", "POST", "/v1/cases/" + other + "/erase", "", map[string]any{"legal_basis": "subject-request"}, 404, "case.erase", "deny"},
		{"erasure with an unknown legal basis refused", &dpo, "", "POST", "/v1/cases/" + other + "/erase", "", map[string]any{"legal_basis": "GDPR art. 17"}, 400, "case.erase", "deny"},
		{"erasure requested", &dpo, "", "POST", "/v1/cases/" + other + "/erase", "", map[string]any{"legal_basis": "subject-request", "reference": "DPO-2026-12"}, 202, "case.erase", "allow"},
		{"erasure confirmation refused to its requester", &dpo, "", "POST", "/v1/erasures/{request}/confirm", "", map[string]any{}, 403, "erasure.confirm", "deny"},
		{"erasure register listed", &dpo, "", "GET", "/v1/erasures", "oversight", nil, 200, "erasure.list", "allow"},
		{"case erased", &secondDPO, "", "POST", "/v1/erasures/{request}/confirm", "", map[string]any{}, 200, "erasure.confirm", "allow"},
		{"erased case is gone", &caseworker, "", "GET", "/v1/cases/" + other + "/sections/profile", "case-management", nil, 410, "section.read", "deny"},
		{"audit records listed", &auditor, "", "GET", "/v1/audit/records?limit=5", "oversight", nil, 200, "audit.records", "allow"},
		{"audit records refused", &caseworker, "", "GET", "/v1/audit/records", "case-management", nil, 403, "audit.records", "deny"},
		{"bad audit filter", &auditor, "", "GET", "/v1/audit/records?decision=maybe", "oversight", nil, 400, "audit.records", "deny"},
		{"checkpoint", &auditor, "", "GET", "/v1/audit/checkpoint", "oversight", nil, 200, "audit.checkpoint", "allow"},
		{"inclusion proof", &auditor, "", "GET", "/v1/audit/proofs/inclusion?index=0&size=2", "oversight", nil, 200, "audit.proofs", "allow"},
		{"inclusion proof beyond the log", &auditor, "", "GET", "/v1/audit/proofs/inclusion?index=0&size=100000", "oversight", nil, 400, "audit.proofs", "deny"},
		{"consistency proof", &auditor, "", "GET", "/v1/audit/proofs/consistency?from=1&to=3", "oversight", nil, 200, "audit.proofs", "allow"},
		{"consistency proof reversed", &auditor, "", "GET", "/v1/audit/proofs/consistency?from=3&to=1", "oversight", nil, 400, "audit.proofs", "deny"},
		{"practice statistics", &researcher, "", "GET", "/v1/stats/practices", "research", nil, 200, "stats", "allow"},
		{"breakdowns", &researcher, "", "GET", "/v1/stats/breakdowns", "research", nil, 200, "stats", "allow"},
		{"statistics refused", &mentor, "", "GET", "/v1/stats/practices", "reintegration", nil, 403, "stats", "deny"},
		{"no token is unauthorized", nil, "", "GET", "/v1/cases/" + id, "case-management", nil, 401, "case.read", "deny"},
		{"bad token is unauthorized", nil, bad, "GET", "/v1/audit/records", "oversight", nil, 401, "audit.records", "deny"},
	}
	var request string // the last erasure request's id, for "{request}" in paths
	for _, c := range cases {
		t.Run(c.name+" leaves one record", func(t *testing.T) {
			before := len(h.records())
			tok := c.tok
			if c.as != nil {
				tok = token(t, h.dir, *c.as)
			}
			a := call(t, h.base, c.method, strings.ReplaceAll(c.path, "{request}", request), tok, c.purpose, c.body)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if a.status == 202 {
				var ans struct {
					RequestID string `json:"request_id"`
				}
				if json.Unmarshal(a.body, &ans) != nil || ans.RequestID == "" {
					t.Fatalf("an erasure request without its id: %s", a.body)
				}
				request = ans.RequestID
			}
			recs := h.records()
			if got := len(recs) - before; got != 1 {
				t.Fatalf("%d new access records, want 1", got)
			}
			r := recs[len(recs)-1]
			if r.Action != c.action || r.Decision != c.decision || r.Status != c.status {
				t.Errorf("record %s/%s/%d, want %s/%s/%d", r.Action, r.Decision, r.Status, c.action, c.decision, c.status)
			}
			if got := a.header.Get("X-Request-Id"); r.RequestID != got {
				t.Errorf("record request id %q, answer's %q", r.RequestID, got)
			}
		})
	}
	t.Run("openapi leaves no record", func(t *testing.T) {
		before := len(h.records())
		if a := call(t, h.base, "GET", "/v1/openapi.json", "", "", nil); a.status != 200 {
			t.Fatalf("status %d", a.status)
		}
		if got := len(h.records()) - before; got != 0 {
			t.Errorf("%d new access records, want 0", got)
		}
	})
}

// TestAuditorFindsBreakGlassAndDenials lists, through the API and with paging,
// every break-glass use and every denial of one user, and compares them with
// the access log read directly.
func TestAuditorFindsBreakGlassAndDenials(t *testing.T) {
	h := startTestHub(t, t.TempDir())
	id := h.openCase("P-2026-0007")
	h.as(caseworker, "POST", "/v1/cases/"+id+"/events", "", needsAssessment())
	for i := range 3 {
		h.as(coordinator, "GET", "/v1/cases/"+id, "reintegration", nil)                          // denied: no consent
		h.as(coordinator, "GET", "/v1/cases/"+id, "research", nil)                               // denied: purpose
		h.as(caseworker, "GET", fmt.Sprintf("/v1/cases/%s?i=%d", id, i), "case-management", nil) // allowed
	}
	if a := h.as(analyst, "GET", "/v1/cases/"+id+"/sections/needs", "risk-management", nil); a.status != 403 {
		t.Fatalf("needs before break-glass: %d", a.status)
	}
	if a := h.as(analyst, "POST", "/v1/cases/"+id+"/break-glass", "", map[string]any{"justification": "credible threat reported this morning"}); a.status != 201 {
		t.Fatalf("break-glass: %d %s", a.status, a.body)
	}
	for range 2 {
		if a := h.as(analyst, "GET", "/v1/cases/"+id+"/sections/needs", "risk-management", nil); a.status != 200 {
			t.Fatalf("needs under break-glass: %d %s", a.status, a.body)
		}
	}
	all := h.records()

	list := func(t *testing.T, query string) []uint64 {
		t.Helper()
		var got []uint64
		cursor := ""
		for page := 0; ; page++ {
			q := query + "&limit=2"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			a := h.as(auditor, "GET", "/v1/audit/records?"+q, "oversight", nil)
			if a.status != 200 {
				t.Fatalf("%s: %d %s", q, a.status, a.body)
			}
			var out struct {
				Items      []accesslog.Record `json:"items"`
				NextCursor *string            `json:"next_cursor"`
			}
			a.decode(t, &out)
			for _, r := range out.Items {
				got = append(got, r.Index)
			}
			if out.NextCursor == nil {
				return got
			}
			cursor = *out.NextCursor
			if page > 100 {
				t.Fatal("paging does not end")
			}
		}
	}
	want := func(keep func(r accesslog.Record) bool) []uint64 {
		var out []uint64
		for _, r := range all {
			if keep(r) {
				out = append(out, r.Index)
			}
		}
		return out
	}

	t.Run("every break-glass use is listed", func(t *testing.T) {
		got := list(t, "break_glass=true")
		w := want(func(r accesslog.Record) bool { return r.BreakGlass })
		if len(w) != 3 || !slices.Equal(got, w) {
			t.Errorf("got %v, want %v (the invocation and two reads)", got, w)
		}
	})
	t.Run("every denial of a user is listed", func(t *testing.T) {
		got := list(t, "sub="+coordinator.sub+"&decision=deny")
		w := want(func(r accesslog.Record) bool { return r.Sub == coordinator.sub && r.Decision == "deny" })
		if len(w) != 6 || !slices.Equal(got, w) {
			t.Errorf("got %v, want %v", got, w)
		}
	})
	t.Run("denials of an agency are listed", func(t *testing.T) {
		got := list(t, "agency=intelligence-service&decision=deny")
		w := want(func(r accesslog.Record) bool { return r.Agency == "intelligence-service" && r.Decision == "deny" })
		if len(w) != 1 || !slices.Equal(got, w) {
			t.Errorf("got %v, want %v", got, w)
		}
	})
	t.Run("the accesses to a case in a time window are listed", func(t *testing.T) {
		from := all[3].Time.UTC().Truncate(1e9)
		got := list(t, "case_id="+id+"&from="+url.QueryEscape(from.Format("2006-01-02T15:04:05Z07:00")))
		w := want(func(r accesslog.Record) bool { return r.CaseID == id && !r.Time.Before(from) })
		if !slices.Equal(got, w) {
			t.Errorf("got %v, want %v", got, w)
		}
	})
	t.Run("a proof of a listed record verifies against the checkpoint", func(t *testing.T) {
		var cp accesslog.CheckpointView
		h.as(auditor, "GET", "/v1/audit/checkpoint", "oversight", nil).decode(t, &cp)
		if _, err := transparency.OpenCheckpoint([]byte(cp.Note), cp.VerifierKey); err != nil {
			t.Fatalf("checkpoint does not open: %v", err)
		}
		if cp.Size == 0 {
			t.Fatal("empty checkpoint")
		}
		var p accesslog.InclusionView
		a := h.as(auditor, "GET", fmt.Sprintf("/v1/audit/proofs/inclusion?index=%d&size=%d", cp.Size-1, cp.Size), "oversight", nil)
		a.decode(t, &p)
		rec := h.records()[cp.Size-1]
		leaf := rfc6962.DefaultHasher.HashLeaf(rec.Encode())
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.Size, leaf, p.Hashes, cp.RootHash); err != nil {
			t.Errorf("inclusion proof of record %d: %v (root %s)", p.Index, err, base64.StdEncoding.EncodeToString(cp.RootHash))
		}
	})
}
