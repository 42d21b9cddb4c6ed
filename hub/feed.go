package hub

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// The feed (docs/api.md, "The feed"): for one reader (identity and purpose),
// the changes of its views of every case, in append order — each item that
// enters its view (a new event it may read, or an older one it may read now:
// consent given, a stage reached, a grant), and a withdrawal notice when a
// case leaves its view (consent withdrawn or expired, erasure), so that a
// partner system deletes its copy.
//
// Nothing else: every entry is a change of the reader's own view, in the
// order of the events that made it (a change made by the clock alone — the
// reader's consent expiring, its grant ending — after the events of the
// page), so that an event the reader may not read adds nothing, moves no
// entry and leaves the cursor as it was (docs/protocol.md, "What a reader can
// infer"). The reader's view before a range of events is replayed from the
// log (projections.Replay), so the hub keeps no state per reader but a
// bounded memo of how far a cursor was found to have nothing new.
//
// A page reads the log only as far as the projections have applied it (an
// event beyond makes no change in any view yet, and must not be passed over),
// and only the changes made by the events it read: a case's later events are
// the next page's, so that no other case's event appended in between is
// skipped.

// FeedEntry is one entry of a feed: an item entering the reader's view, with
// its case (Kind "item"), or a withdrawal notice (Kind "withdrawn") with its
// reason: "consent" (the participant's consent for the reader's organisation
// ended), "erased", "not-visible" (the case left the view otherwise), or
// "reduced" (items left the view while the case stays: the notice is followed
// by the case's whole view again).
type FeedEntry struct {
	Kind   string `json:"kind"`
	CaseID string `json:"case_id"`
	Reason string `json:"reason,omitempty"`
	*Item
}

// Feed entry kinds and withdrawal reasons.
const (
	FeedItem      = "item"
	FeedWithdrawn = "withdrawn"

	WithdrawnConsent    = "consent"
	WithdrawnErased     = "erased"
	WithdrawnNotVisible = "not-visible"
	WithdrawnReduced    = "reduced"
)

// FeedPage is a page of a feed and the cursor that resumes after it. An
// empty page leaves the cursor as it was.
type FeedPage struct {
	Items  []FeedEntry `json:"items"`
	Cursor string      `json:"cursor"`
	// Cursors[i] resumes right after Items[i] (a stream's event ids).
	Cursors []string `json:"-"`
	// More says that the feed has more to give now, without waiting for a
	// change: the page was cut at its limit, or the scan stopped before the
	// end of what the views hold.
	More bool `json:"-"`
}

// FeedQuery asks for a page of a feed.
type FeedQuery struct {
	// Cursor is a page's Cursor, "" for the start of the feed.
	Cursor string
	// Limit bounds the entries of the page, 1 to MaxFeedLimit (0:
	// DefaultFeedLimit).
	Limit int
}

// Limits of a feed page and of the events one call scans.
const (
	DefaultFeedLimit = 100
	MaxFeedLimit     = 500
	// feedScan bounds the events one call reads; a call that reads that many
	// without finding anything new answers an empty page, and the next call
	// goes on from where it stopped (feedMemo).
	feedScan = 20000
)

// feedCursor is where a reader stands in its feed.
type feedCursor struct {
	// last is the position of the event that made the last entry delivered
	// (the scan resumes there), done how many of its entries were delivered,
	// lastCase the case of that event (so that the scan need not read the
	// log at last itself: it reads after last, which is a position the log
	// gave, and looks at lastCase's changes from last on).
	last     eventlog.Position
	done     uint32
	lastCase string
	// seen is the start of the day when the reader's changes made by the
	// clock alone were last looked for.
	seen int64
}

// Feed cursors: a version byte, then last, done and seen, then (version 3)
// the length and bytes of lastCase. A cursor of version 2 (no lastCase)
// resumes by reading the log from last itself. A cursor of the first layout
// (44 bytes: the time and position of the last entry, done, last, seen)
// resumes at its last event, giving that event's entries again: a follower
// keeps items by event id, so a repeat changes nothing.
const (
	feedCursorVersion   = 3
	feedCursorVersionV2 = 2
	feedCursorLenV2     = 1 + 8 + 8 + 4 + 8
	feedCursorLenV1     = 8 + 8 + 4 + 8 + 8 + 8
)

