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
	q := k.readQuery(v)
	sec, known := domain.ParseSection(k.c.Param("section"))
	if !known {
		// Say "no such section" only to a reader who may see the case at all.
		d, err := s.cfg.Policy.ReadCase(k.ctx, q)
		if err != nil || !d.Allow {
			return 0, nil, k.deny(d.Decision, err)
		}
		k.rec.Decision = accesslog.Deny
		return 0, nil, domain.Errorf(domain.KindNotFound, "no such section")
	}
	return s.cachedRead(k, v, string(sec), func() (int, any, error) { return s.renderSection(k, v, q, sec) })
}

// renderSection answers a section read once the case and section are known.
func (s *Server) renderSection(k *call, v *projections.View, q policies.ReadQuery, sec domain.Section) (int, any, error) {
	d, err := s.cfg.Policy.ReadSection(k.ctx, q, sec)
	if err != nil || !d.Allow {
		return 0, nil, k.deny(d.Decision, err)
	}
	k.allow(d.Decision)
	only := []domain.Section{sec}
	items, why, err := s.render(k, v, q, func(t domain.EventType) []domain.Section {
		if slices.Contains(domain.SectionsOf(t), sec) {
			return only
		}
		return nil
	}, 0)
	if err != nil {
		return 0, nil, err
	}
	k.rec.BreakGlass = k.rec.BreakGlass || d.BreakGlass
	return http.StatusOK, sectionOut{
		CaseID: v.Case.ID, Section: sec, Stage: v.Case.Stage, Version: v.Case.Version,
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

// renderEvents answers an events read once the case is known.
func (s *Server) renderEvents(k *call, v *projections.View, after uint64) (int, any, error) {
	q := k.readQuery(v)
	d, err := s.cfg.Policy.ReadCase(k.ctx, q)
	if err != nil || !d.Allow {
		return 0, nil, k.deny(d.Decision, err)
	}
	k.allow(d.Decision)
	readable := d.Sections
	items, _, err := s.render(k, v, q, func(t domain.EventType) []domain.Section {
		var out []domain.Section
		for _, sec := range domain.SectionsOf(t) {
			if slices.Contains(readable, sec) {
				out = append(out, sec)
			}
		}
		return out
	}, after)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, struct {
		Items []itemOut `json:"items"`
	}{items}, nil
}

// render returns the items of a case the reader may see, each through the first
// of its sections (given by through) that shows it, with its data reduced to the
// fields the policy grants, and the policy's reasons for the fields it withheld.
// It counts what it withholds in the access record.
func (s *Server) render(k *call, v *projections.View, q policies.ReadQuery, through func(domain.EventType) []domain.Section, after uint64) ([]itemOut, []string, error) {
	type shown struct {
		it  *projections.Item
		dec policies.ItemDecision
	}
	var picked []shown
	withheld := 0
	for i := range v.Items {
		it := &v.Items[i]
		if it.Version <= after {
			continue
		}
		secs := through(it.Type())
		if len(secs) == 0 {
			continue
		}
		visible := false
		for _, sec := range secs {
			dec, err := s.cfg.Policy.ReadItem(k.ctx, q, sec, policies.Item{Type: it.Type(), Originator: it.Originator(), Classification: it.Classification(), ShareWith: it.ShareWith()})
			if err != nil {
				return nil, nil, domain.Internal(err)
			}
			if dec.Visible {
				picked = append(picked, shown{it, dec})
				visible = true
				break
			}
		}
		if !visible {
			withheld++
		}
	}
	versions := make([]uint64, len(picked))
	for i, p := range picked {
		versions[i] = p.it.Version
	}
	data, err := s.cfg.Projector.Data(k.ctx, v.Case.ID, versions)
	if err != nil {
		return nil, nil, err
	}
	out := make([]itemOut, 0, len(picked))
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
			EventID: codec.FormatUUID(p.it.ID), Type: string(p.it.Type()), Version: p.it.Version,
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
