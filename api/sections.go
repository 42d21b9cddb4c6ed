package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// itemOut is one event as a reader sees it (CONTRACT.md "item").
type itemOut struct {
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

type sectionOut struct {
	CaseID     string         `json:"case_id"`
	Section    domain.Section `json:"section"`
	Stage      domain.Stage   `json:"stage"`
	Version    uint64         `json:"version"`
	Items      []itemOut      `json:"items"`
	BreakGlass bool           `json:"break_glass"`
	// Reasons say why fields of the items shown were withheld (never anything
	// about items not shown).
	Reasons []string `json:"reasons,omitempty"`
}

func (s *Server) readSection(k *call) (int, any, error) {
	v, err := s.view(k.c.Param("id"))
	if err != nil {
		return 0, nil, err
	}
	sec, known := domain.ParseSection(k.c.Param("section"))
	if !known {
		// Say "no such section" only to a reader who may see the case at all.
		if _, err := s.readerView(k, v); err != nil {
			return 0, nil, err
		}
		k.rec.Decision = accesslog.Deny
		return 0, nil, domain.Errorf(domain.KindNotFound, "no such section")
	}
	return s.cachedRead(k, v, string(sec), func() (int, any, error) { return s.renderSection(k, v, sec) })
}

// renderSection answers a section read once the case and section are known.
func (s *Server) renderSection(k *call, v *projections.View, sec domain.Section) (int, any, error) {
	rv, err := s.readerView(k, v)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.cfg.Policy.ReadSection(k.ctx, rv.q, sec)
	if err != nil || !d.Allow {
		return 0, nil, k.deny(d.Decision, err)
	}
	k.allow(d.Decision)
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
			if dec, err = s.cfg.Policy.ReadItem(k.ctx, rv.q, sec, policyItem(vi.it)); err != nil {
				return 0, nil, domain.Internal(err)
			}
			if !dec.Visible {
				continue
			}
		}
		picked = append(picked, shownItem{it: vi.it, number: uint64(n + 1), dec: dec})
	}
	items, why, err := s.render(k, v, picked, feeding-len(picked))
	if err != nil {
		return 0, nil, err
	}
	k.rec.BreakGlass = k.rec.BreakGlass || d.BreakGlass
	return http.StatusOK, sectionOut{
		CaseID: v.Case.ID, Section: sec, Stage: rv.stage(), Version: rv.version(),
		Items: items, BreakGlass: k.rec.BreakGlass, Reasons: why,
	}, nil
}

func (s *Server) readEvents(k *call) (int, any, error) {
	var after uint64
	if a := k.c.QueryParam("after_version"); a != "" {
		n, err := strconv.ParseUint(a, 10, 63)
		if err != nil {
			return 0, nil, domain.Invalid("invalid after_version", domain.FieldError{Field: "after_version", Message: "must be a non-negative integer"})
		}
		after = n
	}
	v, err := s.view(k.c.Param("id"))
	if err != nil {
		return 0, nil, err
	}
	return s.cachedRead(k, v, "after:"+strconv.FormatUint(after, 10), func() (int, any, error) { return s.renderEvents(k, v, after) })
}

// renderEvents answers an events read once the case is known: the events of
// the caller's view numbered after after.
func (s *Server) renderEvents(k *call, v *projections.View, after uint64) (int, any, error) {
	rv, err := s.readerView(k, v)
	if err != nil {
		return 0, nil, err
	}
	k.allow(rv.dec.Decision)
	k.rec.BreakGlass = rv.dec.BreakGlass
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
	items, _, err := s.render(k, v, picked, hidden)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct {
		Items []itemOut `json:"items"`
	}{items}, nil
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
func (s *Server) render(k *call, v *projections.View, picked []shownItem, hidden int) ([]itemOut, []string, error) {
	versions := make([]uint64, len(picked))
	for i, p := range picked {
		versions[i] = p.it.Version
	}
	data, err := s.cfg.Projector.Data(k.ctx, v.Case.ID, versions)
	if err != nil {
		return nil, nil, err
	}
	out := make([]itemOut, 0, len(picked))
	withheld := hidden
	var why []string
	for _, p := range picked {
		filtered, redacted := filterFields(data[p.it.Version], p.dec.Fields)
		withheld += len(redacted)
		if len(redacted) > 0 {
			for _, r := range p.dec.Reasons {
				if !slices.Contains(why, r) {
					why = append(why, r)
				}
			}
		}
		o := itemOut{
			EventID: codec.FormatUUID(p.it.ID), Type: string(p.it.Type()), Version: p.number,
			RecordedAt: domain.FormatTime(p.it.RecordedAt()), Originator: p.it.Originator(),
			Classification: string(p.it.Classification()), ShareWith: orEmpty(p.it.ShareWith()),
			Data: filtered, Redacted: redacted,
		}
		if p.dec.Author {
			author := p.it.Author()
			o.Author = &author
		}
		if p.dec.BreakGlass {
			k.rec.BreakGlass = true
		}
		out = append(out, o)
	}
	k.rec.Withheld += withheld
	if withheld > 0 {
		k.rec.Decision = accesslog.Partial
	}
	slices.Sort(why)
	return out, why, nil
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