func (c feedCursor) encode() []byte {
	b := make([]byte, 0, feedCursorLenV2+1+len(c.lastCase))
	b = append(b, feedCursorVersion)
	b = binary.BigEndian.AppendUint64(b, c.last.Commit)
	b = binary.BigEndian.AppendUint64(b, c.last.Prepare)
	b = binary.BigEndian.AppendUint32(b, c.done)
	b = binary.BigEndian.AppendUint64(b, uint64(c.seen))
	b = append(b, byte(len(c.lastCase)))
	return append(b, c.lastCase...)
}

func decodeFeedCursor(b []byte) (feedCursor, bool) {
	switch {
	case len(b) > feedCursorLenV2 && b[0] == feedCursorVersion && int(b[feedCursorLenV2]) == len(b)-feedCursorLenV2-1:
		c, _ := decodeFeedCursor(append([]byte{feedCursorVersionV2}, b[1:feedCursorLenV2]...))
		c.lastCase = string(b[feedCursorLenV2+1:])
		return c, true
	case len(b) == feedCursorLenV2 && b[0] == feedCursorVersionV2:
		return feedCursor{
			last: eventlog.Position{Commit: binary.BigEndian.Uint64(b[1:]), Prepare: binary.BigEndian.Uint64(b[9:])},
			done: binary.BigEndian.Uint32(b[17:]),
			seen: int64(binary.BigEndian.Uint64(b[21:])),
		}, true
	case len(b) == feedCursorLenV1:
		return feedCursor{
			last: eventlog.Position{Commit: binary.BigEndian.Uint64(b[20:]), Prepare: binary.BigEndian.Uint64(b[28:])},
			seen: int64(binary.BigEndian.Uint64(b[36:])),
		}, true
	}
	return feedCursor{}, false
}

// feedBinding binds a feed cursor to its reader: identity and purpose.
func feedBinding(c *Call) string {
	return string(appendKey(appendIdentity(nil, c.Identity), c.Purpose))
}

// keyed is an entry with the position of the event that made it (zero for a
// change made by the clock alone), as a page is assembled.
type keyed struct {
	pos   eventlog.Position
	entry FeedEntry
}

// Feed answers the next page of the caller's feed after q.Cursor. It returns
// KindForbidden for a caller or purpose that follows no cases, KindInvalid
// naming "cursor" for a cursor this hub did not give this caller (for this
// purpose), and KindUnavailable while the hub starts. Each case delivered is
// noted in an access record of its own, made durable before the page is
// returned; the call's own record says how many.
func (s *Service) Feed(ctx context.Context, c *Call, q FeedQuery) (*FeedPage, error) {
	if err := s.service(ctx, c, "feed"); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultFeedLimit
	}
	binding := feedBinding(c)
	var cur feedCursor
	if q.Cursor != "" {
		b, err := s.tokens.open(tokenFeed, binding, q.Cursor)
		var ok bool
		if err == nil {
			cur, ok = decodeFeedCursor(b)
		}
		if !ok {
			return nil, domain.Invalid("invalid cursor", domain.FieldError{Field: "cursor", Message: "is not a feed cursor this hub gave this caller for this purpose"})
		}
	}
	if !s.cfg.Projector.Ready() {
		return nil, errNotReady
	}
	if cur.seen == 0 {
		// A new feed has looked at nothing yet; its clock starts with the
		// day (a cursor changes with the day at most, never with the time
		// of the call).
		cur.seen = dayStart(c.Now)
	}
	applied := s.cfg.Projector.Applied()
	page, err := s.feedShare.get(binding, cur, q.Limit, applied, c.Now, func() (*FeedPage, error) {
		return s.feedPage(ctx, c, cur, q.Limit, applied)
	})
	if err != nil {
		return nil, err
	}
	if err := s.recordFeed(ctx, c, page); err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		page.Cursor = q.Cursor
		if page.Cursor == "" {
			page.Cursor = s.tokens.seal(tokenFeed, binding, cur.encode())
		}
	}
	return page, nil
}

