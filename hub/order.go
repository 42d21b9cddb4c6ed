package hub

import (
	"context"
	"slices"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// The order rules (domain.CheckOrder; docs/protocol.md, "Order rules") are
// checked against the writer's own view of the case: the events it may read
// (viewOf, as for expected_version), of the types the rule consults, with
// their data read from the log and opened. An event hidden from the writer
// neither satisfies a rule nor breaks one, so that whether an append is
// accepted, and what its refusal says, tells the writer nothing of what it
// may not read (docs/protocol.md, "What a reader can infer").

// checkOrder checks an append of type t with data d (nil: the type alone)
// on case version v against the order rules, over the writer's view. It
// returns the rule's KindConflict refusal, or an error reading the log.
func (s *Service) checkOrder(ctx context.Context, c *Call, v *projections.View, t domain.EventType, d domain.Data) error {
	reads := domain.OrderReads(t)
	if reads == nil {
		return nil
	}
	h, err := s.writerHistory(ctx, c, v, reads)
	if err != nil {
		return err
	}
	return domain.CheckOrder(t, d, h)
}

// orderTypes lists every type an order rule consults.
var orderTypes = func() []domain.EventType {
	var out []domain.EventType
	for _, t := range domain.EventTypes {
		for _, r := range domain.OrderReads(t) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}()

// orderAllows returns, for case version v, whether the order rules let the
// writer append each type with some data (domain.CheckOrder with no data):
// what a console should offer.
func (s *Service) orderAllows(ctx context.Context, c *Call, v *projections.View) (func(domain.EventType) bool, error) {
	h, err := s.writerHistory(ctx, c, v, orderTypes)
	if err != nil {
		return nil, err
	}
	return func(t domain.EventType) bool { return domain.CheckOrder(t, nil, h) == nil }, nil
}

// writerHistory returns the events of the writer's view of case version v
// whose types are among types, in log order, with their data: the view it
// would read for any purpose of its organisation (the view does not depend
// on which), none when it reads no case content or cannot see the case.
func (s *Service) writerHistory(ctx context.Context, c *Call, v *projections.View, types []domain.EventType) ([]domain.Event, error) {
	purposes := s.cfg.Policy.Purposes(c.Identity.Agency)
	if len(purposes) == 0 || v == nil {
		return nil, nil
	}
	rv, err := s.viewOf(ctx, policies.ReadQuery{Identity: c.Identity, Purpose: purposes[0], Now: c.Now}, v)
	if err != nil {
		return nil, domain.Internal(err)
	}
	if !rv.dec.Allow {
		return nil, nil
	}
	var versions []uint64
	var events []domain.Event
	for _, vi := range rv.items {
		if typ := vi.it.Type(); slices.Contains(types, typ) {
			versions = append(versions, vi.it.Version)
			events = append(events, domain.Event{CaseID: v.Case.ID, Type: typ, Version: vi.it.Version, RecordedAt: vi.it.RecordedAt(), Originator: vi.it.Originator()})
		}
	}
	if len(events) == 0 {
		return nil, nil
	}
	raw, err := s.cfg.Projector.Data(ctx, v.Case.ID, versions)
	if err != nil {
		return nil, err
	}
	for i := range events {
		if events[i].Data, err = domain.RehydrateData(events[i].Type, raw[events[i].Version]); err != nil {
			return nil, err
		}
	}
	return events, nil
}
