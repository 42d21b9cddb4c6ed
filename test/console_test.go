package liaison_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/liaison-hub/liaison/domain"
)

// The web console's browser tests: a hub with the demo data set, a headless
// Chromium, and the console driven as its users would — pick a demo identity,
// click through to a case, read what is on the screen.

var (
	exitWorker = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "probe@exit-ngo"}
	analyst    = identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "probe@intelligence-service"}
	caseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "probe@prison-service"}
)

// The demo personas the tests sign in as (domain/demo). The API probes above
// use other subjects, so that the access history's visits of these are the
// console's.
const (
	leon    = "leon@exit-ngo"
	ivo     = "ivo@intelligence-service"
	olaf    = "olaf@oversight-board"
	quentin = "quentin@research-institute"
)

func TestConsole(t *testing.T) {
	exe := chromium(t)
	h := startHub(t, "", "--demo", "--demo-cases", "40")
	h.waitDemo()
	if r := h.do(http.MethodGet, "/", nil, "", nil); r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s: the hub serves no console (is consoleConfig wired in serve.go?)", r.Status, r.Header.Get("Content-Type"))
	}
	c := pickCase(t, h)
	b := newBrowser(t, exe)

	t.Run("exit worker sees the risk summary with the other fields withheld", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, leon)
		tab.openCase(c.id)
		risk := tab.text("#section-risk")
		for _, want := range []string{"Overall judgement", "withheld by the protocol", "Withheld by the protocol:"} {
			if !strings.Contains(risk, want) {
				t.Errorf("risk section lacks %q:\n%s", want, risk)
			}
		}
		if strings.Contains(risk, c.tool) {
			t.Errorf("risk section shows the tool %q, which the protocol withholds from civil society:\n%s", c.tool, risk)
		}
		security := tab.text("#section-security")
		if state := tab.attr("#section-security", "data-state"); state != "loaded" && state != "refused" {
			t.Errorf("security section is %q, want its own items or a refusal", state)
		}
		page := tab.text("main")
		if strings.Contains(security, "Intelligence note") || strings.Contains(page, c.note) {
			t.Errorf("the exit worker sees an intelligence note:\n%s", security)
		}
		if got := tab.attr("#section-counselling", "data-state"); got != "loaded" {
			t.Errorf("counselling is %q for the exit worker, want readable (own notes only)", got)
		}
	})

	t.Run("intelligence analyst sees the risk in full and is refused the needs", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, ivo)
		tab.openCase(c.id)
		risk := tab.text("#section-risk")
		if !strings.Contains(risk, c.tool) || strings.Contains(risk, "withheld by the protocol") {
			t.Errorf("risk section is not in full (want the tool %q, nothing withheld):\n%s", c.tool, risk)
		}
		if got := tab.attr("#section-needs", "data-state"); got != "refused" {
			t.Errorf("needs is %q for the analyst, want refused", got)
		}
		if needs := tab.text("#section-needs"); !strings.Contains(needs, "Not available to you") {
			t.Errorf("the refused needs section does not say so:\n%s", needs)
		}
		if security := tab.text("#section-security"); !strings.Contains(security, "Intelligence note") {
			t.Errorf("the analyst does not see the intelligence notes:\n%s", security)
		}
	})

	t.Run("auditor finds both visits in the access history of the case", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, olaf)
		if got := tab.attr("main", "data-route"); got != "/audit" {
			t.Fatalf("the auditor starts on %q, want the access history", got)
		}
		tab.do(
			chromedp.SendKeys(chromedp.CSS(`input[name="case_id"]`), c.id),
			chromedp.SetValue(chromedp.CSS(`select[name="limit"]`), "250"),
			chromedp.Click(chromedp.CSS(`.audit-filters button[type="submit"]`)),
		)
		tab.waitHash("case_id=" + c.id)
		rows := tab.rows("table.audit tbody tr")
		visit := func(sub, section, decision string) bool {
			for _, r := range rows {
				if strings.Contains(r, sub) && strings.Contains(r, "section.read") && strings.Contains(r, "· "+section) && strings.Contains(r, decision) {
					return true
				}
			}
			return false
		}
		if !visit(leon, "risk", "partial") {
			t.Errorf("no partial read of risk by %s in the case's history (%d rows)", leon, len(rows))
		}
		if !visit(ivo, "risk", "allowed") || !visit(ivo, "needs", "denied") {
			t.Errorf("no allowed risk read and refused needs read by %s in the case's history (%d rows)", ivo, len(rows))
		}
		if cp := tab.text(".checkpoint"); !strings.Contains(cp, "Signature valid") {
			t.Errorf("the checkpoint's signature is not shown as verified:\n%s", cp)
		}
		tab.verifyRecords()
	})

	t.Run("researcher sees the practice chart with small cells suppressed, never 0", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, quentin)
		if got := tab.attr("main", "data-route"); got != "/stats" {
			t.Fatalf("the researcher starts on %q, want the statistics", got)
		}
		bars := tab.count("#practices-chart svg.chart .bar-row")
		if bars != len(domain.Practices) {
			t.Errorf("the chart has %d bars, want one per practice code (%d)", bars, len(domain.Practices))
		}
		for _, r := range tab.rows(`table.stats tr[data-suppressed="true"]`) {
			if !strings.Contains(r, "suppressed (< 5 cases)") {
				t.Errorf("a suppressed practice row does not say so: %q", r)
			}
		}
		if values := tab.rows("#practices-chart svg.chart .bar-value"); slices.Contains(values, "0") {
			t.Errorf("the chart shows a cell as 0: %q", values)
		}
	})

	t.Run("a pasted token signs in and stays in this tab only", func(t *testing.T) {
		tab := b.tab(t)
		tab.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(h.Base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#token-input`)),
			chromedp.SetValue(chromedp.CSS(`#token-input`), h.token(caseworker)),
			chromedp.SetValue(chromedp.CSS(`#token-purpose`), "case-management"),
			chromedp.Click(chromedp.CSS(`.token-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases"]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[href="#/cases/`+c.id+`"]`)),
		)
		// Lasting storage may hold the language chosen, nothing else.
		stored := tab.eval(`String(sessionStorage.getItem('liaison.session') !== null && Object.keys(localStorage).every((k) => k === 'liaison.lang') && document.cookie === '')`)
		if stored != "true" {
			t.Error("the token is not kept in sessionStorage only")
		}
	})
}

