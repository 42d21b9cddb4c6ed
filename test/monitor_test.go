package liaison_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain/demo"
)

// monAlert is an alert of GET /v1/audit/alerts.
type monAlert struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Detail   string    `json:"detail"`
	Sub      string    `json:"sub"`
	Agency   string    `json:"agency"`
	Records  []uint64  `json:"records"`
	Triggers int       `json:"triggers"`
	Time     time.Time `json:"time"`
	State    string    `json:"state"`
	Notes    []struct {
		State string `json:"state"`
		Note  string `json:"note"`
		Sub   string `json:"sub"`
	} `json:"notes"`
}

// nightBundle writes a copy of the monitoring rules whose thresholds make
// every hour a working hour, except for intelligence, whose working hours
// are 07:00–20:00 in a time zone where it is now about 02:00: the test's
// analyst reads at night whatever the time the test runs. The copy leaves
// out the rules' own tests, which test the default thresholds.
func nightBundle(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "policies", "monitor")
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(src, "rules.rego"))
	if err != nil {
		t.Fatal(err)
	}
	var th map[string]any
	b, err := os.ReadFile(filepath.Join(src, "thresholds", "data.json"))
	if err == nil {
		err = json.Unmarshal(b, &th)
	}
	if err != nil {
		t.Fatal(err)
	}
	allWeek := []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	th["default"].(map[string]any)["off_hours"] = map[string]any{"timezone": "UTC", "start": 0, "end": 24, "weekdays": allWeek, "min_reads": 10}
	// Etc/GMT-X is UTC+X: X so that the local hour is 2.
	x := (2 - time.Now().UTC().Hour() + 24) % 24
	if x > 14 {
		x -= 24
	}
	zone := "Etc/GMT"
	switch {
	case x > 0:
		zone += "-" + strconv.Itoa(x)
	case x < 0:
		zone += "+" + strconv.Itoa(-x)
	}
	byType := th["by_org_type"].(map[string]any)
	delete(byType["prison"].(map[string]any), "off_hours")
	byType["intelligence"].(map[string]any)["off_hours"] = map[string]any{"timezone": zone, "start": 7, "end": 20, "weekdays": allWeek}
	out, _ := json.Marshal(th)
	if err := os.MkdirAll(filepath.Join(dir, "thresholds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.rego"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "thresholds", "data.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("intelligence's working hours are 07–20 in %s", zone)
	return dir
}

// waitMonitor waits until the monitor has evaluated every access record
// (liaison_monitor_lag_records on the admin address is 0).
func waitMonitor(t *testing.T, h *hub) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(h.AdminBase + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		lag := ""
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "liaison_monitor_lag_records "); ok {
				lag = v
			}
		}
		resp.Body.Close()
		if lag == "0" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the monitor did not catch up with the access log in 60 s")
}

