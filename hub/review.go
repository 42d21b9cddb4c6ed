package hub

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// The oversight body's review of the access log (docs/api.md, "Audit"): the
// uses of break-glass, each with the reads it made possible and its review;
// the marking of a use reviewed; a summary of the records for charts. All of
// it is read from the access records themselves (docs/protocol.md, "Access
// records"): a grant is the record of an allowed break-glass call, its reads
// are the records the protocol flagged break_glass, and its review is the
// access record of the call that marked it reviewed.

// Actions of the access records these use cases read and write: the names of
// their routes (api/server.go), listed in docs/api.md, "Audit".
const (
	actionBreakGlass = "break-glass"
	actionReview     = "break-glass.review"
)

// readActions are the actions of the calls that read case content: a record
// of one, allowed or partial, is a read in AuditSummary.
var readActions = []string{"case.read", "section.read", "events.read", "case.list", "feed.read"}

// Limits of the review of break-glass use.
const (
	DefaultBreakGlassLimit = 20
	MaxBreakGlassLimit     = 100
	// MaxGrantReads bounds the reads listed under one grant.
	MaxGrantReads = 200
	// MaxSummaryBuckets bounds the buckets of a summary.
	MaxSummaryBuckets = 400
)

// isGrant reports whether r is the access record of a break-glass grant: an
// allowed break-glass call (hub/write.go, Service.BreakGlass).
func isGrant(r *accesslog.Record) bool {
	return r.Action == actionBreakGlass && r.Decision == accesslog.Allow && r.BreakGlass
}

// grantFilter selects the records of break-glass grants within f's other
// fields: the break-glass index (or the case's, with a case) finds them.
func grantFilter(f accesslog.Filter) accesslog.Filter {
	yes := true
	f.Action, f.Decision, f.BreakGlass = actionBreakGlass, accesslog.Allow, &yes
	return f
}

// reviewReference is the reference of the review of the grant whose record
// is index: its record's reference field.
func reviewReference(index uint64) string { return "record:" + strconv.FormatUint(index, 10) }

// GrantRecord is the access record of a break-glass grant, as the review of
// its use shows it.
type GrantRecord struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	CaseID string    `json:"case_id"`
	// Who was granted: a user is known by issuer and sub together.
	Sub           string   `json:"sub"`
	Issuer        string   `json:"issuer"`
	Agency        string   `json:"agency"`
	Roles         []string `json:"roles"`
	Justification string   `json:"justification"`
	Status        int      `json:"status"`
}

// GrantRead is the access record of a read a break-glass grant opened.
type GrantRead struct {
	Index    uint64    `json:"index"`
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Section  string    `json:"section"`
	Decision string    `json:"decision"`
}

// Review is an auditor's review of a break-glass use: the access record of
// the call that marked it reviewed.
type Review struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	Sub    string    `json:"sub"`
	Agency string    `json:"agency"`
	Note   string    `json:"note"`
}

// BreakGlassUse is one break-glass grant with what it was used for.
type BreakGlassUse struct {
	Record GrantRecord `json:"record"`
	// ExpiresAt is when the grant ended: its time plus the grant's duration
	// under the policy in force (empty when the policy does not say).
	ExpiresAt string `json:"expires_at,omitempty"`
	// Reads are the records of the grantee (issuer, sub and agency) on the
	// case, after the grant and before its expiry, that the protocol flagged
	// break_glass, up to MaxGrantReads; ReadsTruncated says there are more.
	Reads          []GrantRead `json:"reads"`
	ReadsTruncated bool        `json:"reads_truncated"`
	Review         *Review     `json:"review"`
}

