package liaison_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// feedPage reads one page of id's feed after cursor.
func feedPage(t *testing.T, h *hub, id identity, purpose, cursor string, extra url.Values) (response, []map[string]any, string) {
	t.Helper()
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	r := h.do("GET", "/v1/feed?"+q.Encode(), &id, purpose, nil)
	if r.Status != 200 {
		return r, nil, ""
	}
	var page struct {
		Items  []map[string]any `json:"items"`
		Cursor string           `json:"cursor"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	return r, page.Items, page.Cursor
}

// mirror reads a follower's mirror: case id → event ids.
func mirror(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var mc struct {
			CaseID string `json:"case_id"`
			Items  []struct {
				EventID string `json:"event_id"`
				Type    string `json:"type"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &mc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, it := range mc.Items {
			out[mc.CaseID] = append(out[mc.CaseID], it.Type)
		}
	}
	return out
}

// TestTheReferenceFollowerMirrorsWhatIsShared runs "liaison follow" against a
// hub while consent is given and withdrawn and a case is erased, and checks
// the mirror after each; it resumes from its saved cursor, and re-applying a
// page (a crash before the cursor was saved) changes nothing.
func TestTheReferenceFollowerMirrorsWhatIsShared(t *testing.T) {
	h := startHub(t, "")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(h.token(exitMentor)), 0o600); err != nil {
		t.Fatal(err)
	}
	mirrorDir := filepath.Join(dir, "mirror")
	follow := func() {
		t.Helper()
		out, err := exec.Command(binary, "follow", "--hub", h.Base, "--to", mirrorDir, "--token-file", tokenFile, "--purpose", "reintegration", "--once").CombinedOutput()
		if err != nil {
			t.Fatalf("liaison follow: %v\n%s", err, out)
		}
	}
	a := openCase(t, h, prisonCaseworker, "FOL-2026-0001")
	b := openCase(t, h, prisonCaseworker, "FOL-2026-0002")
	appendOK(t, h, a, prisonCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []map[string]any{{"area": "housing", "level": "high"}}}, nil)
	follow()
	if m := mirror(t, mirrorDir); len(m) != 0 {
		t.Fatalf("without consent the mirror holds %v", m)
	}
	appendOK(t, h, a, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	appendOK(t, h, b, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	appendOK(t, h, a, intelAnalyst, "IntelligenceNoteAdded", map[string]any{"note": "not for the NGO"}, nil)
	follow()
	m := mirror(t, mirrorDir)
	if want := []string{"CaseOpened", "NeedsAssessmentRecorded", "ConsentGiven"}; !slices.Equal(m[a], want) || len(m[b]) != 2 {
		t.Fatalf("after consent: %v, want %v for %s and 2 items of %s", m, want, a, b)
	}
	// A crash before the cursor was saved: the last page comes again.
	cursor, _ := os.ReadFile(filepath.Join(mirrorDir, "cursor"))
	appendOK(t, h, a, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-02"}, nil)
	follow()
	if err := os.WriteFile(filepath.Join(mirrorDir, "cursor"), cursor, 0o600); err != nil {
		t.Fatal(err)
	}
	follow()
	if got := mirror(t, mirrorDir)[a]; !slices.Equal(got, []string{"CaseOpened", "NeedsAssessmentRecorded", "ConsentGiven", "FamilyContactRecorded"}) {
		t.Errorf("a page applied twice: %v", got)
	}
	appendOK(t, h, a, prisonCaseworker, "ConsentWithdrawn", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	eraseCase(t, h, b)
	follow()
	if m := mirror(t, mirrorDir); len(m) != 0 {
		t.Errorf("after consent withdrawn and erasure the mirror holds %v", m)
	}
}

// TestTheFeedTellsNothingOfWhatTheReaderMayNotRead: a page of the feed, its
// cursor included, is byte-identical before and after events the reader may
// not read; a forged, truncated or foreign cursor is refused.
func TestTheFeedTellsNothingOfWhatTheReaderMayNotRead(t *testing.T) {
	h := startHub(t, "")
	id := openCase(t, h, prisonCaseworker, "FNI-2026-0001")
	appendOK(t, h, id, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	_, items, cursor := feedPage(t, h, exitMentor, "reintegration", "", nil)
	if len(items) != 2 {
		t.Fatalf("first page: %v", items)
	}
	before, _, _ := feedPage(t, h, exitMentor, "reintegration", cursor, nil)
	probation := identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "po-emil"}
	appendOK(t, h, id, intelAnalyst, "IntelligenceNoteAdded", map[string]any{"note": "hidden"}, nil)
	appendOK(t, h, id, probation, "CounsellingNoteAdded", map[string]any{"date": "2026-03-01", "note": "hidden"}, nil)
	appendOK(t, h, id, prisonCaseworker, "RiskDisclosureRaised", map[string]any{"concern": "hidden", "urgency": "urgent"}, map[string]any{"classification": "TLP:AMBER+STRICT"})
	other := openCase(t, h, prisonCaseworker, "FNI-2026-0002") // a case it cannot see
	appendOK(t, h, other, prisonCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []map[string]any{{"area": "housing", "level": "high"}}}, nil)
	after, _, _ := feedPage(t, h, exitMentor, "reintegration", cursor, nil)
	if string(before.Body) != string(after.Body) {
		t.Errorf("events the exit worker may not read changed its feed:\nbefore %s\nafter  %s", before.Body, after.Body)
	}
	altered := []byte(cursor)
	altered[len(altered)/2] ^= 1
	for name, c := range map[string]struct {
		who     identity
		purpose string
		cursor  string
	}{
		"another reader's cursor": {prisonCaseworker, "case-management", cursor},
		"a truncated cursor":      {exitMentor, "reintegration", cursor[:len(cursor)-4]},
		"an altered cursor":       {exitMentor, "reintegration", string(altered)},
	} {
		r, _, _ := feedPage(t, h, c.who, c.purpose, c.cursor, nil)
		if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"cursor"`) {
			t.Errorf("%s: %d %s, want 400 naming the cursor", name, r.Status, r.Body)
		}
	}
	if r, _, _ := feedPage(t, h, exitMentor, "research", "", nil); r.Status != 403 {
		t.Errorf("a purpose outside the remit: %d, want 403", r.Status)
	}
}

// TestTheFeedWaitsAndStreams: a long poll answers as soon as something new
// is readable; a stream of server-sent events delivers each entry with the
// cursor after it as its id, and Last-Event-ID resumes after it.
func TestTheFeedWaitsAndStreams(t *testing.T) {
	h := startHub(t, "")
	id := openCase(t, h, prisonCaseworker, "FST-2026-0001")
	appendOK(t, h, id, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	_, _, cursor := feedPage(t, h, exitMentor, "reintegration", "", nil)

	go func() {
		time.Sleep(500 * time.Millisecond)
		appendOK(t, h, id, prisonCaseworker, "FamilyContactRecorded", map[string]any{"date": "2026-03-02"}, nil)
	}()
	start := time.Now()
	_, items, next := feedPage(t, h, exitMentor, "reintegration", cursor, url.Values{"wait": {"20"}})
	if len(items) != 1 || items[0]["type"] != "FamilyContactRecorded" || time.Since(start) > 10*time.Second {
		t.Fatalf("long poll: %v after %v", items, time.Since(start))
	}

	// A stream from the cursor before the family contact.
	req, _ := http.NewRequest("GET", h.Base+"/v1/feed?cursor="+url.QueryEscape(cursor), nil)
	req.Header.Set("Authorization", "Bearer "+h.token(exitMentor))
	req.Header.Set("Liaison-Purpose", "reintegration")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var evID string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				evID = line[4:]
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{evID, line[6:]}
			}
		}
		close(events)
	}()
	read := func() (string, map[string]any) {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(ev[1]), &e); err != nil {
				t.Fatal(err)
			}
			return ev[0], e
		case <-time.After(15 * time.Second):
			t.Fatal("no event on the stream")
		}
		return "", nil
	}
	evID, e := read()
	if e["type"] != "FamilyContactRecorded" || evID != next {
		t.Errorf("first streamed entry %v (id %q), want the family contact with the long poll's cursor", e, evID)
	}
	appendOK(t, h, id, prisonCaseworker, "InterventionRecorded", map[string]any{"practice_code": "08", "date": "2026-03-03"}, nil)
	lastID, e := read()
	if e["type"] != "InterventionRecorded" {
		t.Errorf("streamed after an append: %v", e)
	}
	appendOK(t, h, id, prisonCaseworker, "InterventionRecorded", map[string]any{"practice_code": "02", "date": "2026-03-04"}, nil)
	// Resuming with Last-Event-ID gives what came after it, once.
	req2, _ := http.NewRequest("GET", h.Base+"/v1/feed", nil)
	req2.Header.Set("Authorization", "Bearer "+h.token(exitMentor))
	req2.Header.Set("Liaison-Purpose", "reintegration")
	req2.Header.Set("Last-Event-ID", lastID)
	req2.Header.Set("Accept", "text/event-stream")
	resp2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	sc := bufio.NewScanner(resp2.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"practice_code":"02"`) {
				t.Errorf("resumed stream's first entry: %s, want the second intervention", line)
			}
			break
		}
	}

	// A backlog longer than a page streams whole, page after page, with
	// nothing appended meanwhile.
	_, whole, _ := feedPage(t, h, exitMentor, "reintegration", "", url.Values{"limit": {"500"}})
	req3, _ := http.NewRequest("GET", h.Base+"/v1/feed?limit=1", nil)
	req3.Header.Set("Authorization", "Bearer "+h.token(exitMentor))
	req3.Header.Set("Liaison-Purpose", "reintegration")
	req3.Header.Set("Accept", "text/event-stream")
	resp3, err := http.DefaultClient.Do(req3)
	if err != nil {
		t.Fatal(err)
	}
	defer resp3.Body.Close()
	got := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(resp3.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				n++
				got <- n
			}
		}
	}()
	for n := 0; n < len(whole); {
		select {
		case n = <-got:
		case <-time.After(15 * time.Second):
			t.Fatalf("a stream of pages of 1 stalled after %d of the %d entries of its backlog", n, len(whole))
		}
	}
}