var demoLoaded = regexp.MustCompile(`demo data loaded`)

// waitDemo waits until the demo data set is loaded.
func (h *hub) waitDemo() {
	h.t.Helper()
	if _, err := h.WaitLine(demoLoaded, 60*time.Second); err != nil {
		h.t.Fatalf("the demo data was not loaded: %v", err)
	}
	if r := h.do(http.MethodGet, "/v1/cases?limit=1", &caseworker, "case-management", nil); !strings.Contains(string(r.Body), `"case_id"`) {
		h.t.Fatalf("the demo hub lists no case: %d %s", r.Status, r.Body)
	}
}

// demoCase is a case that the exit worker (with consent) and the analyst both
// see, whose sections tell their views apart.
type demoCase struct {
	id   string
	tool string // the risk tool, withheld from civil society
	note string // an intelligence note, never shown to civil society
}

// pickCase finds, through the API, a case where the exit worker reads risk
// items with fields withheld and the analyst reads the full risk, an
// intelligence note, and is refused the needs.
func pickCase(t *testing.T, h *hub) demoCase {
	t.Helper()
	type item struct {
		Type     string         `json:"type"`
		Data     map[string]any `json:"data"`
		Redacted []string       `json:"redacted"`
	}
	section := func(id *identity, purpose, caseID, name string) (int, []item) {
		r := h.do(http.MethodGet, "/v1/cases/"+caseID+"/sections/"+name, id, purpose, nil)
		var out struct {
			Items []item `json:"items"`
		}
		json.Unmarshal(r.Body, &out)
		return r.Status, out.Items
	}
	var list struct {
		Items []struct {
			ID string `json:"case_id"`
		} `json:"items"`
	}
	json.Unmarshal(h.do(http.MethodGet, "/v1/cases?limit=500", &exitWorker, "reintegration", nil).Body, &list)
	for _, c := range list.Items {
		_, risk := section(&exitWorker, "reintegration", c.ID, "risk")
		if len(risk) == 0 || len(risk[0].Redacted) == 0 {
			continue
		}
		_, full := section(&analyst, "risk-management", c.ID, "risk")
		_, sec := section(&analyst, "risk-management", c.ID, "security")
		needs, _ := section(&analyst, "risk-management", c.ID, "needs")
		if len(full) == 0 || needs != http.StatusForbidden {
			continue
		}
		tool, _ := full[0].Data["tool"].(string)
		for _, it := range sec {
			note, _ := it.Data["note"].(string)
			if it.Type == "IntelligenceNoteAdded" && note != "" && tool != "" {
				return demoCase{id: c.ID, tool: tool, note: note}
			}
		}
	}
	t.Fatalf("no demo case fits (%d cases visible to the exit worker)", len(list.Items))
	return demoCase{}
}

