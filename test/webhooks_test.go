package liaison_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	liaisonhub "github.com/liaison-hub/liaison/hub"
)

// TestWebhooksThroughTheAPI registers an endpoint through the API, receives
// signed deliveries of what the exit worker's feed gives, reads the delivery
// log, finds each delivery's access record, and after a restart of the hub
// gets nothing twice without the same webhook-id.
func TestWebhooksThroughTheAPI(t *testing.T) {
	var mu sync.Mutex
	var secret string
	type got struct{ id, body string }
	var deliveries []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		want, err := liaisonhub.SignWebhook(secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
		if err != nil || r.Header.Get("webhook-signature") != want {
			t.Errorf("a delivery with a bad signature: %q", r.Header.Get("webhook-signature"))
		}
		deliveries = append(deliveries, got{r.Header.Get("webhook-id"), string(body)})
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	received := func() []got {
		mu.Lock()
		defer mu.Unlock()
		return append([]got(nil), deliveries...)
	}
	h := startHub(t, "")
	r := h.do("POST", "/v1/subscriptions", &exitMentor, "reintegration", map[string]string{"url": srv.URL + "/liaison", "purpose": "reintegration"})
	if r.Status != 201 {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	var sub liaisonhub.Subscription
	json.Unmarshal(r.Body, &sub)
	mu.Lock()
	secret = sub.Secret
	mu.Unlock()
	if !strings.HasPrefix(sub.Secret, "whsec_") || sub.Status != "active" {
		t.Fatalf("subscription %+v", sub)
	}
	if r := h.do("GET", "/v1/subscriptions", &exitMentor, "", nil); r.Status != 200 || strings.Contains(string(r.Body), "whsec_") || !strings.Contains(string(r.Body), sub.ID) {
		t.Errorf("list: %d %s (listed, without its secret)", r.Status, r.Body)
	}
	if r := h.do("POST", "/v1/subscriptions", &exitMentor, "reintegration", map[string]string{"url": "http://partner.example/hook"}); r.Status != 400 || !strings.Contains(string(r.Body), `"field":"url"`) {
		t.Errorf("plain http to another host: %d %s, want 400 naming the url", r.Status, r.Body)
	}
	id := openCase(t, h, prisonCaseworker, "WH-2026-0001")
	appendOK(t, h, id, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	waitFor(t, func() bool { return len(received()) >= 1 }, "the first delivery")
	first := received()[0]
	if !strings.Contains(first.body, `"type":"liaison.feed"`) || !strings.Contains(first.body, `"CaseOpened"`) || !strings.Contains(first.body, id) {
		t.Errorf("first delivery: %s", first.body)
	}
	appendOK(t, h, id, intelAnalyst, "IntelligenceNoteAdded", map[string]any{"note": "never delivered"}, nil)
	appendOK(t, h, id, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-02"}, nil)
	waitFor(t, func() bool { return len(received()) >= 2 }, "the second delivery")
	for _, d := range received() {
		if strings.Contains(d.body, "never delivered") || strings.Contains(d.body, "IntelligenceNoteAdded") {
			t.Errorf("a delivery holds what the exit worker may not read: %s", d.body)
		}
	}
	// The log notes a delivery once the endpoint answered it.
	waitFor(t, func() bool {
		r = h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries", &exitMentor, "", nil)
		return r.Status == 200 && strings.Count(string(r.Body), `"ok":true`) >= 2
	}, "two deliveries in the log")
	if r := h.do("GET", "/v1/subscriptions/"+sub.ID+"/deliveries", &prisonCaseworker, "", nil); r.Status != 404 {
		t.Errorf("another organisation's log: %d, want 404", r.Status)
	}
	recs := h.do("GET", "/v1/audit/records?case_id="+id+"&limit=1000", &auditor, "oversight", nil)
	if !strings.Contains(string(recs.Body), `"action":"webhook.deliver"`) {
		t.Errorf("no access record of a webhook delivery: %.500s", recs.Body)
	}
	// A restart sends nothing twice without its webhook-id.
	h.Stop()
	before := len(received())
	h2 := startHub(t, h.data)
	appendOK(t, h2, id, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-03"}, nil)
	waitFor(t, func() bool { return len(received()) > before }, "a delivery after the restart")
	time.Sleep(500 * time.Millisecond)
	seen := map[string]string{}
	for _, d := range received() {
		if b, ok := seen[d.id]; ok && b != d.body {
			t.Errorf("webhook-id %s sent with two bodies", d.id)
		}
		seen[d.id] = d.body
	}
	if n := strings.Count(strings.Join(func() []string {
		var out []string
		for _, d := range received() {
			out = append(out, d.body)
		}
		return out
	}(), "\n"), `"2026-03-03"`); n < 1 {
		t.Errorf("the event after the restart was not delivered")
	}
}
