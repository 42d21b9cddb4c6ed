package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// CaseSummary is a case as a reader gets it: the stage, version and readable
// sections of its view, the time of the last event in it, and the subject
// reference when the reader reads it (the CaseOpened item and its
// subject_ref field are in its view).
type CaseSummary struct {
	CaseID     string           `json:"case_id"`
	Stage      domain.Stage     `json:"stage"`
	Version    uint64           `json:"version"`
	Sections   []domain.Section `json:"sections"`
	SubjectRef string           `json:"subject_ref,omitempty"`
	LastChange string           `json:"last_change,omitempty"`
}

// Item is one event as a reader gets it (docs/api.md, "Items"): numbered in
// the reader's view, its data reduced to the fields the policy grants.
type Item struct {
	EventID        string          `json:"event_id"`
	Type           string          `json:"type"`
	Version        uint64          `json:"version"`
	RecordedAt     string          `json:"recorded_at"`
	Originator     string          `json:"originator"`
	Author         *string         `json:"author"`
	Classification string          `json:"classification"`
	ShareWith      []string        `json:"share_with"`
	Data           json.RawMessage `json:"data"`
	Redacted       []string        `json:"redacted"`
}

// SectionView is one section of a case as a reader gets it.
type SectionView struct {
	CaseID     string         `json:"case_id"`
	Section    domain.Section `json:"section"`
	Stage      domain.Stage   `json:"stage"`
	Version    uint64         `json:"version"`
	Items      []Item         `json:"items"`
	BreakGlass bool           `json:"break_glass"`
	// Reasons say why fields of the items shown were withheld (never
	// anything about items not shown).
	Reasons []string `json:"reasons,omitempty"`
}

// EventsView is the events of a case a reader gets, in its view's order.
type EventsView struct {
	Items []Item `json:"items"`
}

func readQuery(c *Call) policies.ReadQuery {
	return policies.ReadQuery{Identity: c.Identity, Purpose: c.Purpose, Now: c.Now}
}

// readerView returns the caller's view of case version v, or the error its
// refusal answers (noted in the access record).
func (s *Service) readerView(ctx context.Context, c *Call, v *projections.View) (*readerView, error) {
	rv, err := s.viewOf(ctx, readQuery(c), v)
	if err != nil || !rv.dec.Allow {
		return nil, deny(c, rv.dec.Decision, err)
	}
	return rv, nil
}

// Case answers a read of a case: its summary in the caller's view. It returns
// KindNotFound for a case the caller cannot see (or none), KindGone for an
// erased case the caller's organisation could see, KindForbidden for a
// purpose outside the caller's remit, KindUnavailable while the hub starts.
func (s *Service) Case(ctx context.Context, c *Call, caseID string) (*Answer, error) {
	v, err := s.view(caseID)
	if err != nil {
		return nil, err
	}
	rv, err := s.readerView(ctx, c, v)
	if err != nil {
		return nil, err
	}
	allow(c, rv.dec.Decision)
	c.Record.BreakGlass = rv.dec.BreakGlass
	return newAnswer(summaryOf(v, rv))
}

func summaryOf(v *projections.View, rv *readerView) CaseSummary {
	sum := CaseSummary{CaseID: v.Case.ID, Stage: rv.stage(), Version: rv.version(), Sections: orEmpty(rv.dec.Sections)}
	if n := len(rv.items); n > 0 {
		sum.LastChange = domain.FormatTime(rv.items[n-1].it.RecordedAt())
		if first := rv.items[0]; first.it.Type() == domain.CaseOpened && slices.Contains(first.dec.Fields, "subject_ref") {
			sum.SubjectRef = v.Case.Profile.SubjectRef
		}
	}
	return sum
}

// Section answers a read of one section of a case, with the errors of Case,
// KindForbidden for a section closed to the caller and KindNotFound for a
// section that does not exist (to a caller that may see the case).
func (s *Service) Section(ctx context.Context, c *Call, caseID, section string) (*Answer, error) {
	v, err := s.view(caseID)
	if err != nil {
		return nil, err
	}
	sec, known := domain.ParseSection(section)
	if !known {
		// Say "no such section" only to a reader who may see the case at all.
		if _, err := s.readerView(ctx, c, v); err != nil {
			return nil, err
		}
		c.Record.Decision = accesslog.Deny
		return nil, domain.Errorf(domain.KindNotFound, "no such section")
	}
	return s.cachedRead(c, v, "section", string(sec), func() (any, error) { return s.section(ctx, c, v, sec) })
}

