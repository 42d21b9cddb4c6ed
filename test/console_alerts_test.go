package liaison_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleAlerts: the privacy monitor's alerts in the console. An NGO
// account probes case ids on a demo hub; the auditor finds the alert on the
// Alerts page (reached from the navigation, checked by axe-core), with the
// charts of reads, denials, break-glass and alerts per organisation;
// acknowledging without a note is refused and says so; with a note the
// alert is acknowledged, then closed, and stays so after a reload.
func TestConsoleAlerts(t *testing.T) {
	exe := chromium(t)
	h := startHub(t, "", "--demo", "--demo-cases", "20")
	h.waitDemo()
	mira := identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "mira@exit-ngo"}
	for i := range 6 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 4200+i)
		if r := h.do("GET", "/v1/cases/"+id, &mira, "reintegration", nil); r.Status != http.StatusNotFound {
			t.Fatalf("a made-up case id: %d %s", r.Status, r.Body)
		}
	}
	waitMonitor(t, h)

	b := newBrowser(t, exe)
	tab := b.tabFor(t, 2*time.Minute)
	tab.signIn(h.Base, olaf)
	tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/alerts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/alerts"]`)))
	card := `article.alert-card[data-rule="probing"]`
	if n := tab.count(card); n != 1 {
		t.Fatalf("%d probing alerts on the page, want 1:\n%s", n, tab.pageText())
	}
	if got := tab.text(card); !strings.Contains(got, "mira@exit-ngo") || !strings.Contains(got, "Probing case ids") || !strings.Contains(got, "case ids not found") {
		t.Errorf("the alert does not say who and what:\n%s", got)
	}
	if n := tab.count(`section[data-agency="exit-ngo"] figure.chart-box svg.chart-time .s-alerts`); n != 1 {
		t.Errorf("no chart of the NGO's alerts:\n%s", tab.pageText())
	}
	if got := tab.text(`section[data-agency="exit-ngo"] table`); !strings.Contains(got, "Alerts") {
		t.Errorf("the chart's table has no alerts column:\n%s", got)
	}
	tab.axe("alerts")

	// No note: refused, and the page says which field.
	tab.do(chromedp.Click(chromedp.CSS(card+` button[value="acknowledge"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .alert-form .problem`)))
	if got := tab.text(card + ` .alert-form .problem`); !strings.Contains(strings.ToLower(got), "note") {
		t.Errorf("the refusal does not name the note:\n%s", got)
	}
	if got := tab.attr(card, "data-state"); got != "open" {
		t.Errorf("after a refusal the alert is %q", got)
	}
	tab.do(chromedp.SetValue(chromedp.CSS(card+` textarea[name="note"]`), "Asked the NGO: a mentor's phone app retried old links."),
		chromedp.Click(chromedp.CSS(card+` button[value="acknowledge"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-state="acknowledged"]`)))
	if got := tab.text(card + ` .alert-notes`); !strings.Contains(got, "phone app") || !strings.Contains(got, olaf) {
		t.Errorf("the note is not shown with its author:\n%s", got)
	}
	tab.do(chromedp.SetValue(chromedp.CSS(card+` textarea[name="note"]`), "Closed: the app is fixed."),
		chromedp.Click(chromedp.CSS(card+` button[value="close"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-state="closed"]`)))
	if n := tab.count(card + ` .alert-form`); n != 0 {
		t.Errorf("a closed alert still offers its form")
	}
	tab.do(chromedp.Navigate(h.Base + "/#/alerts?state=closed"))
	tab.waitHash("state=closed")
	if got := tab.attr(card, "data-state"); got != "closed" || tab.count(card+` .alert-notes li`) != 2 {
		t.Errorf("after a reload: state %q, notes:\n%s", got, tab.text(card))
	}
	tab.axe("alerts, closed")
}
