package liaison_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// arRecord is an access record as GET /v1/audit/records shows it.
type arRecord struct {
	e4Record
	Index   uint64 `json:"index"`
	Agency  string `json:"agency"`
	Section string `json:"section"`
}

// arUse is an item of GET /v1/audit/break-glass.
type arUse struct {
	Record struct {
		Index         uint64 `json:"index"`
		Sub           string `json:"sub"`
		Issuer        string `json:"issuer"`
		Agency        string `json:"agency"`
		CaseID        string `json:"case_id"`
		Justification string `json:"justification"`
		Status        int    `json:"status"`
	} `json:"record"`
	ExpiresAt string `json:"expires_at"`
	Reads     []struct {
		Index    uint64 `json:"index"`
		Action   string `json:"action"`
		Section  string `json:"section"`
		Decision string `json:"decision"`
	} `json:"reads"`
	ReadsTruncated bool      `json:"reads_truncated"`
	Review         *arReview `json:"review"`
}

// arReview is the review of a break-glass use.
type arReview struct {
	Index  uint64 `json:"index"`
	Time   string `json:"time"`
	Sub    string `json:"sub"`
	Agency string `json:"agency"`
	Note   string `json:"note"`
}

// arPage decodes a page of items and its cursor.
func arPage[T any](t *testing.T, r response) ([]T, string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var p struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	if p.NextCursor == nil {
		return p.Items, ""
	}
	return p.Items, *p.NextCursor
}