// FeedChanged returns a channel closed when the views next change: a reader
// waiting for its feed looks again then (and at the next day's start, when
// consent may expire).
func (s *Service) FeedChanged() <-chan struct{} { return s.cfg.Projector.Changed() }

// bound is where the scan of the log starts: at pos (inclusive), or after it.
type bound struct {
	pos       eventlog.Position
	inclusive bool
}

// before says whether an event at pos lies before the bound.
func (b bound) before(pos eventlog.Position) bool {
	if b.inclusive {
		return pos.Less(b.pos)
	}
	return !b.pos.Less(pos)
}

// after is the position ReadAll reads after (exclusive) to start at the bound.
func (b bound) after() eventlog.Position {
	switch {
	case !b.inclusive, b.pos.IsZero():
		return b.pos
	case b.pos.Prepare > 0:
		return eventlog.Position{Commit: b.pos.Commit, Prepare: b.pos.Prepare - 1}
	}
	return eventlog.Position{Commit: b.pos.Commit - 1, Prepare: ^uint64(0)}
}

// feedPage assembles the page after cur.
func (s *Service) feedPage(ctx context.Context, c *Call, cur feedCursor, limit int, applied uint64) (*FeedPage, error) {
	binding := feedBinding(c)
	// The scan starts at the event of the last entry delivered (it may have
	// more entries), or where a call with this cursor found nothing new.
	from := bound{pos: cur.last, inclusive: true}
	if m, ok := s.feedMemo.get(binding, cur); ok {
		from = bound{pos: m}
	}
	// The log is read in chunks until the page is full, everything applied
	// is read, or feedScan events were: a page costs what it delivers, not
	// what lies after it. A chunk's entries all come after the previous
	// chunk's, so the entries stay in append order; the clock's changes to a
	// case are looked for once, with its first chunk (after that the reader's
	// view of it is the one the page gives, as the clock stands now).
	now := c.Now
	var (
		events, clock []keyed
		touched       []touchedCase
		scanned       eventlog.Position
		complete      bool
		read          int
	)
	visited := map[string]bool{}
	for at := from; ; {
		var part []touchedCase
		var last eventlog.Position
		readAfter := at.after()
		if at.inclusive && cur.lastCase != "" {
			// The cursor's event is lastCase's: its case is looked at from
			// there without reading the log at it.
			readAfter, last = at.pos, at.pos
			part = append(part, touchedCase{id: cur.lastCase})
		}
		more, upto, done, n, err := s.touchedCases(ctx, readAfter, applied, min(feedChunk(limit), feedScan-read))
		if err != nil {
			return nil, err
		}
		for _, tc := range more {
			if tc.id != cur.lastCase || !at.inclusive {
				part = append(part, tc)
			}
		}
		if !upto.IsZero() {
			last = upto
		}
		for _, tc := range part {
			ev, cl, err := s.caseChanges(ctx, c, tc, at, last, cur.seen, now, !visited[tc.id])
			if err != nil {
				return nil, err
			}
			events, clock = append(events, ev...), append(clock, cl...)
			if !visited[tc.id] {
				visited[tc.id] = true
				touched = append(touched, tc)
			}
		}
		if !last.IsZero() {
			scanned = last
		}
		read += n
		complete = done
		if done || read >= feedScan || len(events) > limit+int(cur.done) {
			break
		}
		at = bound{pos: scanned}
	}
	// Changes by the clock alone for cases no event touched: the reader's
	// consent expires at a day's start, its break-glass grants end; looked
	// for when a day has begun since the reader last looked.
	seen := cur.seen
	if complete && dayOf(cur.seen) != dayOf(now.UnixNano()) {
		cl, err := s.clockChanges(ctx, c, touched, cur.seen, now)
		if err != nil {
			return nil, err
		}
		clock = append(clock, cl...)
		seen = dayStart(now)
	}
	slices.SortStableFunc(events, func(a, b keyed) int { return a.pos.Compare(b.pos) })
	page := &FeedPage{Items: []FeedEntry{}}
	next := cur
	deliver := func(k keyed) {
		page.Items = append(page.Items, k.entry)
		page.Cursors = append(page.Cursors, s.tokens.seal(tokenFeed, binding, next.encode()))
	}
	skipped, cut := uint32(0), false
	for _, k := range events {
		if k.pos == cur.last && skipped < cur.done {
			skipped++ // delivered before
			continue
		}
		if len(page.Items) == limit {
			cut = true
			break
		}
		if k.pos != next.last {
			next.last, next.done, next.lastCase = k.pos, 0, k.entry.CaseID
		}
		next.done++
		deliver(k)
	}
	if !cut {
		// The changes by the clock come after the events', all in this page
		// (past its limit if need be: they are not numbered, and a cursor
		// inside them would lose the rest); only the last entry's cursor
		// says they were looked for, so that a stream resumed inside them
		// gives them again.
		for i, k := range clock {
			if i == len(clock)-1 {
				next.seen = seen
			}
			deliver(k)
		}
		next.seen = seen
	}
	if len(page.Items) > 0 {
		page.Cursor = page.Cursors[len(page.Cursors)-1]
	} else if next.seen != cur.seen {
		// Nothing new, but the day's changes by the clock were looked for.
		page.Cursor = s.tokens.seal(tokenFeed, binding, next.encode())
	}
	page.More = cut || !complete
	if !cut && !scanned.IsZero() {
		// Everything the scan found up to scanned is delivered: a call from
		// the new cursor scans on after it.
		s.feedMemo.put(binding, next, scanned)
	}
	return page, nil
}

