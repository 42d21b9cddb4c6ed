package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/follow"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/hub"
)

var auditor = domain.Identity{Issuer: "test", Subject: "ob-ida", Agency: "oversight-board", Roles: []string{"auditor"}}

// emergency is the body of a break-glass call.
const emergency = `{"justification":"imminent threat reported by prison security"}`

// newAuditFixture is newFixture with the audit service of the access log, its
// tree and query index following the log as in liaison serve.
func newAuditFixture(t testing.TB) *fixture {
	t.Helper()
	var trees *transparency.Trees
	f := newFixture(t, func(c *hub.Config) {
		st := c.Log.(*embedded.Store)
		key, err := transparency.LoadOrCreateKey(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		trees, err = transparency.Open(context.Background(), transparency.Config{KV: st, Journal: st, Events: st, Key: key,
			JournalConsumers: []follow.Consumer{new(accesslog.QueryIndex)}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		c.Audit = accesslog.NewService(c.Access, st, trees)
	})
	// Registered after newFixture's, so run before it closes the store.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); trees.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; trees.Close(context.Background()) })
	return f
}

// callAt is fixture.call with a status, as the API closes the call.
func (f *fixture) callAt(t testing.TB, id domain.Identity, purpose, action string, status int, use func(context.Context, *hub.Call) error) error {
	t.Helper()
	c := hub.NewCall(id, purpose, time.Now(), "test", action)
	err := use(context.Background(), c)
	if rerr := f.svc.Close(context.Background(), c, status, err); rerr != nil {
		t.Fatal(rerr)
	}
	return err
}

// review reviews the grant index as id with the body.
func (f *fixture) review(t testing.TB, id domain.Identity, index, body string) (hub.ReviewAnswer, error) {
	t.Helper()
	var out hub.ReviewAnswer
	err := f.callAt(t, id, "", "break-glass.review", 201, func(ctx context.Context, c *hub.Call) (err error) {
		out, err = f.svc.ReviewBreakGlass(ctx, c, index, []byte(body))
		return err
	})
	return out, err
}

// uses lists break-glass uses as the auditor.
func (f *fixture) uses(t *testing.T, q hub.BreakGlassQuery) (*hub.BreakGlassPage, error) {
	t.Helper()
	var out *hub.BreakGlassPage
	err := f.call(t, auditor, "oversight", "audit.break-glass", func(ctx context.Context, c *hub.Call) (err error) {
		out, err = f.svc.BreakGlassUses(ctx, c, q)
		return err
	})
	return out, err
}

// readNeeds reads the needs section of a case as id and returns the index of
// the call's access record.
func (f *fixture) readNeeds(t *testing.T, id domain.Identity, caseID string) (uint64, error) {
	t.Helper()
	c := hub.NewCall(id, "risk-management", time.Now(), "test", "section.read")
	c.Record.CaseID, c.Record.Section = caseID, "needs" // as the API's route does
	_, err := f.svc.Section(context.Background(), c, caseID, "needs")
	if rerr := f.svc.Close(context.Background(), c, 200, err); rerr != nil {
		t.Fatal(rerr)
	}
	return c.Record.Index, err
}

// breakGlass breaks the glass on a case as id and returns the index of the
// grant's access record.
func (f *fixture) breakGlass(t *testing.T, id domain.Identity, caseID string) uint64 {
	t.Helper()
	c := hub.NewCall(id, "", time.Now(), "test", "break-glass")
	c.Record.CaseID = caseID
	if _, err := f.svc.BreakGlass(context.Background(), c, caseID, []byte(emergency)); err != nil {
		t.Fatalf("break-glass by %s: %v", id.Subject, err)
	}
	if !c.Recorded() {
		t.Fatal("the grant's record went not with its event")
	}
	return c.Record.Index
}

// appendRecord appends the record r as it is and returns its index.
func (f *fixture) appendRecord(t *testing.T, r accesslog.Record) uint64 {
	t.Helper()
	r.Roles, r.Reasons = []string{}, []string{}
	if _, err := f.access.Append(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	return r.Index
}

func kindOf(t *testing.T, err error, want domain.Kind, field string) {
	t.Helper()
	var de *domain.Error
	if !errorsAs(err, &de) || de.Kind != want {
		t.Fatalf("%v, want %v", err, want)
	}
	if field != "" && (len(de.Fields) != 1 || de.Fields[0].Field != field) {
		t.Fatalf("%v names %+v, want %s", err, de.Fields, field)
	}
}

func indexes(p *hub.BreakGlassPage) []uint64 {
	var out []uint64
	for _, u := range p.Items {
		out = append(out, u.Record.Index)
	}
	return out
}

// TestBreakGlassUsesAndTheirReview walks the auditor's review of break-glass
// use (docs/api.md, "Break-glass review"): the grants newest first, the
// reads each opened and nothing else, the review, its one access record, and
// the refusals.
func TestBreakGlassUsesAndTheirReview(t *testing.T) {
	f := newAuditFixture(t)
	caseA, caseB := f.open(t, "P-2026-0201"), f.open(t, "P-2026-0202")
	for _, id := range []string{caseA, caseB} {
		f.write(t, caseworker, id, `{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`)
	}
	if _, err := f.readNeeds(t, analyst, caseA); domain.KindOf(err) != domain.KindForbidden {
		t.Fatalf("the analyst reads needs without break-glass: %v", err)
	}
	grantA := f.breakGlass(t, analyst, caseA)
	var reads []uint64
	for range 2 {
		i, err := f.readNeeds(t, analyst, caseA)
		if err != nil {
			t.Fatalf("the analyst under break-glass: %v", err)
		}
		reads = append(reads, i)
	}
	grantB := f.breakGlass(t, probation, caseB)
	if _, err := f.readNeeds(t, probation, caseB); err != nil { // B's, not A's
		t.Fatal(err)
	}

	page, err := f.uses(t, hub.BreakGlassQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(page); len(got) != 2 || got[0] != grantB || got[1] != grantA || page.NextCursor != nil {
		t.Fatalf("grants %v (next %v), want [%d %d], newest first", got, page.NextCursor, grantB, grantA)
	}
	useA := page.Items[1]
	if r := useA.Record; r.Sub != analyst.Subject || r.Agency != analyst.Agency || r.Issuer != "test" || r.CaseID != caseA ||
		r.Justification != "imminent threat reported by prison security" || r.Status != 201 || useA.Review != nil {
		t.Errorf("grant A: %+v", useA)
	}
	if want := domain.FormatTime(useA.Record.Time.Add(time.Hour).Truncate(time.Second)); useA.ExpiresAt != want {
		t.Errorf("expires_at %q, want %q (the protocol's 60 minutes)", useA.ExpiresAt, want)
	}
	if len(useA.Reads) != 2 || useA.Reads[0].Index != reads[0] || useA.Reads[1].Index != reads[1] || useA.ReadsTruncated {
		t.Fatalf("grant A's reads %+v, want the records %v", useA.Reads, reads)
	}
	if r := useA.Reads[0]; r.Action != "section.read" || r.Section != "needs" || r.Decision == accesslog.Deny {
		t.Errorf("read %+v", r)
	}

	t.Run("reads: only the grantee's flagged records on the case, until the expiry, at most 200", func(t *testing.T) {
		expires, _ := time.Parse(time.RFC3339, useA.ExpiresAt)
		at := time.Now()
		yes := accesslog.Record{Issuer: analyst.Issuer, Sub: analyst.Subject, Agency: analyst.Agency, CaseID: caseA, Action: "case.read",
			Decision: accesslog.Allow, BreakGlass: true, Time: at}
		for _, r := range []accesslog.Record{
			func() accesslog.Record { r := yes; r.Issuer = "https://idp.example"; return r }(),
			func() accesslog.Record { r := yes; r.BreakGlass = false; return r }(),
			func() accesslog.Record { r := yes; r.CaseID = caseB; return r }(),
			func() accesslog.Record { r := yes; r.Sub = "ia-gus"; return r }(),
			func() accesslog.Record { r := yes; r.Time = expires; return r }(),
		} {
			f.appendRecord(t, r)
		}
		var more []uint64
		for range 199 {
			more = append(more, f.appendRecord(t, yes))
		}
		page, err := f.uses(t, hub.BreakGlassQuery{CaseID: caseA})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("%v, %+v", err, page)
		}
		use := page.Items[0]
		if len(use.Reads) != hub.MaxGrantReads || !use.ReadsTruncated || use.Reads[1].Index != reads[1] || use.Reads[2].Index != more[0] || use.Reads[199].Index != more[197] {
			t.Fatalf("%d reads (truncated %v), want the first 200 of 201, none of the others", len(use.Reads), use.ReadsTruncated)
		}
	})

	t.Run("a review is the call's one access record", func(t *testing.T) {
		before, _ := f.access.Len(context.Background())
		ans, err := f.review(t, auditor, fmt.Sprint(grantA), `{"note":"Checked with the analyst's manager:\njustified."}`)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := f.access.Len(context.Background())
		if after != before+1 {
			t.Fatalf("%d access records for the review, want 1", after-before)
		}
		if ans.Index != grantA || ans.Review.Index != before || ans.Review.Sub != auditor.Subject || ans.Review.Agency != auditor.Agency ||
			ans.Review.Note != "Checked with the analyst's manager:\njustified." {
			t.Errorf("answer %+v", ans)
		}
		var rec accesslog.Record
		for r, err := range f.access.Records(context.Background(), before) {
			if err != nil {
				t.Fatal(err)
			}
			rec = r
			break
		}
		if rec.Action != "break-glass.review" || rec.CaseID != caseA || rec.Reference != fmt.Sprintf("record:%d", grantA) ||
			rec.Justification != ans.Review.Note || rec.Decision != accesslog.Allow || rec.Status != 201 || rec.Sub != auditor.Subject {
			t.Errorf("the review's record %+v", rec)
		}
	})

	t.Run("the review shows, and filters", func(t *testing.T) {
		yes, no := true, false
		for _, c := range []struct {
			q    hub.BreakGlassQuery
			want []uint64
		}{
			{hub.BreakGlassQuery{}, []uint64{grantB, grantA}},
			{hub.BreakGlassQuery{Reviewed: &yes}, []uint64{grantA}},
			{hub.BreakGlassQuery{Reviewed: &no}, []uint64{grantB}},
			{hub.BreakGlassQuery{Reviewed: &no, CaseID: caseA}, nil},
			{hub.BreakGlassQuery{Agency: "intelligence-service"}, []uint64{grantA}},
			{hub.BreakGlassQuery{Agency: "prison-service"}, nil},
			{hub.BreakGlassQuery{CaseID: caseB}, []uint64{grantB}},
			{hub.BreakGlassQuery{To: time.Now().Add(-time.Hour)}, nil},
			{hub.BreakGlassQuery{From: time.Now().Add(-time.Hour)}, []uint64{grantB, grantA}},
		} {
			page, err := f.uses(t, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := indexes(page); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%+v: %v, want %v", c.q, got, c.want)
			}
			for _, u := range page.Items {
				if (u.Review != nil) != (u.Record.Index == grantA) {
					t.Errorf("grant %d's review: %+v", u.Record.Index, u.Review)
				}
				if u.Review != nil && (u.Review.Note != "Checked with the analyst's manager:\njustified." || u.Review.Sub != auditor.Subject) {
					t.Errorf("review %+v", u.Review)
				}
			}
		}
	})

	t.Run("pages, newest first, with a cursor of that order only", func(t *testing.T) {
		first, err := f.uses(t, hub.BreakGlassQuery{Limit: 1})
		if err != nil || indexes(first)[0] != grantB || first.NextCursor == nil {
			t.Fatalf("%v %+v", err, first)
		}
		second, err := f.uses(t, hub.BreakGlassQuery{Limit: 1, Cursor: *first.NextCursor})
		if err != nil || len(second.Items) != 1 || indexes(second)[0] != grantA || second.NextCursor != nil {
			t.Fatalf("%v %+v", err, second)
		}
		var asc *hub.RecordPage
		if err := f.call(t, auditor, "oversight", "audit.records", func(ctx context.Context, c *hub.Call) (err error) {
			asc, err = f.svc.AuditRecords(ctx, c, hub.RecordQuery{Limit: 1})
			return err
		}); err != nil || asc.NextCursor == nil {
			t.Fatal(err)
		}
		_, err = f.uses(t, hub.BreakGlassQuery{Cursor: *asc.NextCursor})
		kindOf(t, err, domain.KindInvalid, "cursor")
	})

	t.Run("refusals", func(t *testing.T) {
		_, err := f.review(t, auditor, fmt.Sprint(grantA), `{"note":"again"}`)
		kindOf(t, err, domain.KindConflict, "")
		for name, index := range map[string]string{"a read": fmt.Sprint(reads[0]), "beyond the log": "99999999", "not a number": "x1", "negative": "-1"} {
			_, err := f.review(t, auditor, index, `{"note":"n"}`)
			if domain.KindOf(err) != domain.KindNotFound {
				t.Errorf("reviewing %s: %v, want not found", name, err)
			}
		}
		for name, body := range map[string]string{"empty": `{"note":""}`, "blank": `{"note":"  "}`, "missing": `{}`,
			"a control character": `{"note":"ok\u0007"}`, "too long": `{"note":"` + strings.Repeat("é", 1001) + `"}`, "another field": `{"note":"n","x":1}`} {
			_, err := f.review(t, auditor, fmt.Sprint(grantB), body)
			var de *domain.Error
			if !errorsAs(err, &de) || de.Kind != domain.KindInvalid || len(de.Fields) == 0 || (de.Fields[0].Field != "note" && de.Fields[0].Field != "x") {
				t.Errorf("note %s: %v, want invalid naming note", name, err)
			}
		}
		for _, who := range []domain.Identity{dpoA, caseworker, analyst} {
			_, err := f.review(t, who, fmt.Sprint(grantB), `{"note":"n"}`)
			kindOf(t, err, domain.KindForbidden, "")
			_, err = f.review(t, who, "99999999", `{"note":""}`) // refused before anything is read
			kindOf(t, err, domain.KindForbidden, "")
		}
		if err := f.call(t, dpoA, "oversight", "audit.break-glass", func(ctx context.Context, c *hub.Call) error {
			_, err := f.svc.BreakGlassUses(ctx, c, hub.BreakGlassQuery{})
			return err
		}); err != nil {
			t.Errorf("a dpo listing break-glass use: %v", err)
		}
		for _, who := range []domain.Identity{caseworker, analyst} {
			err := f.call(t, who, "oversight", "audit.break-glass", func(ctx context.Context, c *hub.Call) error {
				_, err := f.svc.BreakGlassUses(ctx, c, hub.BreakGlassQuery{})
				return err
			})
			kindOf(t, err, domain.KindForbidden, "")
		}
	})

	t.Run("two reviews at once: one succeeds", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.review(t, auditor, fmt.Sprint(grantB), fmt.Sprintf(`{"note":"review %d"}`, i)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case domain.KindOf(err) != domain.KindConflict:
				t.Errorf("%v, want conflict", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d reviews succeeded, want 1", ok)
		}
		n := 0
		for r, err := range f.access.Records(context.Background(), 0) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Action == "break-glass.review" && r.Decision == accesslog.Allow && r.Reference == fmt.Sprintf("record:%d", grantB) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d allowed review records of grant B, want 1", n)
		}
	})
}

// summaryDay is the first day of TestAuditSummary's records, long before the
// calls of the test itself (stamped now).
var summaryDay = time.Date(2020, 2, 26, 0, 0, 0, 0, time.UTC) // a Wednesday

// TestAuditSummary counts records of known times, agencies, actions and
// decisions by day, week and month.
func TestAuditSummary(t *testing.T) {
	f := newAuditFixture(t)
	rec := func(day int, hour int, agency, action, decision string) {
		r := accesslog.Record{Time: summaryDay.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour), Agency: agency, Action: action, Decision: decision}
		if action == "break-glass" {
			r.BreakGlass = true
		}
		f.appendRecord(t, r)
	}
	// Day 0 (Wed 26 Feb): two reads and a denial of the prison, a grant
	// and a refused one of intelligence, an append (no count).
	rec(0, 9, "prison-service", "section.read", accesslog.Allow)
	rec(0, 10, "prison-service", "case.list", accesslog.Partial)
	rec(0, 11, "prison-service", "case.read", accesslog.Deny)
	rec(0, 12, "intelligence-service", "break-glass", accesslog.Allow)
	rec(0, 13, "intelligence-service", "break-glass", accesslog.Deny)
	rec(0, 14, "municipality", "event.append", accesslog.Allow)
	// Day 4 (Sun 1 Mar): a feed read and an anonymous refusal.
	rec(4, 8, "prison-service", "feed.read", accesslog.Allow)
	rec(4, 9, "", "unknown", accesslog.Deny)
	// Day 5 (Mon 2 Mar): an events read at midnight, the start of a day, a
	// week and a month.
	rec(5, 0, "intelligence-service", "events.read", accesslog.Allow)

	type counts struct{ reads, denials, bg int }
	summary := func(q hub.SummaryQuery) (*hub.Summary, error) {
		var out *hub.Summary
		err := f.call(t, auditor, "oversight", "audit.summary", func(ctx context.Context, c *hub.Call) (err error) {
			out, err = f.svc.AuditSummary(ctx, c, q)
			return err
		})
		return out, err
	}
	from, to := summaryDay, summaryDay.AddDate(0, 0, 7)
	for _, c := range []struct {
		bucket string
		starts []time.Time
		want   map[string][]counts
	}{
		{"day", []time.Time{summaryDay, summaryDay.AddDate(0, 0, 1), summaryDay.AddDate(0, 0, 2), summaryDay.AddDate(0, 0, 3), summaryDay.AddDate(0, 0, 4), summaryDay.AddDate(0, 0, 5), summaryDay.AddDate(0, 0, 6)},
			map[string][]counts{
				"":                     {{}, {}, {}, {}, {0, 1, 0}, {}, {}},
				"intelligence-service": {{0, 1, 1}, {}, {}, {}, {}, {1, 0, 0}, {}},
				"prison-service":       {{2, 1, 0}, {}, {}, {}, {1, 0, 0}, {}, {}},
			}},
		{"week", []time.Time{summaryDay.AddDate(0, 0, -2), summaryDay.AddDate(0, 0, 5)},
			map[string][]counts{
				"":                     {{0, 1, 0}, {}},
				"intelligence-service": {{0, 1, 1}, {1, 0, 0}},
				"prison-service":       {{3, 1, 0}, {}},
			}},
		{"month", []time.Time{time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)},
			map[string][]counts{
				"":                     {{}, {0, 1, 0}},
				"intelligence-service": {{0, 1, 1}, {1, 0, 0}},
				"prison-service":       {{2, 1, 0}, {1, 0, 0}},
			}},
	} {
		s, err := summary(hub.SummaryQuery{Bucket: c.bucket, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		if s.Bucket != c.bucket || !s.From.Equal(from) || !s.To.Equal(to) || len(s.Series) != len(c.want) {
			t.Fatalf("%s: %+v", c.bucket, s)
		}
		for i, series := range s.Series {
			if i > 0 && s.Series[i-1].Agency >= series.Agency {
				t.Errorf("%s: series not by agency", c.bucket)
			}
			want := c.want[series.Agency]
			if len(series.Buckets) != len(c.starts) {
				t.Fatalf("%s, %q: %d buckets, want %d", c.bucket, series.Agency, len(series.Buckets), len(c.starts))
			}
			for j, b := range series.Buckets {
				if !b.Start.Equal(c.starts[j]) || (counts{b.Reads, b.Denials, b.BreakGlass}) != want[j] {
					t.Errorf("%s, %q, bucket %d: %+v, want start %v and %+v", c.bucket, series.Agency, j, b, c.starts[j], want[j])
				}
			}
		}
	}

	t.Run("a window cuts the records outside it", func(t *testing.T) {
		s, err := summary(hub.SummaryQuery{From: summaryDay.Add(10 * time.Hour), To: summaryDay.Add(12 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Series) != 1 || s.Series[0].Agency != "prison-service" || len(s.Series[0].Buckets) != 1 ||
			s.Series[0].Buckets[0] != (hub.SummaryBucket{Start: summaryDay, Reads: 1, Denials: 1}) {
			t.Errorf("%+v", s)
		}
	})
	t.Run("the default is the last 30 days by day", func(t *testing.T) {
		rec(0, 0, "exit-ngo", "case.read", accesslog.Allow) // long ago
		f.appendRecord(t, accesslog.Record{Time: time.Now(), Agency: "exit-ngo", Action: "case.read", Decision: accesslog.Allow})
		s, err := summary(hub.SummaryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		today := time.Now().UTC().Truncate(24 * time.Hour)
		if s.Bucket != "day" || !s.From.Equal(today.AddDate(0, 0, -29)) || time.Since(s.To) > time.Minute || len(s.Series) != 1 {
			t.Fatalf("%+v", s)
		}
		if b := s.Series[0].Buckets; s.Series[0].Agency != "exit-ngo" || len(b) != 30 || b[29] != (hub.SummaryBucket{Start: today, Reads: 1}) {
			t.Errorf("%+v", s.Series[0])
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			q     hub.SummaryQuery
			field string
		}{
			{hub.SummaryQuery{Bucket: "hour"}, "bucket"},
			{hub.SummaryQuery{From: summaryDay, To: summaryDay.AddDate(0, 0, 400).Add(time.Nanosecond)}, "bucket"},
			{hub.SummaryQuery{From: summaryDay, To: summaryDay.AddDate(40, 0, 0), Bucket: "month"}, "bucket"},
			{hub.SummaryQuery{From: summaryDay, To: summaryDay}, "from"},
			{hub.SummaryQuery{From: summaryDay.AddDate(0, 0, 1), To: summaryDay}, "from"},
		} {
			_, err := summary(c.q)
			kindOf(t, err, domain.KindInvalid, c.field)
		}
		if _, err := summary(hub.SummaryQuery{From: summaryDay, To: summaryDay.AddDate(0, 0, 400)}); err != nil {
			t.Errorf("400 days: %v", err)
		}
		err := f.call(t, caseworker, "oversight", "audit.summary", func(ctx context.Context, c *hub.Call) error {
			_, err := f.svc.AuditSummary(ctx, c, hub.SummaryQuery{Bucket: "hour"})
			return err
		})
		kindOf(t, err, domain.KindForbidden, "")
	})
}

// BenchmarkAuditSummary times a summary by day over 100,000 access records
// of 30 days (5 organisations, a tenth refused, a few break-glass grants).
func BenchmarkAuditSummary(b *testing.B) {
	f := newAuditFixture(b)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 100_000
	agencies := []string{"prison-service", "probation-service", "intelligence-service", "municipality", "exit-ngo"}
	actions := []string{"section.read", "case.read", "events.read", "case.list", "feed.read", "event.append", "break-glass"}
	for i := 0; i < n; {
		var batch []*accesslog.Record
		for ; len(batch) < 2000; i++ {
			r := &accesslog.Record{Time: start.Add(time.Duration(i) * 30 * 24 * time.Hour / n), RequestID: fmt.Sprintf("%024x", i),
				Sub: fmt.Sprintf("user-%d", i%50), Agency: agencies[i%5], Roles: []string{"caseworker"}, Purpose: "case-management",
				Action: actions[i%7], CaseID: fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i%2000), Decision: accesslog.Allow,
				Status: 200, Reasons: []string{}, PolicyRevision: "rev"}
			if i%10 == 0 {
				r.Decision = accesslog.Deny
			}
			r.BreakGlass = r.Action == "break-glass" && i%100 == 6
			batch = append(batch, r)
		}
		if err := f.access.AppendAll(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	q := hub.SummaryQuery{From: start, To: start.AddDate(0, 0, 30)}
	b.ResetTimer()
	for b.Loop() {
		c := hub.NewCall(auditor, "oversight", time.Now(), "bench", "audit.summary")
		s, err := f.svc.AuditSummary(context.Background(), c, q)
		if err != nil || len(s.Series) != 5 {
			b.Fatalf("%v %+v", err, s)
		}
	}
	b.ReportMetric(float64(n), "records")
}
