package liaison_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// The console as the oversight body and research use it: an auditor reviews
// a break-glass use and exports the access records, two data-protection
// officers erase a case (the first cannot confirm alone), a researcher
// exports the statistics with small cells suppressed.

const (
	frida = "frida@prison-service"
	petra = "petra@oversight-board"
)

func TestConsoleOversight(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	h := startHub(t, "", "--demo", "--demo-cases", "20")
	h.waitDemo()
	b := newBrowser(t, exe)
	manager := identity{Agency: "prison-service", Roles: []string{"manager"}, Sub: "probe-manager@prison-service"}
	open := casesOf(t, h, manager, "case-management")
	if len(open) < 2 {
		t.Fatalf("the demo hub has %d open cases for the prison manager, want 2", len(open))
	}
	justification := "=1+1 fire alarm in wing C: the transition plan must be checked tonight"

	t.Run("an auditor reviews a break-glass use", func(t *testing.T) {
		// The prison manager breaks the glass in the console.
		fr := b.tabWithin(t, 2*time.Minute)
		fr.signIn(h.Base, frida)
		fr.openCaseByID(h.Base, open[0].ID)
		fr.do(chromedp.Click(chromedp.CSS(`#breakglass summary`)),
			chromedp.SetValue(chromedp.CSS(`#bg-justification`), justification),
			chromedp.Click(chromedp.CSS(`#breakglass button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] .breakglass-banner`)))
		fr.waitText("#section-security", "Security")
		if fr.count(`#section-security.sec-breakglass`) == 0 {
			t.Errorf("the security section is not marked as opened under break-glass:\n%s", fr.text("#section-security"))
		}

		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, olaf)
		tab.axe("access history")
		tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/break-glass"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/break-glass"]`)))
		tab.axe("break-glass use")
		idx := tab.eval(fmt.Sprintf(`Array.from(document.querySelectorAll('article.bg-use')).find((a) => a.innerText.includes(%q))?.dataset.index || ''`, "fire alarm in wing C"))
		if idx == "" {
			t.Fatalf("the break-glass list does not show the manager's use:\n%s", tab.pageText())
		}
		card := `article.bg-use[data-index="` + idx + `"]`
		if got := tab.text(card); !strings.Contains(got, justification) || !strings.Contains(got, frida) {
			t.Errorf("the use does not show who and why:\n%s", got)
		}
		if n := tab.count(card + ` table.bg-reads tbody tr`); n == 0 {
			t.Errorf("the use lists no reads made under it:\n%s", tab.text(card))
		}
		tab.do(chromedp.SetValue(chromedp.CSS(card+` textarea[name="note"]`), "Justified: alarm confirmed by the duty log."),
			chromedp.Click(chromedp.CSS(card+` .review-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(card+` .reviewed`)))
		if got := tab.text(card + ` .reviewed`); !strings.Contains(got, "alarm confirmed by the duty log") || !strings.Contains(got, olaf) {
			t.Errorf("the review does not show its note and reviewer:\n%s", got)
		}
		tab.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/break-glass"]`)))
		if got := tab.attr(card, "data-reviewed"); got != "true" {
			t.Errorf("after a reload the use is reviewed=%q", got)
		}

		// The case's records, newest first, exported as CSV.
		tab.do(chromedp.Navigate(h.Base + "/#/audit?case_id=" + open[0].ID + "&limit=250"))
		tab.waitHash("case_id=" + open[0].ID)
		first := tab.eval(`document.querySelector('table.audit tbody tr').dataset.index`)
		last := tab.eval(`Array.from(document.querySelectorAll('table.audit tbody tr')).pop().dataset.index`)
		if a, _ := strconv.Atoi(first); a <= mustAtoi(t, last) {
			t.Errorf("the records are not newest first: %s … %s", first, last)
		}
		rows := tab.download(`#export-csv`)
		if len(rows) < 3 || !slices.Equal(rows[0][:4], []string{"index", "time", "request_id", "issuer"}) {
			t.Fatalf("the CSV export starts %q", rows[:min(len(rows), 2)])
		}
		col := slices.Index(rows[0], "justification")
		found := false
		for _, r := range rows[1:] {
			if r[slices.Index(rows[0], "case_id")] != open[0].ID {
				t.Errorf("the export holds a record of another case: %q", r)
			}
			if strings.Contains(r[col], "fire alarm") {
				found = true
				if !strings.HasPrefix(r[col], "'=1+1") {
					t.Errorf("a cell starting with = is not neutralised: %q", r[col])
				}
			}
		}
		if !found {
			t.Errorf("the export lacks the break-glass record (%d rows)", len(rows)-1)
		}

		tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/activity"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/activity"]`)))
		if n := tab.count(`figure.chart-box svg.chart-time`); n == 0 {
			t.Errorf("the activity page draws no chart:\n%s", tab.pageText())
		}
		if got := tab.text(`table.act-totals`); !strings.Contains(got, "Prison service") {
			t.Errorf("the activity totals lack the prison:\n%s", got)
		}
		tab.axe("activity")
	})

	t.Run("two data-protection officers erase a case, the first cannot confirm alone", func(t *testing.T) {
		target := open[1]
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, petra)
		tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/erasures"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/erasures"]`)))
		tab.axe("erasures")
		tab.do(chromedp.SetValue(chromedp.CSS(`select[name="by"]`), "subject_ref"),
			chromedp.SetValue(chromedp.CSS(`input[name="find"]`), target.Ref),
			chromedp.Click(chromedp.CSS(`form[role="search"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`table.erasable tr[data-case-id="`+target.ID+`"] button.request-erasure`)),
			chromedp.Click(chromedp.CSS(`button.request-erasure`)),
			chromedp.WaitVisible(chromedp.CSS(`form.request-form`)),
			chromedp.SetValue(chromedp.CSS(`form.request-form select[name="legal_basis"]`), "court-order"),
			chromedp.SetValue(chromedp.CSS(`form.request-form input[name="reference"]`), "AZ 12/2026"),
			chromedp.Click(chromedp.CSS(`form.request-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`li.pending[data-case-id="`+target.ID+`"]`)))
		pending := `li.pending[data-case-id="` + target.ID + `"]`
		request := tab.attr(pending, "data-request-id")
		if got := tab.attr(pending, "data-own"); got != "true" || tab.count(pending+` a[data-confirm]`) != 0 {
			t.Errorf("the requester is offered to confirm her own request (own=%q)", got)
		}
		if got := tab.text(pending); !strings.Contains(got, "another data-protection officer must confirm it") || !strings.Contains(got, "Expires on") {
			t.Errorf("the pending request does not say it waits for another officer, or when it lapses:\n%s", got)
		}
		// She tries anyway, by the confirmation's address.
		tab.do(chromedp.Navigate(h.Base+"/#/erasures/"+request),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] form.confirm-form`)),
			chromedp.SetValue(chromedp.CSS(`input[name="case_id"]`), target.ID),
			chromedp.Click(chromedp.CSS(`input[name="understood"]`)),
			chromedp.Click(chromedp.CSS(`#confirm-erasure`)),
			chromedp.WaitVisible(chromedp.CSS(`.confirm-out .problem[data-status="403"]`)))
		if got := tab.text(`.confirm-out`); !strings.Contains(got, "You cannot confirm an erasure you requested yourself") {
			t.Errorf("the hub's refusal is not said in plain words:\n%s", got)
		}

		// A second officer confirms.
		second := identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "dp-second@oversight-board"}
		other := b.tabWithin(t, 2*time.Minute)
		other.signInWithToken(h.Base, h.token(second), "oversight")
		other.do(chromedp.Navigate(h.Base+"/#/erasures"),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/erasures"] a[data-confirm="`+request+`"]`)),
			chromedp.Click(chromedp.CSS(`a[data-confirm="`+request+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] form.confirm-form`)))
		other.axe("confirm an erasure")
		other.do(chromedp.Click(chromedp.CSS(`#confirm-erasure`)), chromedp.WaitVisible(chromedp.CSS(`.confirm-out .problem`)))
		if got := other.text(`.confirm-out`); !strings.Contains(got, "Type the case id exactly") {
			t.Errorf("an unconfirmed erasure is not stopped:\n%s", got)
		}
		other.do(chromedp.SetValue(chromedp.CSS(`input[name="case_id"]`), target.ID),
			chromedp.Click(chromedp.CSS(`input[name="understood"]`)),
			chromedp.Click(chromedp.CSS(`#confirm-erasure`)),
			chromedp.WaitVisible(chromedp.CSS(`form.confirm-form .ok`)))
		if r := h.do(http.MethodGet, "/v1/cases/"+target.ID, &manager, "case-management", nil); r.Status != http.StatusGone {
			t.Errorf("after the erasure the prison reads the case: %d", r.Status)
		}
		other.do(chromedp.Navigate(h.Base+"/#/erasures?status=confirmed"),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] table.register tr[data-request-id="`+request+`"][data-status="confirmed"]`)))
	})

	t.Run("a researcher exports the statistics, small cells suppressed", func(t *testing.T) {
		tab := b.tabWithin(t, time.Minute)
		tab.signIn(h.Base, quentin)
		tab.axe("statistics")
		researcher := identity{Agency: "research-institute", Roles: []string{"researcher"}, Sub: "probe@research-institute"}
		var practices struct {
			Items []struct {
				Key        string `json:"key"`
				Cases      *int   `json:"cases"`
				Sessions   *int   `json:"sessions"`
				Suppressed bool   `json:"suppressed"`
			} `json:"items"`
		}
		json.Unmarshal(h.do(http.MethodGet, "/v1/stats/practices", &researcher, "research", nil).Body, &practices)
		rows := tab.download(`#export-practices`)
		if !slices.Equal(rows[0], []string{"code", "practice", "cases", "sessions"}) || len(rows) != len(practices.Items)+1 {
			t.Fatalf("the practices CSV is %q", rows)
		}
		suppressed := 0
		for i, p := range practices.Items {
			r := rows[i+1]
			want := []string{"suppressed", "suppressed"}
			if !p.Suppressed {
				want = []string{strconv.Itoa(*p.Cases), strconv.Itoa(*p.Sessions)}
			} else {
				suppressed++
			}
			if r[0] != p.Key || !slices.Equal(r[2:], want) {
				t.Errorf("CSV row %q, the hub says %s: %v cases, suppressed %v", r, p.Key, p.Cases, p.Suppressed)
			}
		}
		if suppressed == 0 {
			t.Log("no practice cell is suppressed in this data set")
		}
		rows = tab.download(`#export-breakdowns`)
		if !slices.Equal(rows[0], []string{"dimension", "value", "cases"}) || len(rows) < 10 {
			t.Fatalf("the breakdowns CSV is %q", rows)
		}
		for _, r := range rows[1:] {
			if r[2] == "0" {
				t.Errorf("a breakdown cell is exported as 0: %q", r)
			}
		}
	})
	t.Logf("TestConsoleOversight took %v", time.Since(start).Round(time.Millisecond))
}

