package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/hub"
)

var (
	mentor    = domain.Identity{Issuer: "test", Subject: "ng-hana", Agency: "exit-ngo", Roles: []string{"mentor"}}
	dpoA      = domain.Identity{Issuer: "test", Subject: "dp-kim", Agency: "oversight-board", Roles: []string{"dpo"}}
	dpoB      = domain.Identity{Issuer: "test", Subject: "dp-lou", Agency: "oversight-board", Roles: []string{"dpo"}}
	manager   = domain.Identity{Issuer: "test", Subject: "pm-dora", Agency: "prison-service", Roles: []string{"manager"}}
	probation = domain.Identity{Issuer: "test", Subject: "po-emil", Agency: "probation-service", Roles: []string{"officer"}}
)

// feedReader follows a feed page by page, as a partner system would.
type feedReader struct {
	t       *testing.T
	f       *fixture
	who     domain.Identity
	purpose string
	cursor  string
}

// next returns the next page (its JSON, to compare bytes) and its entries.
func (r *feedReader) next(limit int) ([]byte, []hub.FeedEntry) {
	r.t.Helper()
	page := r.page(limit)
	b, _ := json.Marshal(page)
	return b, page.Items
}

// page returns the next page.
func (r *feedReader) page(limit int) *hub.FeedPage {
	r.t.Helper()
	var page *hub.FeedPage
	if err := r.f.call(r.t, r.who, r.purpose, "feed.read", func(ctx context.Context, c *hub.Call) (err error) {
		page, err = r.f.svc.Feed(ctx, c, hub.FeedQuery{Cursor: r.cursor, Limit: limit})
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	r.cursor = page.Cursor
	return page
}

// all reads pages of 3 until one is empty.
func (r *feedReader) all() []hub.FeedEntry { return r.allIn(3) }

// allIn reads pages of limit entries until one is empty (at most 100).
func (r *feedReader) allIn(limit int) []hub.FeedEntry {
	r.t.Helper()
	var out []hub.FeedEntry
	for range 100 {
		_, items := r.next(limit)
		if len(items) == 0 {
			return out
		}
		out = append(out, items...)
	}
	r.t.Fatalf("pages of %d never end: %v", limit, describe(out))
	return nil
}

func (f *fixture) write(t *testing.T, who domain.Identity, caseID, body string) {
	t.Helper()
	if err := f.call(t, who, "", "event.append", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.Append(ctx, c, caseID, []byte(body))
		return err
	}); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}

func (f *fixture) open(t *testing.T, ref string) string {
	t.Helper()
	var out hub.Appended
	if err := f.call(t, caseworker, "", "case.open", func(ctx context.Context, c *hub.Call) (err error) {
		out, err = f.svc.OpenCase(ctx, c, []byte(`{"subject_ref":"`+ref+`","target_group":"returnee"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out.CaseID
}

func describe(entries []hub.FeedEntry) []string {
	var out []string
	for _, e := range entries {
		if e.Kind == hub.FeedItem {
			out = append(out, fmt.Sprintf("%s %s v%d", e.CaseID[:4], e.Type, e.Version))
		} else {
			out = append(out, fmt.Sprintf("%s withdrawn (%s)", e.CaseID[:4], e.Reason))
		}
	}
	return out
}

// TestAFeedFollowsTheReadersViewAndNothingElse: items enter an exit worker's
// feed when consent opens the case to it (older items included), new items
// follow, a withdrawal notice tells it to delete its copy; events it may not
// read change nothing it gets, not even its cursor.
func TestAFeedFollowsTheReadersViewAndNothingElse(t *testing.T) {
	f := newFixture(t)
	r := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
	id := f.open(t, "FEED-2026-0001")
	f.write(t, caseworker, id, `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`)
	if got := r.all(); len(got) != 0 {
		t.Fatalf("without consent: %v", describe(got))
	}
	f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
	got := describe(r.all())
	want := []string{id[:4] + " CaseOpened v1", id[:4] + " NeedsAssessmentRecorded v2", id[:4] + " ConsentGiven v3"}
	if !slices.Equal(got, want) {
		t.Fatalf("consent given: %v, want %v", got, want)
	}
	before, _ := r.next(10)
	cursor := r.cursor
	// What the exit worker may not read: an intelligence note, another
	// organisation's counselling note, a prison-only disclosure, another
	// user's break-glass, an erasure request and its cancellation.
	f.write(t, analyst, id, `{"type":"IntelligenceNoteAdded","data":{"note":"hidden"}}`)
	f.write(t, probation, id, `{"type":"CounsellingNoteAdded","data":{"date":"2026-03-01","note":"hidden"}}`)
	f.write(t, caseworker, id, `{"type":"RiskDisclosureRaised","data":{"concern":"hidden","urgency":"urgent"},"classification":"TLP:RED"}`)
	if err := f.call(t, manager, "", "break-glass", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.BreakGlass(ctx, c, id, []byte(`{"justification":"imminent threat reported by the police"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var request hub.Erasure
	if err := f.call(t, dpoA, "", "case.erase", func(ctx context.Context, c *hub.Call) (err error) {
		request, err = f.svc.RequestErasure(ctx, c, id, []byte(`{"legal_basis":"subject-request"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, dpoB, "", "erasure.cancel", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.CancelErasure(ctx, c, request.RequestID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, items := r.next(10)
	if len(items) != 0 || string(after) != string(before) || r.cursor != cursor {
		t.Errorf("events the exit worker may not read changed its feed:\nbefore %s\nafter  %s", before, after)
	}
	f.write(t, caseworker, id, `{"type":"FamilyContactRecorded","data":{"date":"2026-03-02"}}`)
	if got := describe(r.all()); !slices.Equal(got, []string{id[:4] + " FamilyContactRecorded v4"}) {
		t.Errorf("a new item: %v, want the family contact as version 4 of its view", got)
	}
	f.write(t, caseworker, id, `{"type":"ConsentWithdrawn","data":{"organisations":["exit-ngo"]}}`)
	if got := describe(r.all()); !slices.Equal(got, []string{id[:4] + " withdrawn (consent)"}) {
		t.Errorf("consent withdrawn: %v, want a withdrawal notice", got)
	}
	// Erasure reaches the readers who could see the case.
	pr := &feedReader{t: t, f: f, who: probation, purpose: "case-management"}
	pr.all()
	if err := f.call(t, dpoA, "", "case.erase", func(ctx context.Context, c *hub.Call) (err error) {
		request, err = f.svc.RequestErasure(ctx, c, id, []byte(`{"legal_basis":"court-order","reference":"C-1"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.call(t, dpoB, "", "erasure.confirm", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.ConfirmErasure(ctx, c, request.RequestID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := describe(pr.all()); !slices.Equal(got, []string{id[:4] + " withdrawn (erased)"}) {
		t.Errorf("erased: %v, want a withdrawal notice to probation", got)
	}
	if got := r.all(); len(got) != 0 {
		t.Errorf("erased after the exit worker lost consent: %v, want nothing (it could not see the case)", describe(got))
	}
}

// TestFeedPagesResumeExactly: pages of any size give every entry once, in
// order, and a cursor is good only for the caller and purpose it was given
// to.
func TestFeedPagesResumeExactly(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		id := f.open(t, fmt.Sprintf("PAGE-2026-000%d", i))
		f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
		f.write(t, caseworker, id, `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`)
	}
	whole := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
	_, all := whole.next(100)
	if len(all) != 9 {
		t.Fatalf("%d entries, want 9: %v", len(all), describe(all))
	}
	for _, limit := range []int{1, 2, 4} {
		r := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
		got := r.allIn(limit)
		if !slices.Equal(describe(got), describe(all)) {
			t.Errorf("pages of %d: %v, want %v", limit, describe(got), describe(all))
		}
	}
	for name, try := range map[string]struct {
		who     domain.Identity
		purpose string
		cursor  string
	}{
		"another reader's cursor":  {caseworker, "case-management", whole.cursor},
		"another purpose's cursor": {mentor, "case-conference", whole.cursor},
		"a truncated cursor":       {mentor, "reintegration", whole.cursor[:len(whole.cursor)-3]},
		"a forged cursor":          {mentor, "reintegration", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		err := f.call(t, try.who, try.purpose, "feed.read", func(ctx context.Context, c *hub.Call) error {
			_, err := f.svc.Feed(ctx, c, hub.FeedQuery{Cursor: try.cursor})
			return err
		})
		if domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

// TestAPageCutInsideOneEventsEntriesLosesNone: when one event brings many
// items into the view at once (consent given after the case has a history)
// and it is its case's last event, a page cut among its entries resumes
// there: the next pages give the rest, whatever the page size.
func TestAPageCutInsideOneEventsEntriesLosesNone(t *testing.T) {
	f := newFixture(t)
	for i := range 2 {
		id := f.open(t, fmt.Sprintf("CUT-2026-000%d", i))
		for range 3 {
			f.write(t, caseworker, id, `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`)
		}
		f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
	}
	whole := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
	_, all := whole.next(100)
	if len(all) != 10 {
		t.Fatalf("%d entries, want 10 (five items of each case): %v", len(all), describe(all))
	}
	for _, limit := range []int{1, 2, 3, 4} {
		r := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
		got := r.allIn(limit)
		if !slices.Equal(describe(got), describe(all)) {
			t.Errorf("pages of %d: %v, want %v", limit, describe(got), describe(all))
		}
	}
}

// TestAFeedPageLeavesARecordPerCaseDelivered: a page that delivers entries
// of several cases leaves one access record per case (action feed.read, the
// case's id, how many entries), the call's own among them, durable by the
// time the page is returned; an empty page leaves only the call's own.
func TestAFeedPageLeavesARecordPerCaseDelivered(t *testing.T) {
	f := newFixture(t)
	cases := map[string]bool{}
	for i := range 3 {
		id := f.open(t, fmt.Sprintf("REC-2026-000%d", i))
		f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
		cases[id] = true
	}
	ctx := context.Background()
	before, err := f.access.Len(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
	_, items := r.next(100)
	if len(items) != 6 {
		t.Fatalf("%d entries, want 6: %v", len(items), describe(items))
	}
	got := map[string]int{}
	for rec, err := range f.access.Records(ctx, before) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Action != "feed.read" || rec.Sub != mentor.Subject || rec.Agency != mentor.Agency {
			t.Errorf("record %d: %s by %s@%s, want feed.read by the mentor", rec.Index, rec.Action, rec.Sub, rec.Agency)
		}
		got[rec.CaseID]++
		if len(rec.Reasons) == 0 || rec.Reasons[0] != "delivered 2 feed entries" {
			t.Errorf("record of case %s: reasons %q, want \"delivered 2 feed entries\" first", rec.CaseID, rec.Reasons)
		}
	}
	if len(got) != len(cases) {
		t.Errorf("records for %d cases, want one for each of the %d delivered: %v", len(got), len(cases), got)
	}
	for id, n := range got {
		if !cases[id] || n != 1 {
			t.Errorf("case %s: %d records, want 1 for a case delivered", id, n)
		}
	}
	// Nothing new: the call's own record, naming no case.
	after, _ := f.access.Len(ctx)
	if _, items := r.next(100); len(items) != 0 {
		t.Fatalf("a second page gave %v", describe(items))
	}
	if n, _ := f.access.Len(ctx); n != after+1 {
		t.Errorf("an empty page left %d records, want 1", n-after)
	}
}

// TestASharedFeedPageIsNeverStale: calls of one reader at one cursor share
// a page, but only over the same log: an entry appended after a page was
// computed is in the next call's page at that cursor, however soon it comes.
func TestASharedFeedPageIsNeverStale(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, "SHARE-2026-0001")
	f.write(t, caseworker, id, `{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`)
	a := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration"}
	a.next(100)
	at := a.cursor
	b := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration", cursor: at}
	if _, items := b.next(100); len(items) != 0 {
		t.Fatalf("nothing new, yet %v", describe(items))
	}
	f.write(t, caseworker, id, `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`)
	c := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration", cursor: at}
	if _, items := c.next(100); len(items) != 1 {
		t.Errorf("after an append, at the same cursor: %v, want the new needs assessment", describe(items))
	}
	// The same page again, shared: the same entries.
	d := &feedReader{t: t, f: f, who: mentor, purpose: "reintegration", cursor: at}
	if _, items := d.next(100); len(items) != 1 {
		t.Errorf("the shared page: %v, want the new needs assessment", describe(items))
	}
}

// TestAFeedFollowedDuringAppendsMissesNothing: a reader that follows its
// feed page by page while others append to many cases gets every entry the
// feed holds once the appends are over — none passed over because it was
// appended while a page was being made (in the log but not in the views yet,
// or in a case's history beyond the events the page read), none twice — and
// a page cut at its limit says there is more.
func TestAFeedFollowedDuringAppendsMissesNothing(t *testing.T) {
	f := newFixture(t)
	const writers, appends = 6, 25
	var cases []string
	for i := range writers {
		cases = append(cases, f.open(t, fmt.Sprintf("RACE-2026-%04d", i)))
	}
	follower := &feedReader{t: t, f: f, who: manager, purpose: "case-management"}
	var followed []hub.FeedEntry
	sawMore := false
	done := make(chan error, writers)
	for _, id := range cases {
		go func() {
			for n := range appends {
				c := hub.NewCall(caseworker, "", time.Now(), "race", "event.append")
				_, err := f.svc.Append(context.Background(), c, id, fmt.Appendf(nil,
					`{"type":"InterventionRecorded","data":{"practice_code":"08","date":"2026-03-01","summary":"race %d"}}`, n))
				if cerr := f.svc.Close(context.Background(), c, 201, err); err == nil {
					err = cerr
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	running := writers
	for running > 0 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running--
		default:
		}
		page := follower.page(4)
		followed = append(followed, page.Items...)
		sawMore = sawMore || page.More
	}
	for {
		page := follower.page(4)
		followed = append(followed, page.Items...)
		sawMore = sawMore || page.More
		if len(page.Items) == 0 && !page.More {
			break
		}
	}
	whole := (&feedReader{t: t, f: f, who: manager, purpose: "case-management"}).all()
	if len(whole) != writers*(appends+1) {
		t.Fatalf("the whole feed holds %d entries, want %d", len(whole), writers*(appends+1))
	}
	seen := map[string]int{}
	for _, e := range followed {
		seen[e.EventID]++
	}
	var missing, twice int
	for _, e := range whole {
		switch seen[e.EventID] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(followed) != len(whole) {
		t.Errorf("followed during the appends: %d entries, %d of the feed's %d missing, %d given twice", len(followed), missing, len(whole), twice)
	}
	if !sawMore {
		t.Error("no page said there was more, though pages of 4 were cut")
	}
}
