package domain

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Case is the aggregate of one case: the state the protocol decides on (stage,
// consent, closure, erasure, break-glass grants, who wrote in which section) and
// the profile facts that statistics need. Its zero value is "no such case".
//
// A Case is rebuilt by applying its events in order with Apply, which never fails
// and only assigns state; new events are checked first with CheckAppend.
type Case struct {
	ID      string
	Version uint64
	Stage   Stage
	Closed  bool
	Erased  bool
	// Consent maps each organisation that the participant's consent covers to its
	// grant.
	Consent map[string]ConsentGrant
	// BreakGlass lists the break-glass grants not yet expired when the last event
	// was applied.
	BreakGlass []BreakGlassGrant
	// Writers maps each section to the sorted organisations that wrote in it.
	Writers map[Section][]string
	// ErasedFor lists, once the case is erased, the organisations that could
	// see it at that moment (sorted ids, no content): they are told it was
	// erased (410), everyone else that it does not exist (404). Nil for an
	// erasure recorded before the hub kept the list (schema version 1): every
	// organisation type that reads case content is then told.
	ErasedFor []string
	// Erasure is the pending erasure request, nil when there is none. A
	// request past its ExpiresAt is no longer pending but stays here until a
	// later request replaces it.
	Erasure *ErasureRequest
	Profile Profile
}

// ErasureRequest is one officer's request to erase a case, waiting for a
// second officer's confirmation (docs/protocol.md, "Erasure (four eyes)").
type ErasureRequest struct {
	// ID is the request's id: the ErasureRequested event's id.
	ID string
	// Agency and Subject name the officer who asked.
	Agency, Subject string
	// ExpiresAt is when the request lapses unconfirmed.
	ExpiresAt time.Time
}

// PendingErasure returns the erasure request waiting for confirmation at now,
// and false when there is none (none made, cancelled, confirmed or lapsed).
func (c *Case) PendingErasure(now time.Time) (*ErasureRequest, bool) {
	if c.Erasure == nil || c.Erased || !now.Before(c.Erasure.ExpiresAt) {
		return nil, false
	}
	return c.Erasure, true
}

// ConsentGrant is consent to share with one organisation. ExpiresAt is a date
// (YYYY-MM-DD) from which the consent no longer holds; empty means no expiry.
type ConsentGrant struct {
	ExpiresAt string
}

// BreakGlassGrant is emergency read access for one user until ExpiresAt.
type BreakGlassGrant struct {
	Subject   string
	Agency    string
	ExpiresAt time.Time
}

// Profile holds the case facts used for listing and statistics.
type Profile struct {
	// SubjectRef is the participant's pseudonymous reference, by which a case
	// is found (never shown but to those who read the profile).
	SubjectRef  string
	OpenedAt    time.Time
	TargetGroup string
	Gender      string
	Regime      string
	Programme   string
	ReleaseDate string
	ReleasedAt  string
	ClosedAt    time.Time
}

// Apply folds e into the case. It never fails: events in the log were valid when
// written. Events whose data is unavailable (nil) still move the version, stage
// and writers.
func (c *Case) Apply(e Event) {
	if c.ID == "" {
		c.ID = e.CaseID
	}
	c.Version = e.Version
	if st, ok := StageOf(e.Type); ok && st.Rank() > c.Stage.Rank() {
		c.Stage = st
	}
	c.pruneBreakGlass(e.RecordedAt)
	for _, s := range SectionsOf(e.Type) {
		c.addWriter(s, e.Originator)
	}
	switch d := e.Data.(type) {
	case CaseOpenedData:
		c.Profile.OpenedAt = e.RecordedAt
		c.Profile.TargetGroup, c.Profile.Gender, c.Profile.Regime, c.Profile.Programme = d.TargetGroup, d.Gender, d.Regime, d.Programme
		c.Profile.SubjectRef = d.SubjectRef
	case ConsentGivenData:
		consent := c.cloneConsent()
		for _, org := range d.Organisations {
			consent[org] = ConsentGrant{ExpiresAt: d.ExpiresAt}
		}
		c.Consent = consent
	case ConsentWithdrawnData:
		consent := map[string]ConsentGrant{}
		if !d.All {
			consent = c.cloneConsent()
			for _, org := range d.Organisations {
				delete(consent, org)
			}
		}
		c.Consent = consent
	case ReleaseScheduledData:
		c.Profile.ReleaseDate = d.ReleaseDate
	case ReleasedData:
		c.Profile.ReleasedAt = d.ReleasedAt
	case BreakGlassData:
		if at, err := time.Parse(time.RFC3339, d.ExpiresAt); err == nil {
			c.BreakGlass = append(slices.Clip(c.BreakGlass), BreakGlassGrant{Subject: e.Author, Agency: e.Originator, ExpiresAt: at.UTC()})
		}
	case ErasureRequestedData:
		if at, err := time.Parse(time.RFC3339, d.ExpiresAt); err == nil {
			c.Erasure = &ErasureRequest{ID: e.ID, Agency: e.Originator, Subject: e.Author, ExpiresAt: at.UTC()}
		}
	case ErasureCancelledData:
		if c.Erasure != nil && c.Erasure.ID == d.RequestID {
			c.Erasure = nil
		}
	}
	switch e.Type {
	case CaseClosed:
		c.Closed = true
		c.Profile.ClosedAt = e.RecordedAt
	case CaseErased:
		c.Erased = true
		c.Consent, c.BreakGlass, c.Writers, c.Erasure = nil, nil, nil, nil
		c.Profile = Profile{OpenedAt: c.Profile.OpenedAt, ClosedAt: c.Profile.ClosedAt}
		if e.SchemaVersion >= SchemaErasedFor {
			c.ErasedFor = slices.Clip(append([]string{}, e.ShareWith...))
		}
	}
}

// Clone returns a copy of c that shares nothing mutable with it, so that readers
// may hold it while the original moves on.
func (c *Case) Clone() *Case {
	cp := *c
	cp.Consent = c.cloneConsent()
	cp.BreakGlass = slices.Clone(c.BreakGlass)
	// ErasedFor and Erasure are replaced, never changed in place.
	if c.Writers != nil {
		cp.Writers = make(map[Section][]string, len(c.Writers))
		for s, orgs := range c.Writers {
			cp.Writers[s] = orgs // writer lists are replaced, never changed in place
		}
	}
	return &cp
}

func (c *Case) cloneConsent() map[string]ConsentGrant {
	m := make(map[string]ConsentGrant, len(c.Consent)+1)
	for k, v := range c.Consent {
		m[k] = v
	}
	return m
}

func (c *Case) addWriter(s Section, org string) {
	orgs := c.Writers[s]
	i, found := slices.BinarySearch(orgs, org)
	if found || org == "" {
		return
	}
	if c.Writers == nil {
		c.Writers = map[Section][]string{}
	}
	c.Writers[s] = slices.Insert(slices.Clone(orgs), i, org)
}

func (c *Case) pruneBreakGlass(now time.Time) {
	if len(c.BreakGlass) == 0 || now.IsZero() {
		return
	}
	kept := make([]BreakGlassGrant, 0, len(c.BreakGlass))
	for _, g := range c.BreakGlass {
		if g.ExpiresAt.After(now) {
			kept = append(kept, g)
		}
	}
	c.BreakGlass = kept
}

// CheckAppend says whether an event of type t may be appended to the case as it
// stands, by the aggregate's own invariants (the sharing protocol decides who may
// append, separately). It returns KindNotFound for a case that does not exist
// (except for CaseOpened), KindConflict for CaseOpened on an existing case and
// for anything but CaseErased on a closed case, KindGone on an erased case.
//
// The rules that depend on the case's history (a release after its
// schedule, an outcome after release…) are CheckOrder's (order.go): they are
// judged on the writer's own view of the case, which the aggregate does not
// know, and the hub's write path runs them after this check
// (docs/protocol.md, "Order rules").
func (c *Case) CheckAppend(t EventType) error {
	switch {
	case c.Erased:
		return Errorf(KindGone, "the case was erased")
	case t == CaseOpened && c.Version > 0:
		return Errorf(KindConflict, "the case is already open")
	case t == CaseOpened:
		return nil
	case c.Version == 0:
		return Errorf(KindNotFound, "no such case")
	case c.Closed && !mayFollowClosure(t):
		return Errorf(KindConflict, "the case is closed: only erasure can follow")
	}
	return nil
}

// PolicyKey returns a canonical encoding of everything in the case that a sharing
// decision may depend on (stage, closure, erasure, consent, break-glass grants,
// writers), and nothing else: two cases with equal keys get equal decisions, so
// decisions can be cached by key across cases. The case id and version are not
// part of it.
func (c *Case) PolicyKey() string { return c.FactsKey(Facts{}) }

// Facts selects the facts of a case that one decision is given (see policies:
// a section or item decision for one caller sees the writers of the section
// asked, the consent of the caller's organisation and the caller's own
// break-glass grants), so that cases alike in those facts share the decision.
// The zero Facts selects everything. Stage, closure and erasure are always
// selected.
type Facts struct {
	// Section, when set, selects the writers of that section only.
	Section Section
	// Agency, when set, selects the consent of that organisation only and the
	// break-glass grants of user Subject of that organisation only.
	Agency, Subject string
}

// Writers reports whether f selects the writers of section s.
func (f Facts) Writers(s Section) bool { return f.Section == "" || s == f.Section }

// Consent reports whether f selects the consent of organisation org.
func (f Facts) Consent(org string) bool { return f.Agency == "" || org == f.Agency }

// Grant reports whether f selects break-glass grant g.
func (f Facts) Grant(g BreakGlassGrant) bool {
	return f.Agency == "" || g.Agency == f.Agency && g.Subject == f.Subject
}

// FactsKey is PolicyKey restricted to the facts f selects.
func (c *Case) FactsKey(f Facts) string {
	var b strings.Builder
	b.WriteString(string(c.Stage))
	if c.Closed {
		b.WriteString("|closed")
	}
	if c.Erased {
		b.WriteString("|erased")
		switch {
		case c.ErasedFor == nil:
			b.WriteString(":legacy")
		case f.Agency != "":
			// One organisation: whether it could see the case.
			if slices.Contains(c.ErasedFor, f.Agency) {
				b.WriteString(":for")
			}
		default:
			b.WriteString(":for=")
			b.WriteString(strings.Join(c.ErasedFor, "+"))
		}
	}
	b.WriteString("|c:")
	consent := func(org string) {
		b.WriteString(org)
		b.WriteByte('=')
		b.WriteString(c.Consent[org].ExpiresAt)
		b.WriteByte(',')
	}
	if f.Agency != "" {
		// One organisation: a look-up, not a sort (this key is built for
		// every section and item decision).
		if _, ok := c.Consent[f.Agency]; ok {
			consent(f.Agency)
		}
	} else {
		for _, org := range sortedKeys(c.Consent) {
			consent(org)
		}
	}
	b.WriteString("|b:")
	for _, g := range c.BreakGlass {
		if !f.Grant(g) {
			continue
		}
		b.WriteString(g.Agency)
		b.WriteByte('/')
		b.WriteString(g.Subject)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(g.ExpiresAt.Unix(), 10))
		b.WriteByte(',')
	}
	b.WriteString("|w:")
	for _, s := range Sections {
		if !f.Writers(s) {
			continue
		}
		if orgs := c.Writers[s]; len(orgs) > 0 {
			b.WriteString(string(s))
			b.WriteByte('=')
			b.WriteString(strings.Join(orgs, "+"))
			b.WriteByte(',')
		}
	}
	return b.String()
}

// NextChange returns the first instant after now at which a decision on this
// case may change by the passing of time alone (a consent expiry, at 00:00 UTC of
// its date; a break-glass expiry), or the zero time if there is none.
func (c *Case) NextChange(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, g := range c.Consent {
		if g.ExpiresAt != "" {
			if t, err := time.Parse(time.DateOnly, g.ExpiresAt); err == nil {
				consider(t)
			}
		}
	}
	for _, g := range c.BreakGlass {
		consider(g.ExpiresAt)
	}
	return next
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