// arProblem checks that r is a problem of status, naming field when given.
func arProblem(t *testing.T, what string, r response, status int, field string) {
	t.Helper()
	var p struct {
		Status int `json:"status"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if r.Status != status || r.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.Body, &p) != nil || p.Status != status {
		t.Errorf("%s: %d %s, want a problem of %d", what, r.Status, r.Body, status)
		return
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Errorf("%s: %s names not %q", what, r.Body, field)
}

// TestAuditorsReview is the auditor's review backend on a running hub
// (docs/api.md, "Audit"): the access log newest first and by action, the
// break-glass uses with the reads they opened, their review (one access
// record, once), the summary for charts, and the refusals.
func TestAuditorsReview(t *testing.T) {
	h := startHub(t, "")
	start := time.Now()
	caseA := openCase(t, h, prisonCaseworker, "AR-2026-0001")
	caseB := openCase(t, h, prisonCaseworker, "AR-2026-0002")
	for _, id := range []string{caseA, caseB} {
		appendOK(t, h, id, prisonCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []any{map[string]any{"area": "housing", "level": "high"}}}, nil)
	}
	if r := h.do("GET", "/v1/cases/"+caseA+"/sections/needs", &intelAnalyst, "risk-management", nil); r.Status != http.StatusForbidden {
		t.Fatalf("the analyst reads needs without break-glass: %d %s", r.Status, r.Body)
	}
	const justification = "AR test: imminent threat reported, the needs must be known"
	for _, bg := range []struct {
		who  identity
		id   string
		read string
	}{{intelAnalyst, caseA, "risk-management"}, {prisonManager, caseB, "case-management"}} {
		if r := h.do("POST", "/v1/cases/"+bg.id+"/break-glass", &bg.who, "", map[string]string{"justification": justification}); r.Status != http.StatusCreated {
			t.Fatalf("break-glass by %s: %d %s", bg.who.Sub, r.Status, r.Body)
		}
	}
	for range 2 {
		if r := h.do("GET", "/v1/cases/"+caseA+"/sections/needs", &intelAnalyst, "risk-management", nil); r.Status != http.StatusOK {
			t.Fatalf("the analyst under break-glass: %d %s", r.Status, r.Body)
		}
	}
	get := func(path string) response { return h.do("GET", path, &auditor, "oversight", nil) }

	// The records of case A, in log order, then newest first, page by page.
	asc, _ := arPage[arRecord](t, get("/v1/audit/records?limit=1000&case_id="+caseA))
	var desc []arRecord
	for cursor := ""; ; {
		page, next := arPage[arRecord](t, get("/v1/audit/records?order=desc&limit=2&case_id="+caseA+"&cursor="+cursor))
		desc = append(desc, page...)
		if next == "" {
			break
		}
		if len(page) != 2 {
			t.Fatalf("a short page with a next cursor: %d records", len(page))
		}
		cursor = next
	}
	slices.Reverse(desc)
	if len(asc) < 6 || !slices.Equal(asc, desc) {
		t.Fatalf("newest first, reversed:\n%v\nin log order:\n%v", desc, asc)
	}
	var grantA, grantB uint64
	var needsReads []uint64
	for _, r := range asc {
		switch {
		case r.Action == "break-glass":
			grantA = r.Index
		case r.Action == "section.read" && r.Sub == intelAnalyst.Sub && r.BreakGlass:
			needsReads = append(needsReads, r.Index)
		}
	}
	grants, _ := arPage[arRecord](t, get("/v1/audit/records?action=break-glass"))
	if len(grants) != 2 || grants[0].Index != grantA || grants[1].CaseID != caseB || grants[1].Sub != prisonManager.Sub || grants[1].Justification != justification {
		t.Fatalf("?action=break-glass: %+v, want the two grants (A's %d)", grants, grantA)
	}
	grantB = grants[1].Index
	if len(needsReads) != 2 {
		t.Fatalf("the analyst's reads under break-glass: %v", needsReads)
	}

	t.Run("cursors and orders that do not go together are refused", func(t *testing.T) {
		_, ascNext := arPage[arRecord](t, get("/v1/audit/records?limit=1"))
		_, descNext := arPage[arRecord](t, get("/v1/audit/records?limit=1&order=desc"))
		if ascNext == "" || descNext == "" || ascNext == descNext {
			t.Fatalf("cursors %q and %q", ascNext, descNext)
		}
		arProblem(t, "an asc cursor with order=desc", get("/v1/audit/records?order=desc&cursor="+ascNext), 400, "cursor")
		arProblem(t, "a desc cursor in log order", get("/v1/audit/records?cursor="+descNext), 400, "cursor")
		arProblem(t, "a desc cursor with order=asc", get("/v1/audit/records?order=asc&cursor="+descNext), 400, "cursor")
		arProblem(t, "an asc cursor on the break-glass uses", get("/v1/audit/break-glass?cursor="+ascNext), 400, "cursor")
		for _, o := range []string{"DESC", "newest", "%00", "asc,desc"} {
			arProblem(t, "order="+o, get("/v1/audit/records?order="+o), 400, "order")
		}
		latest, _ := arPage[arRecord](t, get("/v1/audit/records?order=desc&limit=1"))
		if len(latest) != 1 || latest[0].Action != "audit.records" || latest[0].Sub != auditor.Sub {
			t.Errorf("the latest record is %+v, want the auditor's query just before", latest)
		}
	})

	t.Run("the break-glass uses, newest first, with their reads", func(t *testing.T) {
		uses, next := arPage[arUse](t, get("/v1/audit/break-glass"))
		if len(uses) != 2 || next != "" || uses[0].Record.Index != grantB || uses[1].Record.Index != grantA {
			t.Fatalf("%+v (next %q), want grants %d and %d", uses, next, grantB, grantA)
		}
		a := uses[1]
		if a.Record.Sub != intelAnalyst.Sub || a.Record.Agency != intelAnalyst.Agency || a.Record.CaseID != caseA || a.Record.Issuer == "" ||
			a.Record.Justification != justification || a.Record.Status != 201 || a.Review != nil || a.ReadsTruncated {
			t.Errorf("A's use: %+v", a)
		}
		if exp, err := time.Parse(time.RFC3339, a.ExpiresAt); err != nil || exp.Before(start.Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
			t.Errorf("expires_at %q, want an hour after the grant", a.ExpiresAt)
		}
		var reads []uint64
		for _, r := range a.Reads {
			reads = append(reads, r.Index)
			if r.Action != "section.read" || r.Section != "needs" || r.Decision == "deny" {
				t.Errorf("read %+v", r)
			}
		}
		if !slices.Equal(reads, needsReads) {
			t.Errorf("A's reads %v, want %v", reads, needsReads)
		}
		page, next := arPage[arUse](t, get("/v1/audit/break-glass?limit=1"))
		if len(page) != 1 || page[0].Record.Index != grantB || next == "" {
			t.Fatalf("limit=1: %+v, next %q", page, next)
		}
		page, next = arPage[arUse](t, get("/v1/audit/break-glass?limit=1&cursor="+next))
		if len(page) != 1 || page[0].Record.Index != grantA || next != "" {
			t.Errorf("the second page: %+v, next %q", page, next)
		}
		for q, want := range map[string][]uint64{
			"agency=intelligence-service": {grantA}, "case_id=" + caseB: {grantB}, "agency=exit-ngo": nil,
			"from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339): nil, "to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339): {grantB, grantA},
		} {
			page, _ := arPage[arUse](t, get("/v1/audit/break-glass?"+q))
			var got []uint64
			for _, u := range page {
				got = append(got, u.Record.Index)
			}
			if !slices.Equal(got, want) {
				t.Errorf("?%s: %v, want %v", q, got, want)
			}
		}
		for q, field := range map[string]string{"reviewed=maybe": "reviewed", "limit=101": "limit", "limit=0": "limit", "from=yesterday": "from"} {
			arProblem(t, q, get("/v1/audit/break-glass?"+q), 400, field)
		}
	})

	t.Run("a review: one access record, once", func(t *testing.T) {
		note := "Checked with the analyst's manager.\nJustified: the threat was real."
		path := fmt.Sprintf("/v1/audit/records/%d/review", grantA)
		r := h.do("POST", path, &auditor, "", map[string]string{"note": note})
		if r.Status != http.StatusCreated {
			t.Fatalf("review: %d %s", r.Status, r.Body)
		}
		var ans struct {
			Grant  uint64    `json:"index"`
			Review *arReview `json:"review"`
		}
		if json.Unmarshal(r.Body, &ans) != nil || ans.Grant != grantA || ans.Review == nil ||
			ans.Review.Sub != auditor.Sub || ans.Review.Agency != auditor.Agency || ans.Review.Note != note || ans.Review.Time == "" {
			t.Fatalf("answer %s", r.Body)
		}
		recs, _ := arPage[arRecord](t, get("/v1/audit/records?action=break-glass.review"))
		if len(recs) != 1 {
			t.Fatalf("%d review records, want 1: %+v", len(recs), recs)
		}
		if rec := recs[0]; rec.Index != ans.Review.Index || rec.CaseID != caseA || rec.Reference != fmt.Sprintf("record:%d", grantA) ||
			rec.Justification != note || rec.Decision != "allow" || rec.Status != 201 || rec.Sub != auditor.Sub {
			t.Errorf("the review's record %+v", rec)
		}
		arProblem(t, "a second review", h.do("POST", path, &auditor, "", map[string]string{"note": "again"}), 409, "")
		uses, _ := arPage[arUse](t, get("/v1/audit/break-glass?reviewed=true"))
		if len(uses) != 1 || uses[0].Record.Index != grantA || uses[0].Review == nil || uses[0].Review.Note != note || uses[0].Review.Index != ans.Review.Index {
			t.Errorf("reviewed=true: %+v", uses)
		}
		uses, _ = arPage[arUse](t, get("/v1/audit/break-glass?reviewed=false"))
		if len(uses) != 1 || uses[0].Record.Index != grantB || uses[0].Review != nil {
			t.Errorf("reviewed=false: %+v", uses)
		}
	})

	t.Run("refusals of a review", func(t *testing.T) {
		pathB := fmt.Sprintf("/v1/audit/records/%d/review", grantB)
		arProblem(t, "a dpo", h.do("POST", pathB, &dpo, "", map[string]string{"note": "n"}), 403, "")
		arProblem(t, "a caseworker", h.do("POST", pathB, &prisonCaseworker, "", map[string]string{"note": "n"}), 403, "")
		arProblem(t, "a read's record", h.do("POST", fmt.Sprintf("/v1/audit/records/%d/review", needsReads[0]), &auditor, "", map[string]string{"note": "n"}), 404, "")
		arProblem(t, "beyond the log", h.do("POST", "/v1/audit/records/99999999/review", &auditor, "", map[string]string{"note": "n"}), 404, "")
		arProblem(t, "not an index", h.do("POST", "/v1/audit/records/first/review", &auditor, "", map[string]string{"note": "n"}), 404, "")
		for name, body := range map[string]any{"an empty note": map[string]string{"note": ""}, "no note": map[string]string{},
			"a control character": map[string]string{"note": "a\u001bb"}, "2001 bytes": map[string]string{"note": strings.Repeat("x", 2001)},
			"a number": map[string]int{"note": 1}} {
			arProblem(t, name, h.do("POST", pathB, &auditor, "", body), 400, "note")
		}
		uses, _ := arPage[arUse](t, get("/v1/audit/break-glass?reviewed=false"))
		if len(uses) != 1 || uses[0].Record.Index != grantB {
			t.Errorf("the refusals reviewed grant B: %+v", uses)
		}
	})

	t.Run("two reviews at once: one succeeds", func(t *testing.T) {
		path := fmt.Sprintf("/v1/audit/records/%d/review", grantB)
		statuses := make([]int, 6)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Go(func() {
				statuses[i] = h.do("POST", path, &auditor, "", map[string]string{"note": fmt.Sprintf("review %d", i)}).Status
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{201, 409, 409, 409, 409, 409}) {
			t.Errorf("statuses %v, want one 201 and five 409", statuses)
		}
	})

	t.Run("the summary", func(t *testing.T) {
		r := get("/v1/audit/summary")
		var sum struct {
			Bucket string `json:"bucket"`
			From   string `json:"from"`
			To     string `json:"to"`
			Series []struct {
				Agency  string `json:"agency"`
				Buckets []struct {
					Start      string `json:"start"`
					Reads      int    `json:"reads"`
					Denials    int    `json:"denials"`
					BreakGlass int    `json:"break_glass"`
				} `json:"buckets"`
			} `json:"series"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &sum) != nil || sum.Bucket != "day" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		today := map[string][3]int{}
		for _, s := range sum.Series {
			if len(s.Buckets) != 30 {
				t.Fatalf("%s: %d buckets, want 30", s.Agency, len(s.Buckets))
			}
			b := s.Buckets[29]
			today[s.Agency] = [3]int{b.Reads, b.Denials, b.BreakGlass}
		}
		// Intelligence: two reads under break-glass, a refused read, a grant;
		// the prison: a grant; oversight: the refused queries and reviews
		// above (at least 15).
		if today["intelligence-service"] != [3]int{2, 1, 1} || today["prison-service"][2] != 1 || today["oversight-board"][1] < 15 {
			t.Errorf("today's counts %v", today)
		}
		arProblem(t, "bucket=hour", get("/v1/audit/summary?bucket=hour"), 400, "bucket")
		arProblem(t, "two years by day", get("/v1/audit/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"), 400, "bucket")
		if r := get("/v1/audit/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=month"); r.Status != 200 {
			t.Errorf("two years by month: %d %s", r.Status, r.Body)
		}
		arProblem(t, "from after to", get("/v1/audit/summary?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"), 400, "from")
	})

	t.Run("who may read the review, and its records", func(t *testing.T) {
		for _, path := range []string{"/v1/audit/break-glass", "/v1/audit/summary"} {
			if r := h.do("GET", path, &dpo, "oversight", nil); r.Status != 200 {
				t.Errorf("a dpo: %s %d", path, r.Status)
			}
			arProblem(t, "a caseworker: "+path, h.do("GET", path, &prisonCaseworker, "oversight", nil), 403, "")
			arProblem(t, "an auditor without purpose: "+path, h.do("GET", path, &auditor, "", nil), 400, "Liaison-Purpose")
			arProblem(t, "an auditor for research: "+path, h.do("GET", path, &auditor, "research", nil), 403, "")
		}
		for action, want := range map[string]int{"audit.break-glass": 3, "audit.summary": 3} {
			recs, _ := arPage[arRecord](t, get("/v1/audit/records?limit=1000&action="+action))
			denied := 0
			for _, r := range recs {
				if r.Decision == "deny" {
					denied++
				}
			}
			if len(recs) < 5 || denied < want {
				t.Errorf("%s: %d records, %d refused: each call leaves one", action, len(recs), denied)
			}
		}
	})
}
