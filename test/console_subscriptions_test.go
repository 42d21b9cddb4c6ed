package liaison_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	liaisonhub "github.com/liaison-hub/liaison/hub"
)

// TestConsoleSubscriptions: an NGO's exit worker manages the webhook
// endpoints of her organisation in the console (#/subscriptions). A real
// hub pushes her feed to a loopback receiver in the test that fails some
// deliveries. The page is offered to her and not to the oversight body; a
// plain-http address elsewhere is refused next to the field; the endpoint
// registered through the form shows its secret once (the one the receiver
// verifies the signatures with); the delivery log shows a failed and a
// successful delivery with their webhook ids; an endpoint failing every
// delivery is paused (the hub runs with --webhook-backoff 20ms, so that the
// 10 failures in a row take seconds, not the 8.5 minutes of the default 1 s
// backoff), resumed from the console and delivers the same page, under the
// same webhook id, again; it is deleted after a confirmation. axe-core
// checks the page empty with a field error, with the secret and the log,
// and with a paused subscription.
func TestConsoleSubscriptions(t *testing.T) {
	exe := chromium(t)

	// The receiver: answers by the mode the test sets, keeps every request.
	type delivery struct {
		id, ts, sig string
		body        []byte
		status      int
	}
	var (
		mu       sync.Mutex
		got      []delivery
		failNext = 2     // this many requests get 500 first
		failAll  = false // every request gets 500
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		status := http.StatusOK
		if failAll || failNext > 0 {
			status = http.StatusInternalServerError
			if failNext > 0 {
				failNext--
			}
		}
		got = append(got, delivery{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, status})
		w.WriteHeader(status)
	}))
	defer srv.Close()
	received := func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
	setFailAll := func(v bool) {
		mu.Lock()
		failAll = v
		mu.Unlock()
	}

	h := startHub(t, "", "--demo", "--demo-cases", "8", "--webhook-backoff", "20ms")
	h.waitDemo()
	b := newBrowser(t, exe)
	leonID := identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "probe-subs@exit-ngo"}

	t.Run("the oversight body is not offered the page", func(t *testing.T) {
		tab := b.tab(t)
		tab.signIn(h.Base, olaf)
		if n := tab.count(`#nav a[href="#/subscriptions"]`); n != 0 {
			t.Errorf("the auditor, whose organisation may follow no feed, is offered the subscriptions page")
		}
	})

	tab := b.tabWithin(t, 4*time.Minute)
	tab.signIn(h.Base, leon)
	tab.do(chromedp.Click(chromedp.CSS(`#nav a[href="#/subscriptions"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/subscriptions"]`)))
	if got := tab.text(`.subs-list`); !strings.Contains(got, "Your organisation has no subscription") {
		t.Errorf("a new hub lists subscriptions:\n%s", got)
	}
	// The purpose picker: the purposes the hub lets the NGO follow a feed for, hers first.
	var me struct {
		Services map[string][]string `json:"services"`
	}
	json.Unmarshal(h.do(http.MethodGet, "/v1/me", &leonID, "", nil).Body, &me)
	offered := tab.rows(`#subs-purpose option`)
	values := strings.Fields(tab.eval(`Array.from(document.querySelectorAll('#subs-purpose option'), (o) => o.value).join(' ')`))
	if len(me.Services["feed"]) == 0 || !slices.Equal(values, me.Services["feed"]) || tab.value(`#subs-purpose`) != "reintegration" {
		t.Errorf("the purpose picker offers %q (%q, %q chosen), the hub lets the NGO follow %q", offered, values, tab.value(`#subs-purpose`), me.Services["feed"])
	}

	// A plain-http address that is not loopback: the hub's refusal next to the field.
	tab.do(chromedp.SetValue(chromedp.CSS(`#subs-url`), "http://partner.example/hook"),
		chromedp.Click(chromedp.CSS(`.subs-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#subs-url[aria-invalid="true"]`)))
	errID := tab.attr(`#subs-url`, "aria-describedby")
	if got := tab.text(`.subs-form .field-error`); !strings.Contains(got, "Must be an https address") || !strings.Contains(errID, tab.attr(`.subs-form .field-error`, "id")) {
		t.Errorf("the URL's error %q is not tied to the field (aria-describedby %q)", got, errID)
	}
	if got := tab.attr(`.subs-out .problem`, "data-status"); got != "400" {
		t.Errorf("the refusal's status is %q, want 400", got)
	}
	tab.axe("feed subscriptions, a field error")

	// Register the receiver: the secret, once.
	endpoint := srv.URL + "/liaison"
	tab.do(chromedp.SetValue(chromedp.CSS(`#subs-url`), endpoint),
		chromedp.Click(chromedp.CSS(`.subs-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.secret-box #subs-secret`)))
	secret := tab.value(`#subs-secret`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret box shows %q", secret)
	}
	if got := tab.text(`.secret-box`); !strings.Contains(got, "Shown this once") || !strings.Contains(got, "the hub will not show it again") {
		t.Errorf("the secret is not said to be shown once:\n%s", got)
	}
	if got := tab.attr(`#subs-url`, "aria-invalid"); got != "" {
		t.Errorf("after a registration the URL field is still marked invalid")
	}
	card := `article.subscription`
	tab.do(chromedp.WaitVisible(chromedp.CSS(card)))
	subID := tab.attr(card, "data-id")
	if got := tab.text(card); !strings.Contains(got, endpoint) || !strings.Contains(got, "Active") || !strings.Contains(got, "Reintegration") || !strings.Contains(got, "leon@exit-ngo") {
		t.Errorf("the subscription does not show its endpoint, state, purpose and owner:\n%s", got)
	}

	// Something new for the NGO: a prison case it has consent for.
	caseID := openCase(t, h, prisonCaseworker, "SUBS-2026-0001")
	appendOK(t, h, caseID, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)

	// The delivery log: two failures (500), then the same page delivered.
	tab.refreshUntil(card+` tr.delivery[data-ok="true"]`, "a successful delivery in the log")
	rows := tab.rows(card + ` tr.delivery`)
	if len(rows) < 3 || !strings.Contains(rows[len(rows)-1], "Failed: answered 500") {
		t.Errorf("the log does not start with a failure (newest first):\n%s", strings.Join(rows, "\n"))
	}
	if !strings.Contains(rows[0], "Delivered (answered 200)") {
		t.Errorf("the newest delivery is not the successful one:\n%s", strings.Join(rows, "\n"))
	}
	logIDs := tab.rows(card + ` tr.delivery td:nth-child(2)`)
	firstID := logIDs[len(logIDs)-1]
	seen := map[string]bool{}
	for _, d := range received() {
		seen[d.id] = true
	}
	for _, id := range logIDs {
		if !seen[id] {
			t.Errorf("the log shows webhook id %q, which the receiver never got", id)
		}
	}
	if r := received(); len(r) < 3 || r[0].id != firstID || r[2].id != firstID || r[0].status != 500 || r[2].status != 200 {
		t.Errorf("the failed page was not sent again under its webhook id %q", firstID)
	}
	tab.axe("feed subscriptions, the secret and a delivery log")

	// The secret goes when she says she stored it, and no page shows it again.
	tab.do(chromedp.Click(chromedp.CSS(`#subs-secret-done`)))
	if tab.count(`.secret-box`) != 0 {
		t.Errorf("the secret box stays after “I have stored it”")
	}
	tab.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/subscriptions"] `+card)))
	if strings.Contains(tab.eval(`document.body.innerHTML`), secret) {
		t.Errorf("the secret is shown again after a reload")
	}

	// The endpoint fails every delivery: the hub pauses it after 10 in a row.
	setFailAll(true)
	appendOK(t, h, caseID, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-02"}, nil)
	tab.refreshUntil(card+`[data-status="paused"]`, "the subscription paused")
	if got := tab.text(card + ` .sub-state`); !strings.Contains(got, "Paused") || !strings.Contains(got, "after 10 failed deliveries in a row") || !strings.Contains(got, "answered 500") {
		t.Errorf("the paused state does not say why:\n%s", got)
	}
	pausedID := tab.rows(card + ` tr.delivery td:nth-child(2)`)[0]
	if n := tab.count(card + ` tr.delivery[data-ok="false"]`); n < 10 {
		t.Errorf("the log shows %d failures, want at least 10", n)
	}
	tab.axe("feed subscriptions, a paused subscription")

	// Resumed, it delivers the page it failed to, under the same webhook id.
	setFailAll(false)
	tab.do(chromedp.Click(chromedp.CSS(card+` button.resume-sub`)),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-status="active"]`)))
	tab.refreshUntil(card+` tr.delivery:first-child[data-ok="true"]`, "a delivery after the resumption")
	if got := tab.rows(card + ` tr.delivery td:nth-child(2)`)[0]; got != pausedID {
		t.Errorf("after the resumption the hub delivered %q, not the page that failed (%q)", got, pausedID)
	}
	if n := tab.count(card + ` button.resume-sub`); n != 0 {
		t.Errorf("an active subscription offers to resume")
	}

	// Verify what the receiver got with the secret the console showed.
	for _, d := range received() {
		want, err := liaisonhub.SignWebhook(secret, d.id, d.ts, d.body)
		if err != nil || d.sig != want {
			t.Errorf("a delivery's signature does not verify with the console's secret: %q", d.sig)
		}
		var env struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(d.body, &env) != nil || env.Type != "liaison.feed" {
			t.Errorf("a delivery is not a feed page: %.200s", d.body)
		}
	}

	// Delete, after a confirmation that can be declined.
	tab.do(chromedp.Click(chromedp.CSS(card+` button.delete-sub`)),
		chromedp.WaitVisible(chromedp.CSS(card+` .confirm-delete`)))
	if got := tab.text(card + ` .confirm-delete`); !strings.Contains(got, "Delete the subscription to "+endpoint+"?") || !strings.Contains(got, "cannot be undone") {
		t.Errorf("the confirmation does not say what it deletes:\n%s", got)
	}
	if got := tab.eval(`document.activeElement.closest('.confirm-delete') ? 'in' : 'out'`); got != "in" {
		t.Errorf("the focus does not move to the confirmation")
	}
	tab.do(chromedp.Click(chromedp.CSS(card + ` button.keep-sub`)))
	if tab.count(card+` .confirm-delete:not([hidden])`) != 0 || tab.count(card) != 1 {
		t.Errorf("“Keep it” does not keep the subscription")
	}
	tab.do(chromedp.Click(chromedp.CSS(card+` button.delete-sub`)),
		chromedp.WaitVisible(chromedp.CSS(card+` button.confirm-delete-sub`)),
		chromedp.Click(chromedp.CSS(card+` button.confirm-delete-sub`)))
	tab.waitText(`.subs-list`, "Your organisation has no subscription")
	r := h.do(http.MethodGet, "/v1/subscriptions", &leonID, "", nil)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), subID) {
		t.Errorf("after the deletion the hub lists %d %s", r.Status, r.Body)
	}
	before := len(received())
	appendOK(t, h, caseID, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-03"}, nil)
	time.Sleep(500 * time.Millisecond)
	if n := len(received()); n != before {
		t.Errorf("the deleted subscription got %d more deliveries", n-before)
	}
}

// refreshUntil clicks the subscriptions page's Refresh button until sel
// matches, for at most a minute.
func (tb *tab) refreshUntil(sel, what string) {
	tb.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for tb.count(sel) == 0 {
		if time.Now().After(deadline) {
			tb.t.Fatalf("waited a minute for %s:\n%s", what, tb.pageText())
		}
		time.Sleep(300 * time.Millisecond)
		tb.eval(`(() => { const b = document.querySelector('#subs-refresh'); if (b && !b.disabled) b.click(); return ''; })()`)
		time.Sleep(300 * time.Millisecond)
	}
}