// BreakGlassPage is a page of break-glass uses, newest first.
type BreakGlassPage struct {
	Items      []BreakGlassUse `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// BreakGlassQuery asks for a page of break-glass uses.
type BreakGlassQuery struct {
	// Agency, CaseID, From and To select the grants (From inclusive, To
	// exclusive, on the grant's time).
	Agency, CaseID string
	From, To       time.Time
	// Reviewed, when set, keeps only the grants reviewed (true) or not.
	Reviewed *bool
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
	// Limit is the page size, 1 to MaxBreakGlassLimit (0: the default).
	Limit int
	// Problems are what the caller found wrong reading the query, answered
	// like RecordQuery's.
	Problems []domain.FieldError
}

// BreakGlassUses answers a page of break-glass grants matching q, newest
// first, each with the reads it opened and its review (docs/api.md,
// "Break-glass review"). It returns KindForbidden to a caller who may not
// review break-glass use and KindInvalid naming the fields at fault.
//
// The grants are found through the break-glass index (the case's with a
// case); with Reviewed, the grants of the other kind are read and skipped.
func (s *Service) BreakGlassUses(ctx context.Context, c *Call, q BreakGlassQuery) (*BreakGlassPage, error) {
	before, err := s.openQuery(ctx, c, "audit.break-glass", q.Cursor, true, q.Problems)
	if err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultBreakGlassLimit
	}
	f := grantFilter(accesslog.Filter{Agency: q.Agency, CaseID: q.CaseID, From: q.From, To: q.To})
	out := &BreakGlassPage{Items: []BreakGlassUse{}}
	for {
		page, err := s.cfg.Audit.QueryBefore(ctx, f, before, q.Limit+1)
		if err != nil {
			return nil, domain.Internal(err)
		}
		reviews, err := s.reviews(ctx, page.Records)
		if err != nil {
			return nil, domain.Internal(err)
		}
		for _, g := range page.Records {
			review := reviews[g.Index]
			if q.Reviewed != nil && (review != nil) != *q.Reviewed {
				continue
			}
			if len(out.Items) == q.Limit {
				next := g.Index + 1
				out.NextCursor = recordCursor(true, &next)
				return out, nil
			}
			use, err := s.breakGlassUse(ctx, g, review)
			if err != nil {
				return nil, domain.Internal(err)
			}
			out.Items = append(out.Items, use)
		}
		if page.Next == nil {
			return out, nil
		}
		before = *page.Next
	}
}

// breakGlassUse returns the use of the grant g, with its review.
func (s *Service) breakGlassUse(ctx context.Context, g accesslog.Record, review *Review) (BreakGlassUse, error) {
	use := BreakGlassUse{
		Record: GrantRecord{Index: g.Index, Time: g.Time, Sub: g.Sub, Issuer: g.Issuer, Agency: g.Agency,
			Roles: orEmpty(g.Roles), CaseID: g.CaseID, Justification: g.Justification, Status: g.Status},
		Reads: []GrantRead{}, Review: review,
	}
	yes := true
	f := accesslog.Filter{CaseID: g.CaseID, Sub: g.Sub, Agency: g.Agency, BreakGlass: &yes, From: g.Time}
	// The grant's expiry as Service.BreakGlass (hub/write.go) set it: the
	// call's time, which is its record's, plus the grant's duration.
	if d := s.cfg.Policy.BreakGlassFor(); d > 0 {
		expires := g.Time.Add(d).Truncate(time.Second)
		use.ExpiresAt, f.To = domain.FormatTime(expires), expires
	}
	from := g.Index + 1
	for {
		page, err := s.cfg.Audit.Query(ctx, f, from, MaxGrantReads+1-len(use.Reads))
		if err != nil {
			return use, err
		}
		for _, r := range page.Records {
			if r.Issuer != g.Issuer || r.Action == actionBreakGlass {
				continue // another identity provider's user, or a grant itself
			}
			if len(use.Reads) == MaxGrantReads {
				use.ReadsTruncated = true
				return use, nil
			}
			use.Reads = append(use.Reads, GrantRead{Index: r.Index, Time: r.Time, Action: r.Action, Section: r.Section, Decision: r.Decision})
		}
		if page.Next == nil {
			return use, nil
		}
		from = *page.Next
	}
}

// reviews returns the reviews of the grants, by the index of each grant's
// record: the first allowed review record on the grant's case after it that
// names it. The records of each case are read once, through the case's
// index, from its first grant on.
func (s *Service) reviews(ctx context.Context, grants []accesslog.Record) (map[uint64]*Review, error) {
	first := map[string]uint64{} // case → the index of its first grant
	for _, g := range grants {
		if i, ok := first[g.CaseID]; !ok || g.Index < i {
			first[g.CaseID] = g.Index
		}
	}
	out := map[uint64]*Review{}
	for caseID, i := range first {
		f := accesslog.Filter{CaseID: caseID, Action: actionReview, Decision: accesslog.Allow}
		for from := i + 1; ; {
			page, err := s.cfg.Audit.Query(ctx, f, from, DefaultRecordLimit)
			if err != nil {
				return nil, err
			}
			for _, r := range page.Records {
				index, ok := strings.CutPrefix(r.Reference, "record:")
				n, err := strconv.ParseUint(index, 10, 64)
				if !ok || err != nil || out[n] != nil || r.Reference != reviewReference(n) {
					continue
				}
				out[n] = &Review{Index: r.Index, Time: r.Time, Sub: r.Sub, Agency: r.Agency, Note: r.Justification}
			}
			if page.Next == nil {
				break
			}
			from = *page.Next
		}
	}
	return out, nil
}

// ReviewAnswer answers the review of a break-glass use: the index of the
// grant's record and the review.
type ReviewAnswer struct {
	Index  uint64 `json:"index"`
	Review Review `json:"review"`
}

// errUnrecorded answers a review whose record could not be made durable: it
// did not happen.
var errUnrecorded = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub cannot record this review now; try again"}

// ReviewBreakGlass marks the break-glass grant whose access record is index
// reviewed, with the note of the body {note} (docs/api.md, "Break-glass
// review"). The call's own access record is the
// review: action break-glass.review, the grant's case, reference record:N,
// the note as its justification, allow and 201. It is made durable here,
// before the answer, under a lock that serialises reviews, so that two
// reviews of one grant cannot both succeed (within this hub process: hub
// replicas do not share the lock).
//
// It returns KindForbidden to a caller who may not review, KindInvalid naming
// "note", KindNotFound when index is no record or not a grant's, KindConflict
// when the grant is reviewed already, KindUnavailable when the review could
// not be recorded.
func (s *Service) ReviewBreakGlass(ctx context.Context, c *Call, index string, body []byte) (ReviewAnswer, error) {
	if err := s.service(ctx, c, "audit.review"); err != nil {
		return ReviewAnswer{}, err
	}
	note, err := parseNote(body)
	if err != nil {
		return ReviewAnswer{}, refuse(c, err)
	}
	s.reviewing.Lock()
	defer s.reviewing.Unlock()
	grant, err := s.grantAt(ctx, c, index)
	if err != nil {
		return ReviewAnswer{}, refuse(c, err)
	}
	c.Record.CaseID = grant.CaseID
	reviews, err := s.reviews(ctx, []accesslog.Record{grant})
	if err != nil {
		return ReviewAnswer{}, domain.Internal(err)
	}
	if r := reviews[grant.Index]; r != nil {
		return ReviewAnswer{}, refuse(c, domain.Errorf(domain.KindConflict, "the break-glass use was reviewed already (record %d)", r.Index))
	}
	// The note goes where the protocol lets an access record hold what an
	// official stated, the justification (docs/protocol.md, "Access records";
	// at most maxRecordText bytes, which parseNote checked).
	c.Record.Justification = note
	c.Record.Decision, c.Record.Status = accesslog.Allow, statusCreated
	if err := s.Record(ctx, c); err != nil {
		s.log.Error("a review's access record is not durable", "request_id", c.Record.RequestID, "err", err)
		return ReviewAnswer{}, errUnrecorded
	}
	return ReviewAnswer{Index: grant.Index, Review: Review{
		Index: c.Record.Index, Time: c.Now, Sub: c.Identity.Subject, Agency: c.Identity.Agency, Note: note,
	}}, nil
}

// parseNote reads the body {note} of a review: free text (line breaks and
// tabs allowed, no other control or invisible formatting characters) of 1 to
// maxRecordText bytes, which the access record keeps whole.
func parseNote(body []byte) (string, error) {
	note, err := domain.ParseSingleText(body, "note")
	if err != nil {
		return "", err
	}
	if len(note) > maxRecordText {
		return "", domain.Invalid("invalid request", domain.FieldError{Field: "note", Message: "must be at most " + strconv.Itoa(maxRecordText) + " bytes"})
	}
	return note, nil
}

// grantAt returns the access record index (a decimal number) if it is a
// break-glass grant's, else KindNotFound; the call's record names the record
// asked for (reference record:N) when index is a number.
func (s *Service) grantAt(ctx context.Context, c *Call, index string) (accesslog.Record, error) {
	errNoGrant := domain.Errorf(domain.KindNotFound, "no such break-glass grant")
	i, err := strconv.ParseUint(index, 10, 64)
	if err != nil {
		return accesslog.Record{}, errNoGrant
	}
	c.Record.Reference = reviewReference(i)
	page, err := s.cfg.Audit.Query(ctx, accesslog.Filter{}, i, 1)
	if err != nil {
		return accesslog.Record{}, domain.Internal(err)
	}
	if len(page.Records) == 0 || page.Records[0].Index != i || !isGrant(&page.Records[0]) {
		return accesslog.Record{}, errNoGrant
	}
	return page.Records[0], nil
}

// refuse notes err as the reason of the call's record, in place of the
// policy's reasons for letting the caller in, and returns it.
func refuse(c *Call, err error) error {
	c.Record.Reasons = []string{Reason(err)}
	return err
}

// SummaryBuckets are the bucket sizes of a summary: UTC days, ISO weeks
// (from Monday) and calendar months.
var SummaryBuckets = []string{"day", "week", "month"}

// SummaryQuery asks for a summary of the access log.
type SummaryQuery struct {
	// Bucket is one of SummaryBuckets ("": day).
	Bucket string
	// From (inclusive) and To (exclusive) bound the records' times; zero To
	// is now, zero From 30 days before To's day (so 30 day buckets).
	From, To time.Time
	// Problems are what the caller found wrong reading the query, answered
	// like RecordQuery's.
	Problems []domain.FieldError
}

// Summary counts the access records of each organisation by bucket of time.
type Summary struct {
	Bucket string         `json:"bucket"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Series []AgencySeries `json:"series"`
}

