package liaison_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Identities of the four-eyes erasure test.
var (
	e4DPOA       = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "e4-dpo-anna"}
	e4DPOB       = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "e4-dpo-ben"}
	e4Auditor    = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "e4-auditor"}
	e4Researcher = identity{Agency: "research-institute", Roles: []string{"researcher"}, Sub: "e4-researcher"}
	e4Caseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "e4-pc"}
	e4Manager    = identity{Agency: "prison-service", Roles: []string{"manager"}, Sub: "e4-pm"}
	e4Probation  = identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "e4-po"}
	e4Intel      = identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "e4-ia"}
	e4Municipal  = identity{Agency: "municipality", Roles: []string{"coordinator"}, Sub: "e4-mc"}
	e4Exit       = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "e4-ng"}
	e4Family     = identity{Agency: "family-support", Roles: []string{"counsellor"}, Sub: "e4-fs"}
)

// e4Purpose is the purpose each caller states, writes included: a hub that
// asks one of the erasure calls must not refuse them for want of it.
func e4Purpose(id identity) string {
	switch id.Agency {
	case "oversight-board":
		return "oversight"
	case "research-institute":
		return "research"
	case "prison-service", "probation-service":
		return "case-management"
	case "intelligence-service":
		return "risk-management"
	}
	return "reintegration"
}

// e4Erasure is one item of GET /v1/erasures (design F).
type e4Erasure struct {
	RequestID   string `json:"request_id"`
	CaseID      string `json:"case_id"`
	LegalBasis  string `json:"legal_basis"`
	Reference   string `json:"reference"`
	RequestedBy struct {
		Sub    string `json:"sub"`
		Agency string `json:"agency"`
	} `json:"requested_by"`
	RequestedAt string `json:"requested_at"`
	ExpiresAt   string `json:"expires_at"`
	Status      string `json:"status"`
	DecidedBy   *struct {
		Sub    string `json:"sub"`
		Agency string `json:"agency"`
	} `json:"decided_by"`
}

// e4Record is an access record with the fields of issue 13 (design A).
type e4Record struct {
	RequestID     string `json:"request_id"`
	Issuer        string `json:"issuer"`
	Sub           string `json:"sub"`
	Action        string `json:"action"`
	CaseID        string `json:"case_id"`
	Decision      string `json:"decision"`
	Status        int    `json:"status"`
	BreakGlass    bool   `json:"break_glass"`
	Justification string `json:"justification"`
	LegalBasis    string `json:"legal_basis"`
	Reference     string `json:"reference"`
}

