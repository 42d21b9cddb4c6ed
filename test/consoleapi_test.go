package liaison_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/liaison-hub/liaison/domain"
)

// Identities of the console API test.
var (
	caCaseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "ca-pc"}
	caProbation  = identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "ca-po"}
	caMentor     = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ca-ng"}
	caOtherNGO   = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ca-ng-2"}
	caMunicipal  = identity{Agency: "municipality", Roles: []string{"coordinator"}, Sub: "ca-mc"}
	caAuditor    = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ca-au"}
	caDPO        = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "ca-dpo"}
)

// caSummary is an item of GET /v1/cases.
type caSummary struct {
	CaseID     string `json:"case_id"`
	Stage      string `json:"stage"`
	Version    int    `json:"version"`
	SubjectRef string `json:"subject_ref"`
	LastChange string `json:"last_change"`
}

// TestConsoleAPI checks, on a running hub, what the console is built on:
// who the caller is (GET /v1/me), what it may write (GET
// /v1/cases/{id}/writable, which must agree with what the events endpoint
// then does), finding cases (search by subject reference, newest first, the
// caseload, paging) and the officers' lookup of a case to erase.
func TestConsoleAPI(t *testing.T) {
	h := startHub(t, "")
	ask := func(method, path string, id identity, purpose string, body any) response {
		t.Helper()
		return askHub(t, h, method, path, &id, purpose, body)
	}
	open := func(ref string) string {
		r := ask("POST", "/v1/cases", caCaseworker, "", map[string]any{"subject_ref": ref, "target_group": "returnee", "gender": "male", "regime": "dispersion"})
		mustStatus(t, r, http.StatusCreated, "open "+ref)
		return r.json(t)["case_id"].(string)
	}
	appendAs := func(caseID string, as identity, typ string, data any) response {
		t.Helper()
		return ask("POST", "/v1/cases/"+caseID+"/events", as, "", map[string]any{"type": typ, "data": data})
	}
	c1, c2, c3 := open("CA-2026-0001"), open("CA-2026-0002"), open("CA-2026-0003")
	scratch := open("CA-2026-0099") // every writer writes every type it may
	mustStatus(t, appendAs(c1, caCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}), http.StatusCreated, "consent c1")
	mustStatus(t, appendAs(c3, caCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}), http.StatusCreated, "consent c3")

	t.Run("me", func(t *testing.T) {
		var me struct {
			Agency        string              `json:"agency"`
			OrgType       string              `json:"org_type"`
			Purposes      []string            `json:"purposes"`
			Services      map[string][]string `json:"services"`
			OpenCases     bool                `json:"open_cases"`
			Organisations []struct{ ID, Type string }
		}
		r := ask("GET", "/v1/me", caCaseworker, "", nil)
		mustStatus(t, r, http.StatusOK, "me")
		if err := json.Unmarshal(r.Body, &me); err != nil {
			t.Fatal(err)
		}
		if me.OrgType != "prison" || !me.OpenCases || !slices.Contains(me.Purposes, "case-management") || slices.Contains(me.Purposes, "oversight") {
			t.Errorf("a prison caseworker is %s", r.Body)
		}
		if !slices.Contains(me.Services["case.list"], "case-management") || len(me.Services["audit.records"]) > 0 || len(me.Organisations) < 8 {
			t.Errorf("a prison caseworker's services: %s", r.Body)
		}
		r = ask("GET", "/v1/me", caAuditor, "", nil)
		me = struct {
			Agency        string              `json:"agency"`
			OrgType       string              `json:"org_type"`
			Purposes      []string            `json:"purposes"`
			Services      map[string][]string `json:"services"`
			OpenCases     bool                `json:"open_cases"`
			Organisations []struct{ ID, Type string }
		}{}
		if err := json.Unmarshal(r.Body, &me); err != nil {
			t.Fatal(err)
		}
		if me.OpenCases || !slices.Equal(me.Services["audit.records"], []string{"oversight"}) || len(me.Services["case.list"]) > 0 || len(me.Services["erasure.decide"]) > 0 {
			t.Errorf("an auditor is %s", r.Body)
		}
		if r := askHub(t, h, "GET", "/v1/me", nil, "", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("me without a token: %d", r.Status)
		}
	})

	t.Run("writable agrees with the events endpoint", func(t *testing.T) {
		type form struct {
			Type           string   `json:"type"`
			Labels         []string `json:"labels"`
			Classification string   `json:"classification"`
			ShareWith      []string `json:"share_with"`
			ShareList      bool     `json:"share_list"`
		}
		var w struct {
			Version    int    `json:"version"`
			Events     []form `json:"events"`
			BreakGlass bool   `json:"break_glass"`
		}
		mustStatus(t, appendAs(scratch, caCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo", "probation-service"}}), http.StatusCreated, "consent")
		for _, as := range []identity{caCaseworker, caProbation, caMentor} {
			// What is offered changes as the case does (the order rules: a
			// release once its schedule is in the view, a goal update once
			// a plan has goals): ask before each append.
			writable := func() map[string]form {
				t.Helper()
				r := ask("GET", "/v1/cases/"+scratch+"/writable", as, "", nil)
				mustStatus(t, r, http.StatusOK, "writable as "+as.Sub)
				w.Events = nil
				if err := json.Unmarshal(r.Body, &w); err != nil {
					t.Fatal(err)
				}
				offered := map[string]form{}
				for _, f := range w.Events {
					offered[f.Type] = f
				}
				if len(offered) == 0 {
					t.Fatalf("nothing offered to %s: %s", as.Sub, r.Body)
				}
				return offered
			}
			for _, typ := range domain.EventTypes {
				if domain.OwnEndpoint(typ) != "" || typ == domain.CaseClosed || typ == domain.ConsentWithdrawn {
					continue // the next writers still need the case open and consented to
				}
				f, ok := writable()[string(typ)]
				var data map[string]any
				if err := json.Unmarshal(domain.Example(typ), &data); err != nil {
					t.Fatal(err)
				}
				r := appendAs(scratch, as, string(typ), data)
				if ok != (r.Status == http.StatusCreated) {
					t.Errorf("%s: %s offered %v, but the append answered %d: %.200s", as.Sub, typ, ok, r.Status, r.Body)
				}
				if !ok || r.Status != http.StatusCreated {
					continue
				}
				// The label offered as the default is the label the event got.
				ev := ask("GET", "/v1/cases/"+scratch+"/events", as, e4Purpose(as), nil)
				var evs struct {
					Items []struct {
						Type           string   `json:"type"`
						Classification string   `json:"classification"`
						ShareWith      []string `json:"share_with"`
					} `json:"items"`
				}
				if json.Unmarshal(ev.Body, &evs) == nil && len(evs.Items) > 0 {
					last := evs.Items[len(evs.Items)-1]
					if last.Type == string(typ) && (last.Classification != f.Classification || !slices.Equal(last.ShareWith, f.ShareWith)) {
						t.Errorf("%s: %s offered with %s %v by default, got %s %v", as.Sub, typ, f.Classification, f.ShareWith, last.Classification, last.ShareWith)
					}
				}
			}
		}
		// The mentor may write counselling notes but never break the glass.
		r := ask("GET", "/v1/cases/"+scratch+"/writable", caMentor, "", nil)
		if !strings.Contains(string(r.Body), `"CounsellingNoteAdded"`) || !strings.Contains(string(r.Body), `"break_glass":false`) {
			t.Errorf("the mentor's writable: %s", r.Body)
		}
		// A case the caller cannot see answers as an unknown id.
		unseen := ask("GET", "/v1/cases/"+c2+"/writable", caMentor, "", nil)
		unknown := ask("GET", "/v1/cases/00000000-0000-4000-8000-0000000000ca/writable", caMentor, "", nil)
		if unseen.Status != http.StatusNotFound || unknown.Status != http.StatusNotFound || !bytes.Equal(niNormalise(unseen.Body, unseen.Header.Get("X-Request-Id")), niNormalise(unknown.Body, unknown.Header.Get("X-Request-Id"))) {
			t.Errorf("writable on an unseen case: %d %s; on an unknown id: %d %s", unseen.Status, unseen.Body, unknown.Status, unknown.Body)
		}
	})

	list := func(t *testing.T, as identity, purpose, query string) ([]caSummary, *string) {
		t.Helper()
		r := ask("GET", "/v1/cases?"+query, as, purpose, nil)
		mustStatus(t, r, http.StatusOK, "list "+query)
		var page struct {
			Items      []caSummary `json:"items"`
			NextCursor *string     `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		return page.Items, page.NextCursor
	}
	ids := func(items []caSummary) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.CaseID)
		}
		return out
	}

	t.Run("search by subject reference", func(t *testing.T) {
		got, _ := list(t, caCaseworker, "case-management", "q=ca-2026-000")
		// (CA-2026-0099 does not start with CA-2026-000.)
		if !slices.Equal(ids(got), []string{c1, c2, c3}) {
			t.Errorf("q=ca-2026-000 lists %v, want %v", ids(got), []string{c1, c2, c3})
		}
		got, _ = list(t, caCaseworker, "case-management", "q=CA-2026-0002")
		if len(got) != 1 || got[0].CaseID != c2 || got[0].SubjectRef != "CA-2026-0002" {
			t.Errorf("q=CA-2026-0002 lists %+v", got)
		}
		// The mentor reads the profile of c1 and c3 (consent), not c2's: a
		// search never finds a case by a reference its reader cannot read.
		got, _ = list(t, caMentor, "reintegration", "q=CA-2026-0002")
		if len(got) != 0 {
			t.Errorf("the mentor finds %+v by a reference it cannot read", got)
		}
		if r := ask("GET", "/v1/cases?q="+url.QueryEscape("CA 2026"), caCaseworker, "case-management", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"q"`) {
			t.Errorf("a search that is not a reference: %d %s", r.Status, r.Body)
		}
	})

	t.Run("subject reference only to its readers", func(t *testing.T) {
		for _, as := range []struct {
			id      identity
			purpose string
		}{{caCaseworker, "case-management"}, {caMentor, "reintegration"}, {caMunicipal, "reintegration"}, {caProbation, "case-management"}} {
			got, _ := list(t, as.id, as.purpose, "limit=500")
			for _, it := range got {
				// The subject reference shown is the one the profile shows.
				r := ask("GET", "/v1/cases/"+it.CaseID+"/sections/profile", as.id, as.purpose, nil)
				shown := ""
				if r.Status == http.StatusOK {
					var sec struct {
						Items []struct {
							Type string         `json:"type"`
							Data map[string]any `json:"data"`
						} `json:"items"`
					}
					if json.Unmarshal(r.Body, &sec) == nil {
						for _, item := range sec.Items {
							if item.Type == "CaseOpened" {
								shown, _ = item.Data["subject_ref"].(string)
							}
						}
					}
				}
				if it.SubjectRef != shown {
					t.Errorf("%s lists %s with subject_ref %q; its profile shows %q", as.id.Sub, it.CaseID, it.SubjectRef, shown)
				}
				if it.LastChange == "" {
					t.Errorf("%s lists %s without last_change", as.id.Sub, it.CaseID)
				}
			}
		}
	})

	t.Run("newest first, paged", func(t *testing.T) {
		mustStatus(t, appendAs(c1, caCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []map[string]any{{"area": "housing", "level": "high"}}}), http.StatusCreated, "needs on c1")
		all, _ := list(t, caCaseworker, "case-management", "order=recent&limit=500")
		if len(all) < 3 || all[0].CaseID != c1 {
			t.Fatalf("newest first: %v, want %s first (written last)", ids(all), c1)
		}
		for i := 1; i < len(all); i++ {
			if all[i].LastChange > all[i-1].LastChange {
				t.Errorf("newest first: %s (%s) after %s (%s)", all[i].CaseID, all[i].LastChange, all[i-1].CaseID, all[i-1].LastChange)
			}
		}
		var paged []caSummary
		cursor := ""
		for range len(all) + 1 {
			q := "order=recent&limit=1"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			page, next := list(t, caCaseworker, "case-management", q)
			paged = append(paged, page...)
			if next == nil {
				break
			}
			cursor = *next
		}
		if !slices.Equal(ids(paged), ids(all)) {
			t.Errorf("paging one by one gives %v, the whole list %v", ids(paged), ids(all))
		}
		// A cursor holds for its order only.
		_, next := list(t, caCaseworker, "case-management", "limit=1")
		if next == nil {
			t.Fatal("no next_cursor")
		}
		r := ask("GET", "/v1/cases?order=recent&cursor="+url.QueryEscape(*next), caCaseworker, "case-management", nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"cursor"`) {
			t.Errorf("an opening-order cursor in order recent: %d %s", r.Status, r.Body)
		}
		if r := ask("GET", "/v1/cases?order=sideways", caCaseworker, "case-management", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"order"`) {
			t.Errorf("an unknown order: %d %s", r.Status, r.Body)
		}
	})

	t.Run("caseload", func(t *testing.T) {
		mine := func(as identity) []string {
			got, _ := list(t, as, "reintegration", "caseload=mine&limit=500")
			return ids(got)
		}
		if got := mine(caMentor); !slices.Equal(got, []string{scratch}) {
			t.Fatalf("the mentor's caseload before it wrote to c1 and c3: %v, want [%s]", got, scratch)
		}
		mustStatus(t, appendAs(c1, caMentor, "CounsellingNoteAdded", map[string]any{"date": "2026-11-02", "note": "first meeting"}), http.StatusCreated, "counselling note")
		mustStatus(t, appendAs(c3, caProbation, "MentorAssigned", map[string]any{"mentor_org": "exit-ngo", "mentor_ref": "M-7"}), http.StatusCreated, "mentor assigned")
		// c1: its organisation wrote to it; c3: it was assigned as mentor.
		for _, as := range []identity{caMentor, caOtherNGO} {
			if got := mine(as); !slices.Equal(got, []string{c1, c3, scratch}) {
				t.Errorf("%s's caseload: %v, want [%s %s %s]", as.Sub, got, c1, c3, scratch)
			}
		}
		if got, _ := list(t, caMunicipal, "reintegration", "caseload=mine"); len(got) != 0 {
			t.Errorf("the municipality's caseload: %v", ids(got))
		}
		if r := ask("GET", "/v1/cases?caseload=theirs", caMentor, "reintegration", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"caseload"`) {
			t.Errorf("an unknown caseload: %d %s", r.Status, r.Body)
		}
	})

	t.Run("officers find a case to erase", func(t *testing.T) {
		find := func(as identity, query string) response {
			return ask("GET", "/v1/erasures/cases?"+query, as, "oversight", nil)
		}
		r := find(caDPO, "subject_ref=ca-2026-0002")
		mustStatus(t, r, http.StatusOK, "lookup")
		var found struct {
			Items []struct {
				CaseID  string          `json:"case_id"`
				Pending json.RawMessage `json:"pending"`
			} `json:"items"`
		}
		if json.Unmarshal(r.Body, &found) != nil || len(found.Items) != 1 || found.Items[0].CaseID != c2 || string(found.Items[0].Pending) != "null" {
			t.Fatalf("lookup of CA-2026-0002: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "returnee") || strings.Contains(string(r.Body), "CA-2026") {
			t.Errorf("the lookup shows case content: %s", r.Body)
		}
		mustStatus(t, ask("POST", "/v1/cases/"+c2+"/erase", caDPO, "oversight", map[string]string{"legal_basis": "subject-request", "reference": "CA-DPA-1"}), http.StatusAccepted, "erasure request")
		r = find(caDPO, "case_id="+c2)
		if !strings.Contains(string(r.Body), `"status":"pending"`) {
			t.Errorf("the pending request is not shown: %s", r.Body)
		}
		if r := find(caDPO, "subject_ref=NOBODY-1"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"items":[]`) {
			t.Errorf("lookup of an unknown reference: %d %s", r.Status, r.Body)
		}
		if r := find(caDPO, "subject_ref=x&case_id="+c2); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"subject_ref"`) {
			t.Errorf("lookup with both: %d %s", r.Status, r.Body)
		}
		for _, as := range []identity{caAuditor, caCaseworker} {
			if r := find(as, "subject_ref=CA-2026-0002"); r.Status != http.StatusForbidden {
				t.Errorf("lookup as %s: %d %s", as.Sub, r.Status, r.Body)
			}
		}
	})
}

// mustStatus fails t unless r has status want.
func mustStatus(t *testing.T, r response, want int, what string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: %d, want %d: %s", what, r.Status, want, r.Body)
	}
}