// monAlerts lists the hub's alerts matching query, newest first, as the auditor.
func monAlerts(t *testing.T, h *hub, query string) []monAlert {
	t.Helper()
	var out []monAlert
	for cursor := ""; ; {
		page, next := arPage[monAlert](t, h.do("GET", "/v1/audit/alerts?limit=500&"+query+"&cursor="+cursor, &auditor, "oversight", nil))
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// rulesBySub maps each user to the sorted, distinct rules of alerts.
func rulesBySub(alerts []monAlert) map[string][]string {
	out := map[string][]string{}
	for _, a := range alerts {
		if !slices.Contains(out[a.Sub], a.Rule) {
			out[a.Sub] = append(out[a.Sub], a.Rule)
			sort.Strings(out[a.Sub])
		}
	}
	return out
}

// TestMonitorReplay is the privacy monitor's evidence on a running hub with
// the demo data set (docs/monitoring.md): the alerts of the demo's own
// loading are closed as an auditor would; the demo identities' ordinary
// traffic raises at most a few alerts; then three injected patterns — an
// analyst reading 80 cases in a few minutes at night, a manager breaking
// the glass three times right after denials, an NGO account probing random
// case ids — are each flagged, with the access records that triggered them,
// which the access log holds; acknowledging needs a note, and is recorded.
func TestMonitorReplay(t *testing.T) {
	h := startHub(t, "", "--demo", "--demo-cases", "150", "--monitor-rules", nightBundle(t))
	h.waitDemo()
	waitMonitor(t, h)
	personas := map[string]identity{}
	purpose := map[string]string{}
	for _, p := range demo.Identities() {
		personas[p.Identity.Subject] = identity{Agency: p.Identity.Agency, Roles: p.Identity.Roles, Sub: p.Identity.Subject}
		purpose[p.Identity.Subject] = string(p.Purpose)
	}
	auditorID := personas["olaf@oversight-board"]

	// The demo's loading is months of work in a few seconds: what it raised
	// is closed, with a note.
	baseline := monAlerts(t, h, "state=open")
	for _, a := range baseline {
		if r := h.do("POST", "/v1/audit/alerts/"+a.ID+"/close", &auditorID, "", map[string]string{"note": "raised by loading the demo data set"}); r.Status != http.StatusOK {
			t.Fatalf("close %s: %d %s", a.ID, r.Status, r.Body)
		}
	}
	t.Logf("the demo's loading raised %d alerts: %v (closed)", len(baseline), rulesBySub(baseline))

	// Ordinary traffic: every demo user but the three below lists cases,
	// reads three of them and two sections of each (some refused); one
	// mistypes a case id; the security officer breaks the glass once.
	injected := []string{"jana@intelligence-service", "frida@prison-service", "mira@exit-ngo"}
	ordinary := 0
	for _, p := range demo.Identities() {
		sub := p.Identity.Subject
		if slices.Contains(injected, sub) || p.Identity.Agency == "oversight-board" || p.Identity.Agency == "research-institute" {
			continue
		}
		id, purp := personas[sub], purpose[sub]
		ids := listCaseIDs(t, h, id, purp, 3)
		ordinary++
		for _, c := range ids {
			h.do("GET", "/v1/cases/"+c, &id, purp, nil)
			for _, s := range []string{"risk", "needs"} {
				h.do("GET", "/v1/cases/"+c+"/sections/"+s, &id, purp, nil)
			}
			ordinary += 3
		}
	}
	leon := personas["leon@exit-ngo"]
	h.do("GET", "/v1/cases/00000000-0000-4000-8000-000000000000", &leon, "reintegration", nil)
	emil := personas["emil@prison-service"]
	if ids := listCaseIDs(t, h, emil, "risk-management", 1); len(ids) == 1 {
		h.do("POST", "/v1/cases/"+ids[0]+"/break-glass", &emil, "", map[string]string{"justification": "an assault is reported on the wing, the risk must be known now"})
	}
	waitMonitor(t, h)
	falseAlerts := monAlerts(t, h, "state=open")
	t.Logf("ordinary traffic: %d calls; %d alerts: %v", ordinary+2, len(falseAlerts), rulesBySub(falseAlerts))
	if len(falseAlerts) > 3 {
		t.Errorf("ordinary traffic raised %d alerts, want at most 3: %+v", len(falseAlerts), falseAlerts)
	}
	before := map[string]bool{}
	for _, a := range falseAlerts {
		before[a.ID] = true
	}

	// 1. The analyst reads 80 cases, one after the other, at night.
	jana := personas["jana@intelligence-service"]
	janaCases := listCaseIDs(t, h, jana, "risk-management", 80)
	if len(janaCases) < 80 {
		t.Fatalf("the analyst sees %d cases, want 80", len(janaCases))
	}
	for _, c := range janaCases {
		if r := h.do("GET", "/v1/cases/"+c, &jana, "risk-management", nil); r.Status != http.StatusOK {
			t.Fatalf("the analyst reads %s: %d %s", c, r.Status, r.Body)
		}
	}
	// 2. The manager, refused a section, breaks the glass; three times.
	frida := personas["frida@prison-service"]
	grants := 0
	for _, c := range listCaseIDs(t, h, frida, "case-management", 150) {
		refused := false
		for _, s := range []string{"risk", "needs", "plan", "interventions", "conferences", "security", "family", "transition", "outcomes"} {
			if r := h.do("GET", "/v1/cases/"+c+"/sections/"+s, &frida, "case-management", nil); r.Status == http.StatusForbidden {
				refused = true
				break
			}
		}
		if !refused {
			continue
		}
		r := h.do("POST", "/v1/cases/"+c+"/break-glass", &frida, "", map[string]string{"justification": "the participant threatened staff, I must see the whole case"})
		switch r.Status {
		case http.StatusCreated:
		case http.StatusConflict: // a closed case
			continue
		default:
			t.Fatalf("break-glass on %s: %d %s", c, r.Status, r.Body)
		}
		if grants++; grants == 3 {
			break
		}
	}
	if grants != 3 {
		t.Fatalf("the manager found %d cases to break the glass on after a refusal, want 3", grants)
	}
	// 3. The NGO account tries random case ids.
	mira := personas["mira@exit-ngo"]
	rng := rand.New(rand.NewPCG(21, 21))
	for range 8 {
		id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
		if r := h.do("GET", "/v1/cases/"+id, &mira, "reintegration", nil); r.Status != http.StatusNotFound {
			t.Fatalf("a random case id: %d %s", r.Status, r.Body)
		}
	}
	waitMonitor(t, h)

	var raised []monAlert
	for _, a := range monAlerts(t, h, "state=open") {
		if !before[a.ID] {
			raised = append(raised, a)
		}
	}
	got := rulesBySub(raised)
	t.Logf("injected misbehaviour: %d alerts: %v", len(raised), got)
	want := map[string][]string{
		jana.Sub:  {"breadth", "off_hours", "volume"},
		frida.Sub: {"break_glass_after_denial", "break_glass_frequency"},
		mira.Sub:  {"probing"},
	}
	for sub, rules := range want {
		for _, r := range rules {
			if !slices.Contains(got[sub], r) {
				t.Errorf("%s: alerts %v, want %s among them", sub, got[sub], r)
			}
		}
	}
	for sub := range got {
		if _, ok := want[sub]; !ok {
			t.Errorf("alerts about %s, who did nothing unusual: %v", sub, got[sub])
		}
	}

	// Each alert's records are its user's, in the access log.
	for _, a := range raised {
		recs, _ := arPage[arRecord](t, h.do("GET", "/v1/audit/records?limit=1000&order=desc&sub="+a.Sub, &auditorID, "oversight", nil))
		mine := map[uint64]bool{}
		for _, r := range recs {
			mine[r.Index] = true
		}
		for _, i := range a.Records {
			if !mine[i] {
				t.Errorf("alert %s (%s) names record %d, not one of %s's", a.ID, a.Rule, i, a.Sub)
			}
		}
	}

	// Acknowledged with a note, which is required; the change is recorded.
	a := raised[0]
	arProblem(t, "no note", h.do("POST", "/v1/audit/alerts/"+a.ID+"/acknowledge", &auditorID, "", map[string]string{}), 400, "note")
	r := h.do("POST", "/v1/audit/alerts/"+a.ID+"/acknowledge", &auditorID, "", map[string]string{"note": "asked the service's manager"})
	var ack monAlert
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &ack) != nil || ack.State != "acknowledged" || len(ack.Notes) != 1 || ack.Notes[0].Sub != auditorID.Sub {
		t.Fatalf("acknowledge: %d %s", r.Status, r.Body)
	}
	arProblem(t, "acknowledged twice", h.do("POST", "/v1/audit/alerts/"+a.ID+"/acknowledge", &auditorID, "", map[string]string{"note": "again"}), 409, "")
	arProblem(t, "a caseworker", h.do("GET", "/v1/audit/alerts", &caseworker, "case-management", nil), 403, "")
	recs, _ := arPage[arRecord](t, h.do("GET", "/v1/audit/records?action=audit.alert&order=desc&limit=1000", &auditorID, "oversight", nil))
	if n := len(recs); n != len(baseline)+3 {
		t.Errorf("%d audit.alert records, want %d (the closures, the acknowledgement and the two refusals)", n, len(baseline)+3)
	}
	if acked := monAlerts(t, h, "state=acknowledged"); len(acked) != 1 || acked[0].ID != a.ID {
		t.Errorf("acknowledged alerts: %+v", acked)
	}
}

// listCaseIDs returns up to n ids of the cases id lists for purpose.
func listCaseIDs(t *testing.T, h *hub, id identity, purpose string, n int) []string {
	t.Helper()
	r := h.do("GET", "/v1/cases?limit="+strconv.Itoa(n), &id, purpose, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("%s lists cases: %d %s", id.Sub, r.Status, r.Body)
	}
	var page struct {
		Items []struct {
			CaseID string `json:"case_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range page.Items {
		out = append(out, it.CaseID)
	}
	return out
}