// TestErasure4Eyes is docs/targets.md, R10, and issue 13's decisions F, E and A
// on a running hub: a data-protection officer requests an erasure (202), a
// different one confirms it (only then is the case erased: 410 to those who
// could see it, 404 to the others, as for an unknown id), either may cancel it;
// nobody but a dpo learns anything from the erasure endpoints, and the erasure
// endpoint of a case answers as for an unknown id to whoever cannot see the
// case. The access records keep the legal basis, the reference, the break-glass
// justification and every token's issuer. Expiry after 7 days is cmd/liaison's
// TestErasureRequestExpiresAfterSevenDays (a controllable clock).
func TestErasure4Eyes(t *testing.T) {
	start := time.Now()
	h := startHub(t, "")
	var requests int
	ask := func(t *testing.T, method, path string, id *identity, purpose string, body any) response {
		t.Helper()
		requests++
		return askHub(t, h, method, path, id, purpose, body)
	}
	for _, id := range []identity{e4DPOA, e4DPOB, e4Auditor, e4Researcher, e4Caseworker, e4Manager, e4Probation, e4Intel, e4Municipal, e4Exit, e4Family} {
		h.token(id)
	}
	open := func(ref string) string {
		r := ask(t, "POST", "/v1/cases", &e4Caseworker, "", map[string]any{"subject_ref": ref, "target_group": "returnee", "gender": "female", "regime": "separation"})
		if r.Status != http.StatusCreated {
			t.Fatalf("open case: %d %s", r.Status, r.Body)
		}
		return r.json(t)["case_id"].(string)
	}
	appendAs := func(caseID string, as identity, typ string, data any) {
		r := ask(t, "POST", "/v1/cases/"+caseID+"/events", &as, "", map[string]any{"type": typ, "data": data})
		if r.Status != http.StatusCreated {
			t.Fatalf("append %s as %s: %d %s", typ, as.Sub, r.Status, r.Body)
		}
	}
	const justification = "E4 test: staff report an imminent threat, review needed now"
	const reference = "DPA-2026-0042"

	// C1 is erased; the exit worker could see it until its consent was
	// withdrawn, family support can see it when it is erased, the
	// municipality never could.
	c1 := open("E4-2026-0001")
	appendAs(c1, e4Caseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo", "family-support"}})
	appendAs(c1, e4Caseworker, "InterventionRecorded", map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": "E4-MARKER-CONTENT"})
	if r := ask(t, "GET", "/v1/cases/"+c1, &e4Exit, "reintegration", nil); r.Status != http.StatusOK {
		t.Fatalf("the exit worker does not see the case it has consent for: %d %s", r.Status, r.Body)
	}
	appendAs(c1, e4Caseworker, "ConsentWithdrawn", map[string]any{"organisations": []string{"exit-ngo"}})
	if r := ask(t, "GET", "/v1/cases/"+c1, &e4Exit, "reintegration", nil); r.Status != http.StatusNotFound {
		t.Fatalf("the exit worker still sees the case after the withdrawal: %d %s", r.Status, r.Body)
	}
	bg := ask(t, "POST", "/v1/cases/"+c1+"/break-glass", &e4Manager, "", map[string]string{"justification": justification})
	if bg.Status != http.StatusCreated {
		t.Fatalf("break-glass: %d %s", bg.Status, bg.Body)
	}
	c2 := open("E4-2026-0002") // requested, cancelled, requested again, cancelled again
	c3 := open("E4-2026-0003") // its request stays pending
	c4 := open("E4-2026-0004") // nobody but the prison may ask to erase it
	c5 := open("E4-2026-0005") // refused requests only
	unknown := "00000000-0000-4000-8000-00000000e4e4"

	var r1, r2, r3, r4 string   // request ids
	var r1Ask, r1Confirm string // X-Request-Id of the request and of its confirmation
	erase := func(t *testing.T, caseID string, as identity, basis, ref string) response {
		t.Helper()
		body := map[string]string{"legal_basis": basis}
		if ref != "" {
			body["reference"] = ref
		}
		return ask(t, "POST", "/v1/cases/"+caseID+"/erase", &as, e4Purpose(as), body)
	}
	// accepted checks a 202 answer to an erasure request and returns its id.
	accepted := func(t *testing.T, r response, caseID string) string {
		t.Helper()
		if r.Status != http.StatusAccepted {
			t.Fatalf("erasure request: %d, want 202 (pending a second officer): %s", r.Status, r.Body)
		}
		var out struct {
			RequestID string `json:"request_id"`
			CaseID    string `json:"case_id"`
			Status    string `json:"status"`
			ExpiresAt string `json:"expires_at"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || out.RequestID == "" {
			t.Fatalf("erasure request: no request_id in %s", r.Body)
		}
		if out.CaseID != caseID || out.Status != "pending" {
			t.Errorf("erasure request answers case %q status %q, want %q pending: %s", out.CaseID, out.Status, caseID, r.Body)
		}
		exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
		want := time.Now().Add(7 * 24 * time.Hour)
		if err != nil || exp.Before(want.Add(-5*time.Minute)) || exp.After(want.Add(5*time.Minute)) {
			t.Errorf("erasure request expires_at %q, want about %s (7 days)", out.ExpiresAt, want.UTC().Format(time.RFC3339))
		}
		return out.RequestID
	}
	decide := func(t *testing.T, reqID, verb string, as identity) response {
		t.Helper()
		return ask(t, "POST", "/v1/erasures/"+url.PathEscape(reqID)+"/"+verb, &as, e4Purpose(as), nil)
	}
	decided := func(t *testing.T, r response, reqID, caseID, status string) {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d, want 200: %s", status, r.Status, r.Body)
		}
		var out struct {
			RequestID string `json:"request_id"`
			CaseID    string `json:"case_id"`
			Status    string `json:"status"`
		}
		if json.Unmarshal(r.Body, &out) != nil || out.RequestID != reqID || out.CaseID != caseID || out.Status != status {
			t.Errorf("answer %s, want request %s of case %s %s", r.Body, reqID, caseID, status)
		}
	}
	reads := func(t *testing.T, caseID string, as identity, purpose string, want int) {
		t.Helper()
		for _, p := range []string{"", "/sections/profile", "/events"} {
			if r := ask(t, "GET", "/v1/cases/"+caseID+p, &as, purpose, nil); r.Status != want {
				t.Errorf("GET %s as %s (%s): %d, want %d: %.200s", p, as.Sub, as.Agency, r.Status, want, r.Body)
			}
		}
	}
	need := func(t *testing.T, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if id == "" {
				t.Fatal("a request this step needs was not made: see the failure above")
			}
		}
	}

	t.Run("a request names a legal basis code and a reference of at most 200 characters", func(t *testing.T) {
		for _, c := range []struct{ basis, ref, field string }{
			{"GDPR art. 17 request", "", "legal_basis"},
			{"", "DPA-1", "legal_basis"},
			{"subject-request", strings.Repeat("R", 201), "reference"},
			{"other", "", "reference"},
		} {
			r := erase(t, c5, e4DPOA, c.basis, c.ref)
			a := wireAnswer{wireRequest: wireRequest{name: "erase " + c.basis, method: "POST"}, status: r.Status, header: r.Header, body: r.Body}
			if r.Status != http.StatusBadRequest {
				t.Errorf("legal_basis %q reference of %d characters: %d, want 400: %s", c.basis, len(c.ref), r.Status, r.Body)
				continue
			}
			checkProblem(t, a, c.field)
		}
		reads(t, c5, e4Caseworker, "case-management", http.StatusOK)
	})

	t.Run("dpo A requests an erasure: 202 with a request id, expiring in 7 days", func(t *testing.T) {
		r := erase(t, c1, e4DPOA, "subject-request", reference)
		r1Ask = r.Header.Get("X-Request-Id")
		r1 = accepted(t, r, c1)
		reads(t, c1, e4Caseworker, "case-management", http.StatusOK)
	})

	t.Run("a second request while one is pending: 409", func(t *testing.T) {
		need(t, r1)
		for _, as := range []identity{e4DPOA, e4DPOB} {
			if r := erase(t, c1, as, "court-order", "COURT-7"); r.Status != http.StatusConflict {
				t.Errorf("second request by %s: %d, want 409: %s", as.Sub, r.Status, r.Body)
			}
		}
	})

	t.Run("the requester confirming its own request: 403, nothing erased", func(t *testing.T) {
		need(t, r1)
		if r := decide(t, r1, "confirm", e4DPOA); r.Status != http.StatusForbidden {
			t.Errorf("confirm by the requester: %d, want 403: %s", r.Status, r.Body)
		}
		// The same person (organisation and sub) with more roles is still
		// the requester.
		same := identity{Agency: e4DPOA.Agency, Roles: []string{"dpo", "auditor"}, Sub: e4DPOA.Sub}
		if r := decide(t, r1, "confirm", same); r.Status != http.StatusForbidden {
			t.Errorf("confirm by the requester under other roles: %d, want 403: %s", r.Status, r.Body)
		}
		reads(t, c1, e4Caseworker, "case-management", http.StatusOK)
		if r := ask(t, "GET", "/v1/cases/"+c1+"/sections/interventions", &e4Caseworker, "case-management", nil); !bytes.Contains(r.Body, []byte("E4-MARKER-CONTENT")) {
			t.Errorf("the content is gone before any confirmation: %d %.300s", r.Status, r.Body)
		}
	})

	t.Run("dpo B confirms: 410 to those who could see the case, 404 to the others as for an unknown id", func(t *testing.T) {
		need(t, r1)
		r := decide(t, r1, "confirm", e4DPOB)
		r1Confirm = r.Header.Get("X-Request-Id")
		decided(t, r, r1, c1, "confirmed")
		reads(t, c1, e4Caseworker, "case-management", http.StatusGone)
		reads(t, c1, e4Manager, "case-management", http.StatusGone)
		reads(t, c1, e4Probation, "case-management", http.StatusGone)
		reads(t, c1, e4Intel, "risk-management", http.StatusGone)
		reads(t, c1, e4Family, "reintegration", http.StatusGone)
		// The municipality never could see it; the exit worker's consent was
		// withdrawn before the erasure: for them it never existed.
		for _, as := range []identity{e4Municipal, e4Exit} {
			for _, p := range []string{"", "/sections/profile", "/events"} {
				got := ask(t, "GET", "/v1/cases/"+c1+p, &as, "reintegration", nil)
				none := ask(t, "GET", "/v1/cases/"+unknown+p, &as, "reintegration", nil)
				if got.Status != http.StatusNotFound || !bytes.Equal(niNormalise(got.Body, got.Header.Get("X-Request-Id")), niNormalise(none.Body, none.Header.Get("X-Request-Id"))) {
					t.Errorf("GET %s of the erased case as %s: %d %s; for an unknown id: %d %s", p, as.Agency, got.Status, got.Body, none.Status, none.Body)
				}
			}
		}
		if r := ask(t, "GET", "/v1/cases?limit=500", &e4Caseworker, "case-management", nil); bytes.Contains(r.Body, []byte(c1)) {
			t.Error("the erased case is still listed")
		}
	})

	t.Run("erasing an erased case: 410 to the dpo; its confirmed request cannot be cancelled: 409", func(t *testing.T) {
		need(t, r1)
		if r := erase(t, c1, e4DPOA, "subject-request", reference); r.Status != http.StatusGone {
			t.Errorf("erase after erasure: %d, want 410: %s", r.Status, r.Body)
		}
		if r := decide(t, r1, "cancel", e4DPOA); r.Status != http.StatusConflict {
			t.Errorf("cancel a confirmed request: %d, want 409: %s", r.Status, r.Body)
		}
	})

	t.Run("cancel: 200; a cancelled request cannot be confirmed or cancelled again: 409", func(t *testing.T) {
		r2 = accepted(t, erase(t, c2, e4DPOA, "unlawful-processing", "DPA-2026-0043"), c2)
		decided(t, decide(t, r2, "cancel", e4DPOB), r2, c2, "cancelled")
		if r := decide(t, r2, "confirm", e4DPOB); r.Status != http.StatusConflict {
			t.Errorf("confirm a cancelled request: %d, want 409: %s", r.Status, r.Body)
		}
		if r := decide(t, r2, "cancel", e4DPOA); r.Status != http.StatusConflict {
			t.Errorf("cancel a cancelled request: %d, want 409: %s", r.Status, r.Body)
		}
		reads(t, c2, e4Caseworker, "case-management", http.StatusOK)
		// Nothing is pending any more: a new request is taken, and its own
		// requester may cancel it.
		r3 = accepted(t, erase(t, c2, e4DPOB, "other", "Court of Appeal file 2026/118"), c2)
		decided(t, decide(t, r3, "cancel", e4DPOB), r3, c2, "cancelled")
		reads(t, c2, e4Caseworker, "case-management", http.StatusOK)
	})

	t.Run("an unknown request id: 404 to a dpo", func(t *testing.T) {
		for _, id := range []string{"00000000-0000-4000-8000-0000000000aa", "not-a-request"} {
			for _, verb := range []string{"confirm", "cancel"} {
				if r := decide(t, id, verb, e4DPOB); r.Status != http.StatusNotFound {
					t.Errorf("%s of %q: %d, want 404: %s", verb, id, r.Status, r.Body)
				}
			}
		}
	})

	t.Run("a request that stays pending", func(t *testing.T) {
		r4 = accepted(t, erase(t, c3, e4DPOA, "retention-expired", "RET-2026-9"), c3)
	})

	t.Run("auditor, researcher and prison caseworker: 403 from every erasure endpoint whatever the id", func(t *testing.T) {
		// A pending, a confirmed and a cancelled request (those that could be
		// made), an unknown and a malformed id.
		ids := []string{r4, r1, r2, "00000000-0000-4000-8000-0000000000bb", "not-a-request"}
		for _, as := range []identity{e4Auditor, e4Researcher, e4Caseworker} {
			for _, verb := range []string{"confirm", "cancel"} {
				var first []byte
				for i, id := range ids {
					if id == "" {
						continue
					}
					r := decide(t, id, verb, as)
					body := niNormalise(r.Body, r.Header.Get("X-Request-Id"))
					if r.Status != http.StatusForbidden {
						t.Errorf("%s of request %d as %s: %d, want 403: %s", verb, i, as.Sub, r.Status, r.Body)
					}
					if first == nil {
						first = body
					} else if !bytes.Equal(first, body) {
						t.Errorf("%s as %s: the answer for request %d differs from the first one: %s / %s", verb, as.Sub, i, first, body)
					}
				}
			}
			for _, purpose := range []string{"oversight", "research", "case-management"} {
				if r := ask(t, "GET", "/v1/erasures", &as, purpose, nil); r.Status != http.StatusForbidden {
					t.Errorf("GET /v1/erasures as %s for %s: %d, want 403: %.300s", as.Sub, purpose, r.Status, r.Body)
				}
			}
		}
		reads(t, c3, e4Caseworker, "case-management", http.StatusOK)
	})

	t.Run("GET /v1/erasures lists the requests newest first with their status", func(t *testing.T) {
		need(t, r1, r2, r3, r4)
		list := func(query string) []e4Erasure {
			t.Helper()
			r := ask(t, "GET", "/v1/erasures"+query, &e4DPOB, "oversight", nil)
			var out struct {
				Items []e4Erasure `json:"items"`
			}
			if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil {
				t.Fatalf("GET /v1/erasures%s: %d %s", query, r.Status, r.Body)
			}
			return out.Items
		}
		items := list("")
		var got []string
		byID := map[string]e4Erasure{}
		for _, it := range items {
			got = append(got, it.RequestID)
			byID[it.RequestID] = it
		}
		if want := []string{r4, r3, r2, r1}; !slices.Equal(got, want) {
			t.Errorf("requests %v, want newest first %v", got, want)
		}
		for _, w := range []struct {
			id, caseID, status, basis, ref, by, decidedBy string
		}{
			{r4, c3, "pending", "retention-expired", "RET-2026-9", e4DPOA.Sub, ""},
			{r3, c2, "cancelled", "other", "Court of Appeal file 2026/118", e4DPOB.Sub, e4DPOB.Sub},
			{r2, c2, "cancelled", "unlawful-processing", "DPA-2026-0043", e4DPOA.Sub, e4DPOB.Sub},
			{r1, c1, "confirmed", "subject-request", reference, e4DPOA.Sub, e4DPOB.Sub},
		} {
			it, ok := byID[w.id]
			if !ok {
				continue
			}
			if it.CaseID != w.caseID || it.Status != w.status || it.LegalBasis != w.basis || it.Reference != w.ref ||
				it.RequestedBy.Sub != w.by || it.RequestedBy.Agency != "oversight-board" || it.RequestedAt == "" || it.ExpiresAt == "" {
				t.Errorf("request %s: %+v, want case %s %s basis %s reference %q requested by %s", w.id, it, w.caseID, w.status, w.basis, w.ref, w.by)
			}
			if w.decidedBy != "" && (it.DecidedBy == nil || it.DecidedBy.Sub != w.decidedBy) {
				t.Errorf("request %s (%s): decided_by %+v, want %s", w.id, w.status, it.DecidedBy, w.decidedBy)
			}
		}
		if p := list("?status=pending"); len(p) != 1 || p[0].RequestID != r4 {
			t.Errorf("?status=pending lists %+v, want only %s", p, r4)
		}
		if p := list("?case_id=" + c2); len(p) != 2 || p[0].RequestID != r3 || p[1].RequestID != r2 {
			t.Errorf("?case_id=%s lists %+v, want %s then %s", c2, p, r3, r2)
		}
		if r := ask(t, "GET", "/v1/erasures", &e4DPOB, "research", nil); r.Status != http.StatusForbidden {
			t.Errorf("GET /v1/erasures as a dpo for research: %d, want 403", r.Status)
		}
	})

	t.Run("POST erase of a case the caller cannot see answers as for an unknown id", func(t *testing.T) {
		for _, as := range []identity{e4Auditor, e4Researcher, e4Municipal} {
			got := erase(t, c4, as, "subject-request", "")
			none := erase(t, unknown, as, "subject-request", "")
			if got.Status != http.StatusNotFound || none.Status != http.StatusNotFound {
				t.Errorf("erase as %s: %d for an existing case, %d for an unknown one; want 404 for both", as.Sub, got.Status, none.Status)
			}
			if a, b := niNormalise(got.Body, got.Header.Get("X-Request-Id")), niNormalise(none.Body, none.Header.Get("X-Request-Id")); !bytes.Equal(a, b) {
				t.Errorf("erase as %s: the existing case answers %s, an unknown one %s", as.Sub, a, b)
			}
		}
		if r := erase(t, c4, e4Caseworker, "subject-request", ""); r.Status != http.StatusForbidden {
			t.Errorf("erase as the prison caseworker who sees the case: %d, want 403: %s", r.Status, r.Body)
		}
		if r := erase(t, unknown, e4Caseworker, "subject-request", ""); r.Status != http.StatusNotFound {
			t.Errorf("erase of an unknown case as the prison caseworker: %d, want 404: %s", r.Status, r.Body)
		}
		reads(t, c4, e4Caseworker, "case-management", http.StatusOK)
	})

	t.Run("access records keep the legal basis, the reference, the justification and the issuer", func(t *testing.T) {
		r := ask(t, "GET", "/v1/audit/records?limit=1000&case_id="+c1, &e4Auditor, "oversight", nil)
		var page struct {
			Items []e4Record `json:"items"`
		}
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &page) != nil || len(page.Items) == 0 {
			t.Fatalf("records of the erased case: %d %.500s", r.Status, r.Body)
		}
		byID := map[string]e4Record{}
		for _, rec := range page.Items {
			byID[rec.RequestID] = rec
			if rec.Issuer != "liaison-dev" {
				t.Errorf("record %s (%s by %s) has issuer %q, want liaison-dev", rec.RequestID, rec.Action, rec.Sub, rec.Issuer)
			}
		}
		for _, w := range []struct{ what, reqID string }{{"the erasure request", r1Ask}, {"its confirmation", r1Confirm}} {
			rec, ok := byID[w.reqID]
			switch {
			case w.reqID == "":
				t.Errorf("%s was not made", w.what)
			case !ok:
				t.Errorf("%s (request %s) has no record under case_id %s", w.what, w.reqID, c1)
			case rec.LegalBasis != "subject-request" || rec.Reference != reference:
				t.Errorf("%s: record has legal_basis %q reference %q, want subject-request %q", w.what, rec.LegalBasis, rec.Reference, reference)
			}
		}
		if rec, ok := byID[bg.Header.Get("X-Request-Id")]; !ok || rec.Justification != justification || !rec.BreakGlass {
			t.Errorf("break-glass record %+v (found %v), want the justification %q", rec, ok, justification)
		}
	})
	t.Logf("%d requests in %v", requests, time.Since(start).Round(time.Millisecond))
}