// chromium returns the path of a Chromium or Chrome, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (/usr/bin/chromium, chromium, chromium-browser, google-chrome): the web console's browser tests need one; CI installs Debian's chromium")
	return ""
}

// browser is one headless Chromium for the whole test.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("starting %s: %v", exe, err)
	}
	return &browser{ctx: ctx}
}

// tab is one browser tab (its own sessionStorage: its own sign-in). The
// page's uncaught exceptions and Content-Security-Policy violations fail the
// test.
type tab struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func (b *browser) tab(t *testing.T) *tab {
	t.Helper()
	return b.tabFor(t, 30*time.Second)
}

// tabFor is a tab whose steps must all be done within d.
func (b *browser) tabFor(t *testing.T, d time.Duration) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	tb := &tab{t: t}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				tb.mu.Lock()
				tb.errors = append(tb.errors, m.Text)
				tb.mu.Unlock()
			}
		}
	}()
	tctx, tcancel := context.WithTimeout(ctx, d)
	tb.ctx = tctx
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errors {
			t.Errorf("the page reported: %s", e)
		}
		tcancel()
		cancel()
	})
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v\npage: %s", err, tb.pageText())
	}
}

// pageText is what the page shows, for failure messages (never fails itself).
func (tb *tab) pageText() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 3*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText.slice(0, 3000)`))
	return s
}

func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v\npage: %s", sel, err, tb.pageText())
	}
	return s
}

func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	return tb.eval(fmt.Sprintf(`String(document.querySelector(%q)?.getAttribute(%q) ?? "")`, sel, name))
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		tb.t.Fatal(err)
	}
	return n
}

// rows returns the text of every element sel matches.
func (tb *tab) rows(sel string) []string {
	tb.t.Helper()
	out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q), (r) => r.innerText)`, sel)))
	if err != nil {
		tb.t.Fatal(err)
	}
	return out
}

func (tb *tab) screenshot() []byte {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	return png
}

// signIn picks a demo identity on the sign-in page and waits for the start page.
func (tb *tab) signIn(base, sub string) {
	tb.t.Helper()
	persona := chromedp.CSS(`button[data-sub="` + sub + `"]`)
	tb.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/"), chromedp.WaitVisible(persona), chromedp.Click(persona),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"]:not([data-route="/signin"])`)))
}

// openCase clicks the case in the case list and waits until all its sections are drawn.
func (tb *tab) openCase(id string) {
	tb.t.Helper()
	link := chromedp.CSS(`a[href="#/cases/` + id + `"]`)
	tb.do(chromedp.WaitVisible(link), chromedp.Click(link),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases/`+id+`"]`)))
}

// waitHash waits until the page for a hash holding part is drawn.
func (tb *tab) waitHash(part string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => { const m = document.querySelector('main'); return m.dataset.ready === 'true' && m.dataset.hash === location.hash && location.hash.includes(%q); })()`, part)
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("the page for %q was not drawn: %v\npage: %s", part, err, tb.pageText())
	}
}

// verifyRecords has the browser prove every record on the page against the
// signed checkpoint (re-encoding each record, RFC 6962 inclusion proofs), and
// checks that none fails and some are proven. Records newer than the latest
// checkpoint are pending: it tries again for a while until some are signed.
func (tb *tab) verifyRecords() {
	tb.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		tb.do(chromedp.Click(chromedp.CSS(`#verify-all`)), chromedp.WaitEnabled(chromedp.CSS(`#verify-all`)))
		bad := tb.rows(`.proof-result[data-state="bad"], .proof-result[data-state="error"]`)
		if len(bad) > 0 {
			tb.t.Fatalf("%d records failed verification in the browser: %q", len(bad), bad)
		}
		if tb.count(`.proof-result[data-state="ok"]`) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if n := tb.count(`.proof-result[data-state="ok"]`); n == 0 {
		tb.t.Errorf("no record was proven in a signed checkpoint:\n%s", tb.pageText())
	}
}