func dayOf(ns int64) int64 { return time.Unix(0, ns).UTC().Unix() / 86400 }

// dayStart is the start of t's UTC day, in Unix nanoseconds.
func dayStart(t time.Time) int64 { return t.UTC().Truncate(24 * time.Hour).UnixNano() }

// touchedCase is a case with events in the range scanned.
type touchedCase struct{ id string }

// touchedCases reads the log after position after, up to max events and no
// further than the projections have applied (commit position applied), and
// returns the cases it touches in order of their first event there, the
// position of the last event read, whether it read all the projections hold,
// and how many events it read.
func (s *Service) touchedCases(ctx context.Context, after eventlog.Position, applied uint64, max int) ([]touchedCase, eventlog.Position, bool, int, error) {
	seen := map[string]bool{}
	var out []touchedCase
	var last eventlog.Position
	n := 0
	for r, err := range s.cfg.Log.ReadAll(ctx, after) {
		if err != nil {
			return nil, last, false, n, domain.Internal(err)
		}
		if r.Position.Commit > applied {
			return out, last, true, n, nil // not in the views yet
		}
		if n == max {
			return out, last, false, n, nil
		}
		n++
		last = r.Position
		if !seen[r.Stream] {
			seen[r.Stream] = true
			out = append(out, touchedCase{id: r.Stream})
		}
	}
	return out, last, true, n, nil
}

// feedChunk is how many events a page reads at a time while it fills.
func feedChunk(limit int) int { return max(2*limit, 500) }

