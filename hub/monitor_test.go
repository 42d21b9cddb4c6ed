package hub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
)

// monitorFixture is newFixture with a privacy monitor on its access log;
// newMonitor makes another on the same store, as a restarted hub would.
type monitorFixture struct {
	*fixture
	mon        *hub.Monitor
	newMonitor func() *hub.Monitor
}

// newMonitorFixture makes the fixture; each of configure, when given, changes
// the monitor's configuration (a webhook, a poll interval).
func newMonitorFixture(t testing.TB, configure ...func(*hub.MonitorConfig)) *monitorFixture {
	t.Helper()
	rules, err := policies.NewMonitorRules(context.Background(), policies.DefaultMonitorBundle())
	if err != nil {
		t.Fatal(err)
	}
	mf := &monitorFixture{}
	mf.fixture = newFixture(t, func(c *hub.Config) {
		st := c.Log.(*embedded.Store)
		cfg := hub.MonitorConfig{Access: c.Access, KV: st, Rules: rules, Directory: c.Policy.Directory, Projector: c.Projector,
			Logger: slog.New(slog.DiscardHandler)}
		for _, f := range configure {
			f(&cfg)
		}
		mf.newMonitor = func() *hub.Monitor {
			m, err := hub.NewMonitor(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		mf.mon = mf.newMonitor()
		c.Monitor = mf.mon
	})
	return mf
}

// alerts lists every alert matching q as the auditor.
func (f *monitorFixture) alerts(t *testing.T, q hub.AlertQuery) []hub.Alert {
	t.Helper()
	var out []hub.Alert
	for {
		var page *hub.AlertPage
		err := f.call(t, auditor, "oversight", "audit.alerts", func(ctx context.Context, c *hub.Call) (err error) {
			page, err = f.svc.Alerts(ctx, c, q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		q.Cursor = *page.NextCursor
	}
}

// byUser maps each user to the sorted rules of their alerts.
func byUser(alerts []hub.Alert) map[string][]string {
	out := map[string][]string{}
	for _, a := range alerts {
		out[a.Sub] = append(out[a.Sub], a.Rule)
	}
	for _, rules := range out {
		sort.Strings(rules)
	}
	return out
}

var (
	nightAnalyst = domain.Identity{Issuer: "test", Subject: "ia-night", Agency: "intelligence-service", Roles: []string{"analyst"}}
	glassManager = domain.Identity{Issuer: "test", Subject: "pm-max", Agency: "prison-service", Roles: []string{"glassManager"}}
	prober       = domain.Identity{Issuer: "test", Subject: "ngo-pat", Agency: "exit-ngo", Roles: []string{"mentor"}}
	officer      = domain.Identity{Issuer: "test", Subject: "po-lee", Agency: "probation-service", Roles: []string{"officer"}}
)

func rec(id domain.Identity, at time.Time, action, caseID, decision string, status int) accesslog.Record {
	return accesslog.Record{Time: at, RequestID: "r", Sub: id.Subject, Issuer: id.Issuer, Agency: id.Agency,
		Action: action, CaseID: caseID, Decision: decision, Status: status, Purpose: "risk-management"}
}

// TestMonitorFlagsMisbehaviour feeds the monitor access records of its own
// times (a Wednesday; the night in Paris, 01:00 UTC): ordinary reading by
// day, an analyst reading 80 cases in ten minutes at night, a glassManager
// breaking the glass three times in a day right after denials, a mentor
// probing case ids. Each pattern gives its alerts and the ordinary reading
// none; a monitor started again on the same store goes on where the first
// stopped, joining a new finding to the alert it belongs to.
func TestMonitorFlagsMisbehaviour(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	night := time.Date(2026, 3, 4, 1, 0, 0, 0, time.UTC)
	for i := range 12 {
		f.appendRecord(t, rec(officer, day.Add(time.Duration(i)*4*time.Minute), "section.read", fmt.Sprintf("case-%d", i%4), accesslog.Allow, 200))
	}
	// The analyst's reads, 7 s apart, come in ten batches of eight: a user's
	// reads alike in one batch and minute are evaluated once, on the last.
	// evaluated[i] is the index of the i-th read when it is evaluated.
	evaluated := map[int]uint64{}
	at := func(i int) time.Time { return night.Add(time.Duration(i) * 7 * time.Second) }
	for i := range 80 {
		idx := f.appendRecord(t, rec(nightAnalyst, at(i), "section.read", fmt.Sprintf("case-%03d", i), accesslog.Partial, 200))
		if i%8 == 7 || at(i).Minute() != at(i+1).Minute() {
			evaluated[i] = idx
		}
		if i%8 == 7 {
			if err := f.mon.CatchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// from returns the evaluated reads from the i-th on.
	from := func(i int) (idx []uint64) {
		for ; i < 80; i++ {
			if x, ok := evaluated[i]; ok {
				idx = append(idx, x)
			}
		}
		return idx
	}
	var grants []uint64
	for i, h := range []int{8, 12, 16} {
		at := day.Add(time.Duration(h-9) * time.Hour)
		caseID := fmt.Sprintf("locked-%d", i)
		f.appendRecord(t, rec(glassManager, at, "section.read", caseID, accesslog.Deny, 403))
		g := rec(glassManager, at.Add(2*time.Minute), "break-glass", caseID, accesslog.Allow, 201)
		g.BreakGlass = true
		grants = append(grants, f.appendRecord(t, g))
	}
	var probes []uint64
	for i := range 6 {
		probes = append(probes, f.appendRecord(t, rec(prober, day.Add(time.Duration(i)*time.Minute), "case.read", fmt.Sprintf("guess-%d", i), accesslog.Deny, 404)))
	}
	if err := f.mon.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	all := f.alerts(t, hub.AlertQuery{})
	got := byUser(all)
	want := map[string][]string{
		nightAnalyst.Subject: {"breadth", "off_hours", "volume"},
		glassManager.Subject: {"break_glass_after_denial", "break_glass_after_denial", "break_glass_after_denial", "break_glass_frequency"},
		prober.Subject:       {"probing"},
	}
	for who, rules := range want {
		if !slices.Equal(got[who], rules) {
			t.Errorf("alerts of %s: %v, want %v", who, got[who], rules)
		}
	}
	if len(got) != len(want) {
		t.Errorf("alerts for %v, want only %v", got, want)
	}
	for _, a := range all {
		if a.State != hub.AlertOpen || len(a.Records) == 0 || a.Records[0] < 12 {
			t.Errorf("alert %+v", a)
		}
		switch a.Rule {
		case "probing":
			if !slices.Equal(a.Records, probes[2:]) || a.Triggers != 4 {
				t.Errorf("probing alert records %v (%d), want %v", a.Records, a.Triggers, probes[2:])
			}
		case "break_glass_frequency":
			if !slices.Equal(a.Records, grants[2:]) {
				t.Errorf("break-glass frequency on %v, want %v", a.Records, grants[2:])
			}
		case "breadth": // from the 25th case on
			if want := from(24); !slices.Equal(a.Records, want) || a.Triggers != len(want) || a.OrgType != "intelligence" {
				t.Errorf("breadth alert %+v: want the evaluated reads from the 25th on, %v", a, want)
			}
		case "off_hours": // from the 10th read on
			if want := from(9); !slices.Equal(a.Records, want) {
				t.Errorf("off-hours alert on %v, want %v", a.Records, want)
			}
		case "volume": // from the 60th read on
			if want := from(59); !slices.Equal(a.Records, want) {
				t.Errorf("volume alert on %v, want %v", a.Records, want)
			}
		}
	}
	n := f.mon.Evaluated()
	if n != 12+80+6+6 {
		t.Errorf("evaluated %d records", n)
	}

	// A new monitor goes on from there: nothing evaluated twice, a new probe
	// joins the open probing alert.
	again := f.newMonitor()
	if again.Evaluated() != n {
		t.Fatalf("restarted monitor at %d, want %d", again.Evaluated(), n)
	}
	probe := f.appendRecord(t, rec(prober, day.Add(10*time.Minute), "case.read", "guess-x", accesslog.Deny, 404))
	if err := again.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	after := f.alerts(t, hub.AlertQuery{Rule: "probing"})
	if len(after) != 1 || after[0].Triggers != 5 || after[0].Records[len(after[0].Records)-1] != probe {
		t.Errorf("after a restart, probing alerts %+v", after)
	}
	if total := len(f.alerts(t, hub.AlertQuery{})); total != len(all) {
		t.Errorf("%d alerts after the restart, want %d", total, len(all))
	}
}

// TestAlertStates: auditors acknowledge and close an alert with a note, each
// change recorded; a change without a note, of a closed alert, of no alert,
// or by someone else is refused and changes nothing.
func TestAlertStates(t *testing.T) {
	f := newMonitorFixture(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		f.appendRecord(t, rec(prober, day.Add(time.Duration(i)*time.Minute), "case.read", fmt.Sprintf("guess-%d", i), accesslog.Deny, 404))
	}
	if err := f.mon.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	list := f.alerts(t, hub.AlertQuery{State: hub.AlertOpen, Agency: "exit-ngo"})
	if len(list) != 1 {
		t.Fatalf("open alerts %+v", list)
	}
	id := list[0].ID
	change := func(who domain.Identity, id, state, body string) (*hub.Alert, *hub.Call, error) {
		var out *hub.Alert
		var call *hub.Call
		err := f.callAt(t, who, "", "audit.alert", 200, func(ctx context.Context, c *hub.Call) (err error) {
			call = c
			out, err = f.svc.ChangeAlert(ctx, c, id, state, []byte(body))
			return err
		})
		return out, call, err
	}
	_, _, err := change(auditor, id, hub.AlertAcknowledged, `{}`)
	kindOf(t, err, domain.KindInvalid, "note")
	_, _, err = change(caseworker, id, hub.AlertAcknowledged, `{"note":"mine"}`)
	kindOf(t, err, domain.KindForbidden, "")
	_, _, err = change(auditor, "99", hub.AlertClosed, `{"note":"none such"}`)
	kindOf(t, err, domain.KindNotFound, "")
	a, c, err := change(auditor, id, hub.AlertAcknowledged, `{"note":"asked the NGO"}`)
	if err != nil {
		t.Fatal(err)
	}
	if a.State != hub.AlertAcknowledged || len(a.Notes) != 1 || a.Notes[0].Note != "asked the NGO" || a.Notes[0].Sub != auditor.Subject {
		t.Errorf("acknowledged %+v", a)
	}
	if c.Record.Reference != "alert:"+id || c.Record.Justification != "asked the NGO" || c.Record.Decision != accesslog.Allow {
		t.Errorf("the change's record %+v", c.Record)
	}
	_, _, err = change(auditor, id, hub.AlertAcknowledged, `{"note":"again"}`)
	kindOf(t, err, domain.KindConflict, "")
	if a, _, err = change(auditor, id, hub.AlertClosed, `{"note":"a misconfigured client"}`); err != nil || a.State != hub.AlertClosed || len(a.Notes) != 2 {
		t.Fatalf("closed %+v, %v", a, err)
	}
	_, _, err = change(auditor, id, hub.AlertClosed, `{"note":"again"}`)
	kindOf(t, err, domain.KindConflict, "")
	if got := f.alerts(t, hub.AlertQuery{State: hub.AlertClosed}); len(got) != 1 || len(got[0].Notes) != 2 {
		t.Errorf("closed alerts %+v", got)
	}
	if got := f.alerts(t, hub.AlertQuery{State: hub.AlertOpen}); len(got) != 0 {
		t.Errorf("open alerts %+v", got)
	}
	// A closed alert is joined by nothing: a new probe opens another.
	f.appendRecord(t, rec(prober, day.Add(6*time.Minute), "case.read", "guess-y", accesslog.Deny, 404))
	if err := f.mon.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.alerts(t, hub.AlertQuery{State: hub.AlertOpen}); len(got) != 1 || got[0].ID == id {
		t.Errorf("open alerts after a new probe %+v", got)
	}
	err = f.call(t, auditor, "oversight", "audit.alerts", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.Alerts(ctx, c, hub.AlertQuery{State: "pending", Cursor: "x"})
		return err
	})
	var de *domain.Error
	if !errorsAs(err, &de) || de.Kind != domain.KindInvalid || len(de.Fields) != 2 || de.Fields[0].Field != "state" || de.Fields[1].Field != "cursor" {
		t.Errorf("a bad query: %v, want state and cursor named", err)
	}
}

// BenchmarkMonitor measures the monitor's CPU per access record: b.N section
// reads by 64 users over 300 cases, some refused, appended first, then
// evaluated by one CatchUp.
func BenchmarkMonitor(b *testing.B) {
	f := newMonitorFixture(b)
	mon := f.mon
	users := []domain.Identity{officer, caseworker, analyst, prober}
	at := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	recs := make([]*accesslog.Record, b.N)
	for i := range b.N {
		u := users[i%len(users)]
		u.Subject = fmt.Sprintf("%s-%d", u.Subject, i%64)
		r := rec(u, at.Add(time.Duration(i)*10*time.Millisecond), "section.read", fmt.Sprintf("case-%d", (i*7919)%300), accesslog.Allow, 200)
		if i%10 == 0 {
			r.Decision, r.Status = accesslog.Deny, 403
		}
		r.Roles, r.Reasons = u.Roles, []string{}
		recs[i] = &r
	}
	if err := f.access.AppendAll(context.Background(), recs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := mon.CatchUp(context.Background()); err != nil {
		b.Fatal(err)
	}
	if mon.Evaluated() != uint64(b.N) {
		b.Fatalf("evaluated %d of %d", mon.Evaluated(), b.N)
	}
}

// TestMonitorWebhook: a new alert is posted to the oversight board's
// endpoint, signed as the feed's webhooks are; a failed delivery is tried
// again, and nothing is delivered twice.
func TestMonitorWebhook(t *testing.T) {
	type delivery struct {
		id, ts, sig string
		body        []byte
	}
	got := make(chan delivery, 10)
	fail := true
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail { // the first attempt fails
			fail = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got <- delivery{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body}
	}))
	defer srv.Close()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	f := newMonitorFixture(t, func(c *hub.MonitorConfig) {
		c.Webhook, c.WebhookSecret, c.Poll = srv.URL, secret, 50*time.Millisecond
	})
	mon := f.mon
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mon.Run(ctx) }()
	defer func() { cancel(); <-done }()
	day := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		f.appendRecord(t, rec(prober, day.Add(time.Duration(i)*time.Minute), "case.read", fmt.Sprintf("guess-%d", i), accesslog.Deny, 404))
	}
	mon.Notify()
	var d delivery
	select {
	case d = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no alert delivered to the webhook in 20 s")
	}
	want, err := hub.SignWebhook(secret, d.id, d.ts, d.body)
	if err != nil || d.sig != want || d.id != "alert-1" {
		t.Errorf("delivery %s signed %q, want %q (%v)", d.id, d.sig, want, err)
	}
	var msg struct {
		Type  string    `json:"type"`
		Alert hub.Alert `json:"alert"`
	}
	if err := json.Unmarshal(d.body, &msg); err != nil || msg.Type != "liaison.alert" || msg.Alert.Rule != "probing" || msg.Alert.Sub != prober.Subject {
		t.Errorf("delivered %s (%v)", d.body, err)
	}
	select {
	case d := <-got:
		t.Errorf("a second delivery: %s %s", d.id, d.body)
	case <-time.After(1500 * time.Millisecond):
	}
}