// listedCase is a case as the list shows it.
type listedCase struct {
	ID    string `json:"case_id"`
	Stage string `json:"stage"`
	Ref   string `json:"subject_ref"`
}

// casesOf lists, newest first, the cases id reads that are not closed.
func casesOf(t *testing.T, h *hub, id identity, purpose string) []listedCase {
	t.Helper()
	var list struct {
		Items []listedCase `json:"items"`
	}
	r := h.do(http.MethodGet, "/v1/cases?limit=100&order=recent", &id, purpose, nil)
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("listing cases: %d %s", r.Status, r.Body)
	}
	var out []listedCase
	for _, c := range list.Items {
		if c.Stage != "closed" && c.Ref != "" {
			out = append(out, c)
		}
	}
	return out
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// signInWithToken signs in with a pasted token and a purpose.
func (tb *tab) signInWithToken(base, token, purpose string) {
	tb.t.Helper()
	tb.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token-input`)),
		chromedp.SetValue(chromedp.CSS(`#token-input`), token),
		chromedp.SetValue(chromedp.CSS(`#token-purpose`), purpose),
		chromedp.Click(chromedp.CSS(`.token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"]:not([data-route="/signin"])`)))
}

// download clicks a button that saves a CSV file and returns the file's rows
// (the byte-order mark taken off).
func (tb *tab) download(button string) [][]string {
	tb.t.Helper()
	dir := tb.t.TempDir()
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir,
		})
		return err
	}), chromedp.Click(chromedp.CSS(button)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			if strings.HasSuffix(f, ".crdownload") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil || len(b) == 0 {
				continue
			}
			rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
			if err != nil {
				tb.t.Fatalf("the download is not CSV: %v\n%s", err, b)
			}
			if len(rows) == 0 {
				tb.t.Fatal("the CSV file is empty")
			}
			return rows
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("clicking %s downloaded nothing:\n%s", button, tb.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