// caseChanges returns the changes of the reader's view of one case made by
// its events from the bound up to upto (the last event scanned), each view
// computed as the clock stands now; and, apart, the changes the clock alone
// made to its view before the bound (as it stood at seen, and now), when
// withClock.
func (s *Service) caseChanges(ctx context.Context, c *Call, tc touchedCase, from bound, upto eventlog.Position, seen int64, now time.Time, withClock bool) (events, clock []keyed, err error) {
	v, ok := s.cfg.Projector.Get(tc.id)
	if !ok {
		return nil, nil, nil
	}
	if v.Case.Erased {
		events, err := s.erasedChanges(ctx, c, v, from, upto)
		return events, nil, err
	}
	h, err := s.history(ctx, v)
	if err != nil {
		return nil, nil, err
	}
	var before *projections.View // the case before the bound
	steps := h.steps
	i := slices.IndexFunc(steps, func(st replayStep) bool { return !from.before(st.pos) })
	if i < 0 {
		i = len(steps)
	}
	if i > 0 {
		before = steps[i-1].view
	}
	steps = steps[i:]
	if j := slices.IndexFunc(steps, func(st replayStep) bool { return upto.Less(st.pos) }); j >= 0 {
		steps = steps[:j] // the next page's
	}
	q := readQuery(c)
	var prev *readerView // what the reader had
	if before != nil {
		if prev, err = s.viewOf(ctx, q, before); err != nil {
			return nil, nil, domain.Internal(err)
		}
		if withClock {
			// What the clock alone changed since the reader last looked.
			then := q
			then.Now = time.Unix(0, seen)
			old, err := s.viewOf(ctx, then, before)
			if err != nil {
				return nil, nil, domain.Internal(err)
			}
			if clock, err = s.viewChanges(ctx, c, tc.id, old, prev, eventlog.Position{}); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, st := range steps {
		rv, err := s.viewOf(ctx, q, st.view)
		if err != nil {
			return nil, nil, domain.Internal(err)
		}
		changes, err := s.viewChanges(ctx, c, tc.id, prev, rv, st.pos)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, changes...)
		prev = rv
	}
	return events, clock, nil
}

// erasedChanges returns, for an erased case, the withdrawal notice its erasure
// makes in the feed of a reader whose organisation could see it, if the
// erasure lies from the bound up to upto. Nothing else of an erased case can
// be delivered: its content is gone.
func (s *Service) erasedChanges(ctx context.Context, c *Call, v *projections.View, from bound, upto eventlog.Position) ([]keyed, error) {
	d, err := s.cfg.Policy.ReadCase(ctx, policies.ReadQuery{Identity: c.Identity, Purpose: c.Purpose, Now: c.Now, Case: v.Case, CaseKey: v.PolicyKey})
	if err != nil || d.Kind != domain.KindGone {
		return nil, err
	}
	h, err := s.history(ctx, v)
	if err != nil {
		return nil, err
	}
	for _, st := range h.steps {
		if st.view.Case.Erased && !from.before(st.pos) && !upto.Less(st.pos) {
			return []keyed{{pos: st.pos, entry: FeedEntry{Kind: FeedWithdrawn, CaseID: v.Case.ID, Reason: WithdrawnErased}}}, nil
		}
	}
	return nil, nil
}

// viewChanges compares two views of one case by the reader (prev: what it
// had; cur: what it has now; either may be nil or a refusal) and returns the
// entries that bring the reader from one to the other, made by the event at
// pos (zero: by the clock).
func (s *Service) viewChanges(ctx context.Context, c *Call, caseID string, prev, cur *readerView, pos eventlog.Position) ([]keyed, error) {
	had := prev != nil && prev.dec.Allow
	has := cur != nil && cur.dec.Allow
	var out []keyed
	entry := func(e FeedEntry) { out = append(out, keyed{pos: pos, entry: e}) }
	switch {
	case !had && !has:
		return nil, nil
	case had && !has:
		entry(FeedEntry{Kind: FeedWithdrawn, CaseID: caseID, Reason: withdrawalReason(c, cur)})
		return out, nil
	}
	known := map[[16]byte]bool{}
	if had {
		for _, vi := range prev.items {
			known[vi.it.ID] = true
		}
		for _, vi := range cur.items {
			delete(known, vi.it.ID)
		}
		if len(known) > 0 {
			// Items left the view: withdraw the case, then give its view
			// again.
			entry(FeedEntry{Kind: FeedWithdrawn, CaseID: caseID, Reason: WithdrawnReduced})
			had = false
		}
		for _, vi := range prev.items {
			known[vi.it.ID] = had
		}
	}
	var picked []shownItem
	for n, vi := range cur.items {
		if !known[vi.it.ID] {
			picked = append(picked, shownItem{it: vi.it, number: uint64(n + 1), dec: vi.dec})
		}
	}
	if len(picked) == 0 {
		return out, nil
	}
	items, err := s.feedItems(ctx, caseID, picked)
	if err != nil {
		return nil, err
	}
	for i := range items {
		entry(FeedEntry{Kind: FeedItem, CaseID: caseID, Item: &items[i]})
	}
	return out, nil
}

// withdrawalReason says why a case left the reader's view.
func withdrawalReason(c *Call, cur *readerView) string {
	switch {
	case cur != nil && cur.dec.Kind == domain.KindGone:
		return WithdrawnErased
	case cur != nil && cur.q.Case != nil:
		if g, ok := cur.q.Case.Consent[c.Identity.Agency]; !ok || g.ExpiresAt != "" && c.Now.UTC().Format(time.DateOnly) >= g.ExpiresAt {
			return WithdrawnConsent
		}
	}
	return WithdrawnNotVisible
}

// feedItems renders the items of a feed entry, like a section read's.
func (s *Service) feedItems(ctx context.Context, caseID string, picked []shownItem) ([]Item, error) {
	versions := make([]uint64, len(picked))
	for i, p := range picked {
		versions[i] = p.it.Version
	}
	data, err := s.cfg.Projector.Data(ctx, caseID, versions)
	if domain.KindOf(err) == domain.KindGone {
		return nil, nil // erased since: its withdrawal follows
	}
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(picked))
	for i, p := range picked {
		out[i] = itemOf(p, data[p.it.Version])
	}
	return out, nil
}