// AgencySeries is the counts of one organisation's records ("" for calls
// whose token was refused unread), one per bucket, every bucket listed.
type AgencySeries struct {
	Agency  string          `json:"agency"`
	Buckets []SummaryBucket `json:"buckets"`
}

// SummaryBucket counts the records of one bucket: Start is the bucket's
// start (the first may start before the summary's From); Reads counts the
// reads of case content served (allow or partial), Denials every refusal,
// BreakGlass the break-glass grants.
type SummaryBucket struct {
	Start      time.Time `json:"start"`
	Reads      int       `json:"reads"`
	Denials    int       `json:"denials"`
	BreakGlass int       `json:"break_glass"`
}

// AuditSummary answers the access records of [q.From, q.To) counted by
// organisation and bucket (docs/api.md, "GET /v1/audit/summary"). It returns
// KindForbidden to a caller who may not read it and KindInvalid naming the
// fields at fault ("bucket" for more than MaxSummaryBuckets buckets).
//
// It reads every record of the window (the time bounds find it by binary
// search): no index counts them.
func (s *Service) AuditSummary(ctx context.Context, c *Call, q SummaryQuery) (*Summary, error) {
	if err := s.service(ctx, c, "audit.summary"); err != nil {
		return nil, err
	}
	if q.Bucket == "" {
		q.Bucket = "day"
	}
	if q.To.IsZero() {
		q.To = c.Now
	}
	if q.From.IsZero() {
		q.From = bucketStart(q.To, "day").AddDate(0, 0, -29)
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	var starts []time.Time
	switch {
	case len(q.Problems) > 0:
	case !slices.Contains(SummaryBuckets, q.Bucket):
		q.Problems = append(q.Problems, domain.FieldError{Field: "bucket", Message: "must be one of " + strings.Join(SummaryBuckets, ", ")})
	case !q.From.Before(q.To):
		q.Problems = append(q.Problems, domain.FieldError{Field: "from", Message: "must be before to"})
	default:
		for t := bucketStart(q.From, q.Bucket); t.Before(q.To); t = nextBucket(t, q.Bucket) {
			if len(starts) == MaxSummaryBuckets {
				q.Problems = append(q.Problems, domain.FieldError{Field: "bucket", Message: "makes more than " + strconv.Itoa(MaxSummaryBuckets) + " buckets between from and to: choose a larger bucket or a shorter window"})
				break
			}
			starts = append(starts, t)
		}
	}
	if len(q.Problems) > 0 {
		return nil, domain.Invalid("invalid query", q.Problems...)
	}
	series := map[string][]SummaryBucket{}
	f := accesslog.Filter{From: q.From, To: q.To}
	for from := uint64(0); ; {
		page, err := s.cfg.Audit.Query(ctx, f, from, summaryPage)
		if err != nil {
			return nil, domain.Internal(err)
		}
		for i := range page.Records {
			countRecord(series, starts, &page.Records[i])
		}
		if page.Next == nil {
			break
		}
		from = *page.Next
	}
	out := &Summary{Bucket: q.Bucket, From: q.From, To: q.To, Series: []AgencySeries{}}
	for agency, buckets := range series {
		out.Series = append(out.Series, AgencySeries{Agency: agency, Buckets: buckets})
	}
	slices.SortFunc(out.Series, func(a, b AgencySeries) int { return strings.Compare(a.Agency, b.Agency) })
	return out, nil
}

// summaryPage is the number of records AuditSummary reads at once.
const summaryPage = 4096

// countRecord counts r, if it is a read, a denial or a grant, in its
// organisation's series (made, with every bucket, at its first record).
func countRecord(series map[string][]SummaryBucket, starts []time.Time, r *accesslog.Record) {
	read := slices.Contains(readActions, r.Action) && (r.Decision == accesslog.Allow || r.Decision == accesslog.Partial)
	denial, grant := r.Decision == accesslog.Deny, isGrant(r)
	if !read && !denial && !grant {
		return
	}
	buckets, ok := series[r.Agency]
	if !ok {
		buckets = make([]SummaryBucket, len(starts))
		for i, t := range starts {
			buckets[i].Start = t
		}
		series[r.Agency] = buckets
	}
	// The bucket is the last that starts at or before r's time (the records
	// are within [From, To), which the buckets cover).
	b := &buckets[max(0, sort.Search(len(starts), func(i int) bool { return starts[i].After(r.Time) })-1)]
	if read {
		b.Reads++
	}
	if denial {
		b.Denials++
	}
	if grant {
		b.BreakGlass++
	}
}

// bucketStart returns the start of the bucket of t: its UTC day, the Monday
// of its ISO week, or the first day of its month.
func bucketStart(t time.Time, bucket string) time.Time {
	y, m, d := t.UTC().Date()
	switch bucket {
	case "week":
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return day.AddDate(0, 0, -(int(day.Weekday())+6)%7)
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// nextBucket returns the start of the bucket after the one starting at t.
func nextBucket(t time.Time, bucket string) time.Time {
	switch bucket {
	case "week":
		return t.AddDate(0, 0, 7)
	case "month":
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}
