package liaison_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/liaison-hub/liaison/api"
)

// The console as caseworkers use it: forms generated from the hub's schemas
// for what the protocol lets them record, errors beside the fields, a write
// that lost a race reloaded and re-applied, a sign-in that expired renewed
// without losing the page, and the console in French and German.

const (
	anna = "anna@prison-service"
	ben  = "ben@prison-service"
)

func TestConsoleCaseworkers(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	h := startHub(t, "", "--demo", "--demo-cases", "12")
	h.waitDemo()
	b := newBrowser(t, exe)
	const ref = "W-2026-0001"
	var caseID string
	note := "Talked about the wedding of his brother; wants to go."

	t.Run("a caseworker opens a case and records a needs assessment and an intervention", func(t *testing.T) {
		tab := b.tabWithin(t, 3*time.Minute)
		tab.signInChecked(h.Base, anna, "sign-in")
		tab.axe("case list")
		tab.do(chromedp.Click(chromedp.CSS(`#open-case`)), chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases/new"]`)))
		tab.axe("open a case")
		tab.do(chromedp.SetValue(chromedp.CSS(`input[name="subject_ref"]`), ref),
			chromedp.SetValue(chromedp.CSS(`select[name="target_group"]`), "returnee"),
			chromedp.SetValue(chromedp.CSS(`select[name="gender"]`), "male"),
			chromedp.SetValue(chromedp.CSS(`select[name="regime"]`), "dispersion"),
			chromedp.Click(chromedp.CSS(`form.event-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] .case-summary`)))
		caseID = tab.attr(".view", "data-case-id")
		if !strings.HasPrefix(tab.attr("main", "data-route"), "/cases/") || caseID == "" {
			t.Fatalf("opening a case did not lead to it:\n%s", tab.pageText())
		}
		if got := tab.text(".case-summary"); !strings.Contains(got, ref) {
			t.Errorf("the new case does not show its reference:\n%s", got)
		}
		tab.axe("case")

		needs := tab.openForm("NeedsAssessmentRecorded")
		row := func(n int) string { return fmt.Sprintf(`%s fieldset.row:nth-of-type(%d) `, needs, n) }
		tab.do(chromedp.SetValue(chromedp.CSS(row(1)+`select[name="area"]`), "housing"),
			chromedp.SetValue(chromedp.CSS(row(1)+`select[name="level"]`), "high"),
			chromedp.SetValue(chromedp.CSS(row(1)+`textarea[name="note"]`), "no address after release"),
			chromedp.Click(chromedp.CSS(needs+` button.add-row`)),
			chromedp.SetValue(chromedp.CSS(row(2)+`select[name="area"]`), "employment"),
			chromedp.SetValue(chromedp.CSS(row(2)+`select[name="level"]`), "moderate"))
		tab.axe("form: needs assessment")
		if os.Getenv("LIAISON_SCREENSHOT") == "1" {
			// A laptop's width, tall enough to show the case and the form being filled.
			tab.do(chromedp.EmulateViewport(1366, 1180), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
				chromedp.Sleep(300*time.Millisecond))
			if err := os.WriteFile("../web/screenshot.png", tab.screenshot(), 0o644); err != nil {
				t.Fatal(err)
			}
			tab.do(chromedp.EmulateViewport(1366, 768))
		}
		tab.submit(needs)
		tab.waitText("#section-needs", "no address after release")
		if got := tab.text("#section-needs"); !strings.Contains(got, "Housing") || !strings.Contains(got, "High") || !strings.Contains(got, "Employment") {
			t.Errorf("the needs section does not show the assessment in words:\n%s", got)
		}

		// An intervention, first without its date: the hub's error beside the field.
		iv := tab.openForm("InterventionRecorded")
		tab.do(chromedp.SetValue(chromedp.CSS(iv+` select[name="practice_code"]`), "08"),
			chromedp.SetValue(chromedp.CSS(iv+` select[name="format"]`), "individual"),
			chromedp.SetValue(chromedp.CSS(iv+` input[name="duration_minutes"]`), "60"),
			chromedp.SetValue(chromedp.CSS(iv+` textarea[name="summary"]`), "first session: expectations and rules"),
			chromedp.Click(chromedp.CSS(iv+` button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(iv+` .error-summary`)))
		date := iv + ` input[name="date"]`
		if got := tab.attr(date, "aria-invalid"); got != "true" {
			t.Errorf("the date input is not marked invalid (aria-invalid %q)", got)
		}
		errID := tab.eval(fmt.Sprintf(`document.querySelector(%q).closest('.field').querySelector('.field-error').id`, date))
		if got := tab.attr(date, "aria-describedby"); !strings.Contains(got, errID) {
			t.Errorf("the date input is not described by its error (aria-describedby %q, error %q)", got, errID)
		}
		if got := tab.text(iv + ` .error-summary`); !strings.Contains(got, "Date") || !strings.Contains(got, "is required") {
			t.Errorf("the error summary does not name the date:\n%s", got)
		}
		tab.axe("form with an error")
		tab.do(chromedp.Click(chromedp.CSS(iv + ` .error-summary a`)))
		if got := tab.eval(`document.activeElement.name`); got != "date" {
			t.Errorf("the summary's link moved the focus to %q, want the date input", got)
		}
		tab.do(chromedp.SetValue(chromedp.CSS(date), "2026-03-02"))
		tab.submit(iv)
		tab.waitText("#section-interventions", "first session")
		if got := tab.text("#section-interventions"); !strings.Contains(got, "08 — Classic social work") {
			t.Errorf("the intervention does not name its practice:\n%s", got)
		}
		tl := tab.text("#timeline")
		for _, want := range []string{"Case opened", "Needs assessment", "Intervention"} {
			if !strings.Contains(tl, want) {
				t.Errorf("the timeline lacks %q:\n%s", want, tl)
			}
		}
		// Newest first, at a click.
		tab.do(chromedp.Click(chromedp.CSS(`#timeline-order`)))
		if first := tab.eval(`document.querySelector('#timeline .timeline > li').dataset.type`); first != "InterventionRecorded" {
			t.Errorf("newest first, the timeline starts with %q", first)
		}
		tab.do(chromedp.Click(chromedp.CSS(`#timeline-order`)))

		// The participant consents to the exit worker.
		cg := tab.openForm("ConsentGiven")
		tab.do(chromedp.Click(chromedp.CSS(cg + ` input[name="organisations"][value="exit-ngo"]`)))
		tab.submit(cg)
		tab.waitText("#section-consent", "Exit NGO")
	})
	if caseID == "" {
		t.Fatal("no case was opened: the other flows need it")
	}

	t.Run("an exit worker records a counselling note that the prison cannot see", func(t *testing.T) {
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, leon)
		tab.do(chromedp.SetValue(chromedp.CSS(`input[name="q"]`), "w-2026"),
			chromedp.Click(chromedp.CSS(`form.case-filters button[type="submit"]`)))
		tab.waitHash("q=w-2026")
		if rows := tab.rows("table.cases tbody tr"); len(rows) != 1 || !strings.Contains(rows[0], ref) {
			t.Fatalf("searching w-2026 finds %q, want the one case %s", rows, ref)
		}
		tab.openCase(caseID)
		cn := tab.openForm("CounsellingNoteAdded")
		if got := tab.eval(fmt.Sprintf(`document.querySelector('%s select[name="classification"]').value`, cn)); got != "TLP:AMBER+STRICT" {
			t.Errorf("the counselling note's label is %q by default, want TLP:AMBER+STRICT", got)
		}
		tab.do(chromedp.SetValue(chromedp.CSS(cn+` input[name="date"]`), "2026-03-05"),
			chromedp.SetValue(chromedp.CSS(cn+` textarea[name="note"]`), note))
		tab.submit(cn)
		tab.waitText("#section-counselling", note)

		prison := b.tabWithin(t, time.Minute)
		prison.signIn(h.Base, anna)
		prison.openCaseByID(h.Base, caseID)
		if got := prison.attr("#section-counselling", "data-state"); got != "loaded" {
			t.Errorf("the prison's counselling section is %q, want its own (empty) notes", got)
		}
		if page := prison.text("main"); strings.Contains(page, note) || strings.Contains(page, "Counselling note") {
			t.Errorf("the prison sees the exit worker's counselling note:\n%s", page)
		}
	})

	t.Run("a write that lost a race is reloaded and re-applied", func(t *testing.T) {
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, anna)
		tab.openCaseByID(h.Base, caseID)
		iv := tab.openForm("InterventionRecorded")
		tab.do(chromedp.SetValue(chromedp.CSS(iv+` select[name="practice_code"]`), "01"),
			chromedp.SetValue(chromedp.CSS(iv+` input[name="date"]`), "2026-03-09"),
			chromedp.SetValue(chromedp.CSS(iv+` textarea[name="summary"]`), "motivation talk"))
		// Meanwhile, a colleague writes through the API.
		colleague := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: ben}
		r := h.do(http.MethodPost, "/v1/cases/"+caseID+"/events", &colleague, "",
			map[string]any{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "03", "date": "2026-03-08"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("the colleague's write: %d %s", r.Status, r.Body)
		}
		tab.do(chromedp.Click(chromedp.CSS(iv+` button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(iv+` .conflict`)))
		if got := tab.text(iv + ` .conflict`); !strings.Contains(got, "Someone recorded something on this case while you were writing") {
			t.Errorf("the conflict is not said plainly:\n%s", got)
		}
		tab.do(chromedp.Click(chromedp.CSS(iv+` button.reapply`)), chromedp.WaitVisible(chromedp.CSS(iv+` .reapplied`)))
		tab.waitText("#section-interventions", "03 — Biographical work")
		if got := tab.value(iv + ` textarea[name="summary"]`); got != "motivation talk" {
			t.Errorf("after the reload the summary holds %q, want the user's text kept", got)
		}
		tab.submit(iv)
		tab.waitText("#section-interventions", "motivation talk")
	})

	t.Run("an expired token keeps the page and asks to sign in again", func(t *testing.T) {
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, anna)
		tab.openCaseByID(h.Base, caseID)
		fc := tab.openForm("FamilyContactRecorded")
		tab.do(chromedp.SetValue(chromedp.CSS(fc+` input[name="date"]`), "2026-03-10"),
			chromedp.SetValue(chromedp.CSS(fc+` textarea[name="note"]`), "Brother visited; good contact."))
		expired, err := api.MintDevToken(readDevKey(t, h.data), api.TokenRequest{
			Subject: anna, Agency: "prison-service", Roles: []string{"caseworker"}, TTL: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		tab.eval(fmt.Sprintf(`(() => { const s = JSON.parse(sessionStorage.getItem('liaison.session')); s.token = %q; sessionStorage.setItem('liaison.session', JSON.stringify(s)); return ''; })()`, expired))
		tab.do(chromedp.Click(chromedp.CSS(fc+` button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`dialog#reauth[open]`)))
		if got := tab.attr("main", "data-route"); got != "/cases/"+caseID {
			t.Errorf("the page moved to %q when the token expired", got)
		}
		if got := tab.value(fc + ` textarea[name="note"]`); got != "Brother visited; good contact." {
			t.Errorf("the half-filled form lost its note: %q", got)
		}
		tab.axe("sign in again (dialog)")
		tab.do(chromedp.Click(chromedp.CSS(`#reauth-persona`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog#reauth`)))
		tab.waitText("#section-family", "Brother visited; good contact.")
	})

	t.Run("the console speaks French and German", func(t *testing.T) {
		tab := b.tabWithin(t, 2*time.Minute)
		tab.signIn(h.Base, anna)
		tab.openCaseByID(h.Base, caseID)
		keys := catalogueKeys(t)
		check := func(lang string, want ...string) {
			t.Helper()
			tab.chooseLanguage(lang)
			page := tab.eval(`document.body.innerText`)
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("%s: the page lacks %q", lang, w)
				}
			}
			for _, k := range keys {
				if strings.Contains(page, k) {
					t.Errorf("%s: the page shows the catalogue key %q", lang, k)
				}
			}
		}
		check("fr", "Dossiers", "Besoins", "Évaluation des besoins", "Chronologie", "Finalité", "Gestion du dossier", "Logement")
		tab.axe("case (French)")
		check("de", "Fälle", "Bedarfe", "Bedarfsanalyse", "Verlauf", "Zweck", "Fallführung", "Wohnen")
		// The choice is remembered.
		tab.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases/`+caseID+`"]`)))
		if got := tab.attr("html", "lang"); got != "de" {
			t.Errorf("after a reload the page is in %q, want de", got)
		}
		tab.chooseLanguage("en")
	})
	t.Logf("TestConsoleCaseworkers took %v", time.Since(start).Round(time.Millisecond))
}

// catalogueKeys returns the keys of the English catalogue that look like
// keys (a dot inside): none may ever be shown.
func catalogueKeys(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../web/static/ui/i18n/en.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^[a-z]+\.[A-Za-z][\w.:+-]*$`)
	var out []string
	for k := range m {
		if key.MatchString(k) {
			out = append(out, k)
		}
	}
	return out
}

// tabWithin is tab with a longer deadline, for a flow of many steps.
func (b *browser) tabWithin(t *testing.T, d time.Duration) *tab {
	t.Helper()
	return b.tabFor(t, d)
}

// signInChecked is signIn with the sign-in page checked by axe-core first.
func (tb *tab) signInChecked(base, sub, page string) {
	tb.t.Helper()
	persona := chromedp.CSS(`button[data-sub="` + sub + `"]`)
	tb.do(chromedp.EmulateViewport(1366, 768), chromedp.Navigate(base+"/"), chromedp.WaitVisible(persona),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/signin"]`)))
	tb.axe(page)
	tb.do(chromedp.Click(persona), chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"]:not([data-route="/signin"])`)))
}

// openCaseByID goes to a case's page by its address and waits until it is drawn.
func (tb *tab) openCaseByID(base, id string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(base+"/#/cases/"+id),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"][data-route="/cases/`+id+`"]`)))
}

// openForm opens the form of an event type on the case page and returns its selector.
func (tb *tab) openForm(typ string) string {
	tb.t.Helper()
	form := `form.event-form[data-type="` + typ + `"]`
	tb.do(chromedp.Click(chromedp.CSS(`button.write-type[data-type="`+typ+`"]`)), chromedp.WaitVisible(chromedp.CSS(form)))
	return form
}

// submit sends a form and waits until the hub recorded it.
func (tb *tab) submit(form string) {
	tb.t.Helper()
	typ := tb.attr(form, "data-type")
	tb.do(chromedp.Click(chromedp.CSS(form + ` button[type="submit"]`)))
	js := fmt.Sprintf(`document.querySelector('.write-done[data-type=%q]') !== null || document.querySelector(%q)?.querySelector('.problem, .error-summary') != null`, typ, form)
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("the %s form was not answered: %v\npage: %s", typ, err, tb.pageText())
	}
	if tb.count(`.write-done[data-type="`+typ+`"]`) == 0 {
		tb.t.Fatalf("the %s form was refused:\n%s", typ, tb.pageText())
	}
}

// waitText waits until the element sel shows want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(document.querySelector(%q)?.innerText || '').includes(%q)`, sel, want)
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("%s never showed %q: %v\n%s", sel, want, err, tb.pageText())
	}
}

// value is the current value of a form control.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	return tb.eval(fmt.Sprintf(`document.querySelector(%q).value`, sel))
}

// chooseLanguage picks a language in the header and waits until the page is drawn in it.
func (tb *tab) chooseLanguage(lang string) {
	tb.t.Helper()
	tb.eval(fmt.Sprintf(`(() => { const s = document.getElementById('lang-select'); s.value = %q; s.dispatchEvent(new Event('change')); return ''; })()`, lang))
	js := fmt.Sprintf(`document.documentElement.lang === %q && document.querySelector('main').dataset.ready === 'true' && document.getElementById('lang-select')?.value === %q`, lang, lang)
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("the page did not switch to %s: %v\n%s", lang, err, tb.pageText())
	}
}