// clockChanges returns the changes the clock alone made, between seen and now,
// in the reader's views of the cases no event of the range touched: looked for
// in every case where the reader's organisation holds consent or the reader a
// break-glass grant.
func (s *Service) clockChanges(ctx context.Context, c *Call, touched []touchedCase, seen int64, now time.Time) ([]keyed, error) {
	skip := make(map[string]bool, len(touched))
	for _, tc := range touched {
		skip[tc.id] = true
	}
	then, q := readQuery(c), readQuery(c)
	then.Now, q.Now = time.Unix(0, seen), now
	var out []keyed
	var failure error
	s.cfg.Projector.Scan(0, func(v *projections.View) bool {
		if skip[v.Case.ID] || v.Case.Erased || !mayChangeByClock(c, v.Case) {
			return true
		}
		old, err := s.viewOf(ctx, then, v)
		if err != nil {
			failure = err
			return false
		}
		cur, err := s.viewOf(ctx, q, v)
		if err != nil {
			failure = err
			return false
		}
		changes, err := s.viewChanges(ctx, c, v.Case.ID, old, cur, eventlog.Position{})
		if err != nil {
			failure = err
			return false
		}
		out = append(out, changes...)
		return true
	})
	if failure != nil {
		return nil, domain.Internal(failure)
	}
	return out, nil
}

// mayChangeByClock says whether the reader's view of a case can change by the
// clock alone: its organisation's consent has an expiry, or it holds a grant.
func mayChangeByClock(c *Call, cs *domain.Case) bool {
	if g, ok := cs.Consent[c.Identity.Agency]; ok && g.ExpiresAt != "" {
		return true
	}
	for _, g := range cs.BreakGlass {
		if g.Agency == c.Identity.Agency && g.Subject == c.Identity.Subject {
			return true
		}
	}
	return false
}

// recordFeed makes the page's access records durable: one per case
// delivered (the call's own record for the first), or the call's own when
// nothing was delivered.
func (s *Service) recordFeed(ctx context.Context, c *Call, page *FeedPage) error {
	byCase := map[string]int{}
	var order []string
	for _, e := range page.Items {
		if _, ok := byCase[e.CaseID]; !ok {
			order = append(order, e.CaseID)
		}
		byCase[e.CaseID]++
	}
	c.Record.Decision = accesslog.Allow
	c.Record.Reasons = []string{"delivered " + strconv.Itoa(len(page.Items)) + " feed entries of " + strconv.Itoa(len(order)) + " cases"}
	if len(order) == 0 {
		return nil
	}
	c.Record.CaseID = order[0]
	var extra []*accesslog.Record
	for _, id := range order[1:] {
		r := *c.Record
		r.CaseID = id
		r.Reasons = []string{"delivered " + strconv.Itoa(byCase[id]) + " feed entries"}
		extra = append(extra, &r)
	}
	c.Record.Reasons = []string{"delivered " + strconv.Itoa(byCase[order[0]]) + " feed entries", c.Record.Reasons[0]}
	// The other cases' records now; the call's own is made durable before
	// the answer like every call's.
	if err := s.cfg.Access.AppendAll(ctx, extra); err != nil {
		return domain.Internal(err)
	}
	return nil
}