func (s *Service) section(ctx context.Context, c *Call, v *projections.View, sec domain.Section) (any, error) {
	rv, err := s.readerView(ctx, c, v)
	if err != nil {
		return nil, err
	}
	d, err := s.cfg.Policy.ReadSection(ctx, rv.q, sec)
	if err != nil || !d.Allow {
		return nil, deny(c, d.Decision, err)
	}
	allow(c, d.Decision)
	// The section's items: the events of the view that feed it, each as the
	// section shows it; and, to count what is withheld, how many events feed
	// it at all.
	var picked []shownItem
	feeding := 0
	for i := range v.Items {
		if slices.Contains(domain.SectionsOf(v.Items[i].Type()), sec) {
			feeding++
		}
	}
	for n, vi := range rv.items {
		if !slices.Contains(domain.SectionsOf(vi.it.Type()), sec) {
			continue
		}
		dec := vi.dec
		if vi.section != sec {
			if dec, err = s.cfg.Policy.ReadItem(ctx, rv.q, sec, policyItem(vi.it)); err != nil {
				return nil, domain.Internal(err)
			}
			if !dec.Visible {
				continue
			}
		}
		picked = append(picked, shownItem{it: vi.it, number: uint64(n + 1), dec: dec})
	}
	items, why, err := s.render(ctx, c, v, picked, feeding-len(picked))
	if err != nil {
		return nil, err
	}
	c.Record.BreakGlass = c.Record.BreakGlass || d.BreakGlass
	return SectionView{
		CaseID: v.Case.ID, Section: sec, Stage: rv.stage(), Version: rv.version(),
		Items: items, BreakGlass: c.Record.BreakGlass, Reasons: why,
	}, nil
}

// Events answers a read of the events of a case the caller may read, those
// numbered after after in its view, with the errors of Case.
func (s *Service) Events(ctx context.Context, c *Call, caseID string, after uint64) (*Answer, error) {
	v, err := s.view(caseID)
	if err != nil {
		return nil, err
	}
	return s.cachedRead(c, v, "events", strconv.FormatUint(after, 10), func() (any, error) { return s.events(ctx, c, v, after) })
}

func (s *Service) events(ctx context.Context, c *Call, v *projections.View, after uint64) (any, error) {
	rv, err := s.readerView(ctx, c, v)
	if err != nil {
		return nil, err
	}
	allow(c, rv.dec.Decision)
	c.Record.BreakGlass = rv.dec.BreakGlass
	var picked []shownItem
	for n, vi := range rv.items {
		if number := uint64(n + 1); number > after {
			picked = append(picked, shownItem{it: vi.it, number: number, dec: vi.dec})
		}
	}
	hidden := 0
	if after == 0 {
		// Events of the case that are not in the view (those that feed a
		// section): counted in the access record, never in the answer.
		for i := range v.Items {
			if len(domain.SectionsOf(v.Items[i].Type())) > 0 {
				hidden++
			}
		}
		hidden -= len(rv.items)
	}
	items, _, err := s.render(ctx, c, v, picked, hidden)
	if err != nil {
		return nil, err
	}
	return EventsView{Items: items}, nil
}

// shownItem is an event a reader gets: its place in the reader's view and the
// decision on how much of it it sees.
type shownItem struct {
	it     *projections.Item
	number uint64
	dec    policies.ItemDecision
}

// render returns the items shown, their data reduced to the fields the
// policy grants, and the policy's reasons for the fields it withheld. It
// counts in the access record the events withheld (hidden, given by the
// caller) and the fields redacted.
func (s *Service) render(ctx context.Context, c *Call, v *projections.View, picked []shownItem, hidden int) ([]Item, []string, error) {
	versions := make([]uint64, len(picked))
	for i, p := range picked {
		versions[i] = p.it.Version
	}
	data, err := s.cfg.Projector.Data(ctx, v.Case.ID, versions)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Item, 0, len(picked))
	withheld := hidden
	var why []string
	for _, p := range picked {
		o := itemOf(p, data[p.it.Version])
		withheld += len(o.Redacted)
		if len(o.Redacted) > 0 {
			for _, r := range p.dec.Reasons {
				if !slices.Contains(why, r) {
					why = append(why, r)
				}
			}
		}
		if p.dec.BreakGlass {
			c.Record.BreakGlass = true
		}
		out = append(out, o)
	}
	c.Record.Withheld += withheld
	if withheld > 0 {
		c.Record.Decision = accesslog.Partial
	}
	slices.Sort(why)
	return out, why, nil
}

// itemOf is an event as the reader gets it: numbered in its view, its stored
// data raw reduced to the fields the decision grants, its author only when
// granted.
func itemOf(p shownItem, raw []byte) Item {
	filtered, redacted := filterFields(raw, p.dec.Fields)
	o := Item{
		EventID: domain.FormatID(p.it.ID), Type: string(p.it.Type()), Version: p.number,
		RecordedAt: domain.FormatTime(p.it.RecordedAt()), Originator: p.it.Originator(),
		Classification: string(p.it.Classification()), ShareWith: orEmpty(p.it.ShareWith()),
		Data: filtered, Redacted: redacted,
	}
	if p.dec.Author {
		author := p.it.Author()
		o.Author = &author
	}
	return o
}

// filterFields keeps the top-level fields of a JSON object that allowed names,
// in their stored order, and returns the sorted names of the others. Redaction
// is by allow-list: a field nobody listed is withheld.
func filterFields(raw []byte, allowed []string) (json.RawMessage, []string) {
	redacted := []string{}
	if len(raw) == 0 {
		return json.RawMessage("{}"), redacted
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return json.RawMessage("{}"), redacted
	}
	out := make([]byte, 0, len(raw))
	out = append(out, '{')
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		name, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			break
		}
		if !slices.Contains(allowed, name) {
			redacted = append(redacted, name)
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		key, _ := json.Marshal(name)
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, val...)
	}
	slices.Sort(redacted)
	return append(out, '}'), redacted
}
