package hub

import (
	"context"
	"slices"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Non-interference (docs/protocol.md, "What a reader can infer"): everything a
// reader gets is computed over its view of the case, never over the case as
// the log holds it, so that an event it may not read changes nothing it gets.
//
// A reader's view is the list of the case's events, in log order, that it may
// read: those visible to it through at least one section it can read. Its
// items are numbered 1, 2, 3… in that list; the case's version, as the reader
// gets it, is the number of events in the view; the stage it gets is the
// furthest stage its view reaches, and the stage its decisions are taken on.

// readerView is one reader's view of one case version.
type readerView struct {
	// dec is the decision on the case as a whole, at the view's stage.
	dec policies.CaseDecision
	// q is the query the view was decided with: its Case is at the view's
	// stage (the case itself when the view reaches the case's stage).
	q policies.ReadQuery
	// items are the events in the view, in log order; items[i] is numbered
	// i+1.
	items []viewItem
}

// viewItem is an event in a reader's view.
type viewItem struct {
	it *projections.Item
	// section is the first section, in protocol order, through which the
	// reader sees it, and dec the decision through that section.
	section domain.Section
	dec     policies.ItemDecision
}

// version returns the case's version as the reader gets it.
func (rv *readerView) version() uint64 { return uint64(len(rv.items)) }

// stage returns the case's stage as the reader gets it.
func (rv *readerView) stage() domain.Stage { return rv.q.Case.Stage }

// viewOf computes the reader's view of case version v. It decides on the case
// as the log holds it first; when the stage the visible events reach is
// behind the case's, it decides again on the case at that stage (an event the
// reader cannot read must not move the stage it gets, nor open the sections
// that open from a stage), until the view reaches the stage it is decided on.
// A stage only moves back here, so this ends (in one round, unless events the
// reader cannot see moved the stage). It returns the refusal, with no items,
// when the case decision does not allow the read; an error when the policy
// cannot decide.
func (s *Service) viewOf(ctx context.Context, q policies.ReadQuery, v *projections.View) (*readerView, error) {
	q.Case, q.CaseKey = v.Case, v.PolicyKey
	for {
		rv, err := s.decideView(ctx, q, v)
		if err != nil || !rv.dec.Allow {
			return rv, err
		}
		reached := domain.StageIntake
		for _, vi := range rv.items {
			if st, ok := domain.StageOf(vi.it.Type()); ok && st.Rank() > reached.Rank() {
				reached = st
			}
		}
		if reached.Rank() >= q.Case.Stage.Rank() {
			return rv, nil
		}
		held := q.Case.Clone()
		held.Stage = reached
		q.Case, q.CaseKey = held, held.PolicyKey()
	}
}

// decideView decides the case and each of its events for the reader, on the
// case q holds.
func (s *Service) decideView(ctx context.Context, q policies.ReadQuery, v *projections.View) (*readerView, error) {
	d, err := s.cfg.Policy.ReadCase(ctx, q)
	rv := &readerView{dec: d, q: q}
	if err != nil || !d.Allow {
		return rv, err
	}
	rv.items = make([]viewItem, 0, len(v.Items))
	for i := range v.Items {
		it := &v.Items[i]
		for _, sec := range domain.SectionsOf(it.Type()) {
			if !slices.Contains(d.Sections, sec) {
				continue
			}
			dec, err := s.cfg.Policy.ReadItem(ctx, q, sec, policyItem(it))
			if err != nil {
				return rv, domain.Internal(err)
			}
			if dec.Visible {
				rv.items = append(rv.items, viewItem{it: it, section: sec, dec: dec})
				break
			}
		}
	}
	return rv, nil
}

// policyItem is an item as the policy decides on it.
func policyItem(it *projections.Item) policies.Item {
	return policies.Item{Type: it.Type(), Originator: it.Originator(), Classification: it.Classification(), ShareWith: it.ShareWith()}
}

// writerVersion returns the case's version in the writer's view: the view it
// would read for any purpose its organisation may read for (the view does not
// depend on which), 0 when it reads no case content or cannot see the case.
// A writer's expected_version is checked against it.
func (s *Service) writerVersion(ctx context.Context, c *Call, v *projections.View) (uint64, error) {
	purposes := s.cfg.Policy.Purposes(c.Identity.Agency)
	if len(purposes) == 0 || v == nil {
		return 0, nil
	}
	rv, err := s.viewOf(ctx, policies.ReadQuery{Identity: c.Identity, Purpose: purposes[0], Now: c.Now}, v)
	if err != nil || !rv.dec.Allow {
		return 0, err
	}
	return rv.version(), nil
}