// feedShare lets the calls of one reader that stand at the same cursor share
// a page: a partner's several streams and webhooks for one identity and
// purpose all wake at a change of the views and would each compute the same
// page. A page is shared for the same reader (identity and purpose), cursor
// and limit, computed over the same applied log position, within
// feedShareFor of its computation and on the same UTC day (the views are
// computed as the clock stands: within that second, a shared page is as a
// page that took that long to compute). A call that finds the page being
// computed waits for it. Each call still leaves its own access records
// (recordFeed), and gets a copy of the page it may change.
type feedShare struct {
	mu    sync.Mutex
	m     map[string]*sharedPage
	swept time.Time // the last drop of the pages past sharing
}

// feedShareFor is how long a computed page may be shared.
const feedShareFor = time.Second

// maxFeedShare bounds the pages kept; the map is emptied when full.
const maxFeedShare = 1024

type sharedPage struct {
	done    chan struct{}
	page    *FeedPage
	err     error
	applied uint64
	at      time.Time
}

// get returns the page of reader binding at cur for limit over the log as
// applied up to applied, at now: a page computed for the same within
// feedShareFor, or compute's.
func (f *feedShare) get(binding string, cur feedCursor, limit int, applied uint64, now time.Time, compute func() (*FeedPage, error)) (*FeedPage, error) {
	key := binding + string(cur.encode()) + strconv.Itoa(limit)
	f.mu.Lock()
	if sp, ok := f.m[key]; ok && sp.applied == applied && dayOf(sp.at.UnixNano()) == dayOf(now.UnixNano()) &&
		now.Sub(sp.at).Abs() < feedShareFor {
		f.mu.Unlock()
		<-sp.done
		if sp.err == nil {
			p := *sp.page
			return &p, nil
		}
		// The other call failed (its own deadline, say): this one computes.
		return compute()
	}
	sp := &sharedPage{done: make(chan struct{}), applied: applied, at: now}
	if f.m == nil || len(f.m) >= maxFeedShare {
		f.m = map[string]*sharedPage{}
	}
	if now.Sub(f.swept) > feedShareFor {
		// Pages past sharing are dropped, so that the map holds only
		// the pages of the last second or so.
		for k, old := range f.m {
			if now.Sub(old.at).Abs() >= feedShareFor {
				delete(f.m, k)
			}
		}
		f.swept = now
	}
	f.m[key] = sp
	f.mu.Unlock()
	sp.page, sp.err = compute()
	if sp.err != nil {
		f.mu.Lock()
		if f.m[key] == sp {
			delete(f.m, key) // an error is not shared with later calls
		}
		f.mu.Unlock()
	}
	close(sp.done)
	if sp.err != nil {
		return nil, sp.err
	}
	p := *sp.page
	return &p, nil
}

// feedMemo remembers, for a reader's cursor, how far the log was read
// without finding anything new for it, so that a reader polling an
// unchanged feed does not read the same events again. Bounded: emptied when
// full.
type feedMemo struct {
	mu sync.Mutex
	m  map[string]eventlog.Position
}

const maxFeedMemo = 16384

func (m *feedMemo) get(binding string, cur feedCursor) (eventlog.Position, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.m[binding+string(cur.encode())]
	return p, ok
}

func (m *feedMemo) put(binding string, cur feedCursor, scanned eventlog.Position) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxFeedMemo {
		m.m = map[string]eventlog.Position{}
	}
	m.m[binding+string(cur.encode())] = scanned
}
