package hub

import (
	"context"
	"slices"
	"strconv"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// Me is the caller as the hub knows it, and what the protocol lets it do
// (docs/api.md, "Who am I"): what a console needs to offer only what will be
// allowed (the purposes of its organisation, the pages of the services it
// may use, opening cases). It is not case content; the call is recorded like
// every other (action "me").
type Me struct {
	Issuer   string         `json:"issuer"`
	Sub      string         `json:"sub"`
	Agency   string         `json:"agency"`
	OrgType  domain.OrgType `json:"org_type"`
	Roles    []string       `json:"roles"`
	Purposes []string       `json:"purposes"`
	// Services maps each service the protocol lets the caller use to the
	// purposes it may use it for (of its organisation's).
	Services map[string][]string `json:"services"`
	// OpenCases says whether it may open cases (POST /v1/cases).
	OpenCases bool `json:"open_cases"`
	// Organisations is the directory, for share lists.
	Organisations []Organisation `json:"organisations"`
}

// Organisation is an organisation of the directory.
type Organisation struct {
	ID   string         `json:"id"`
	Type domain.OrgType `json:"type"`
}

// serviceActions are the services the hub asks the protocol about
// (data.liaison.service.decision), which Me reports on.
var serviceActions = []string{
	"case.list", "feed", "audit.records", "audit.checkpoint", "audit.proofs",
	"erasure.list", "erasure.decide", "stats", "audit.alerts", "audit.alert-review",
}

// Me answers who the caller is and what it may do. It returns an error only
// when the policy cannot answer.
func (s *Service) Me(ctx context.Context, c *Call) (Me, error) {
	dir := s.cfg.Policy.Directory()
	orgType, _ := dir.TypeOf(c.Identity.Agency)
	me := Me{
		Issuer: c.Identity.Issuer, Sub: c.Identity.Subject, Agency: c.Identity.Agency, OrgType: orgType,
		Roles: orEmpty(c.Identity.Roles), Purposes: orEmpty(s.cfg.Policy.Purposes(c.Identity.Agency)),
		Services: map[string][]string{}, Organisations: []Organisation{},
	}
	for _, action := range serviceActions {
		for _, purpose := range me.Purposes {
			d, err := s.cfg.Policy.Service(ctx, c.Identity, purpose, action)
			if err != nil {
				return Me{}, domain.Internal(err)
			}
			if d.Allow {
				me.Services[action] = append(me.Services[action], purpose)
			}
		}
	}
	d, err := s.cfg.Policy.Append(ctx, policies.WriteQuery{Identity: c.Identity, Type: domain.CaseOpened, Now: c.Now})
	if err != nil {
		return Me{}, domain.Internal(err)
	}
	me.OpenCases = d.Allow
	for id, t := range dir {
		me.Organisations = append(me.Organisations, Organisation{ID: id, Type: t})
	}
	slices.SortFunc(me.Organisations, func(a, b Organisation) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return me, nil
}

// WriteForm is what the caller may append of one event type through the
// events endpoint: the sections it feeds, the labels the caller may give, the
// label and share list it gets when it gives neither, and whether it may give
// a share list. The data's schema is the OpenAPI document's
// (AppendRequest's mapping for the type).
type WriteForm struct {
	Type           domain.EventType `json:"type"`
	Sections       []domain.Section `json:"sections"`
	Labels         []domain.TLP     `json:"labels"`
	Classification domain.TLP       `json:"classification"`
	ShareWith      []string         `json:"share_with"`
	ShareList      bool             `json:"share_list"`
}

// Writable is what the caller may append to a case now (docs/api.md, "What
// may I write"): the version of the case in its view (the expected_version of
// its next append), the forms, in the contract's order of event types, and
// whether it may break the glass.
type Writable struct {
	CaseID     string      `json:"case_id"`
	Version    uint64      `json:"version"`
	Events     []WriteForm `json:"events"`
	BreakGlass bool        `json:"break_glass"`
}

// Writable answers what the caller may append to a case now. It returns
// KindNotFound for a case the caller cannot see (as a write would), KindGone
// for an erased case it could see, KindUnavailable while the hub starts.
func (s *Service) Writable(ctx context.Context, c *Call, caseID string) (Writable, error) {
	v, err := s.view(caseID)
	if err != nil {
		return Writable{}, err
	}
	w, err := s.cfg.Policy.Writable(ctx, c.Identity, v.Case, c.Now)
	if err != nil {
		return Writable{}, deny(c, policies.Decision{Revision: s.Revision()}, err)
	}
	switch w.Status {
	case 404:
		return Writable{}, deny(c, policies.Decision{Kind: domain.KindNotFound, Reasons: []string{"the case does not exist for the caller"}, Revision: s.Revision()}, nil)
	case 410:
		return Writable{}, deny(c, policies.Decision{Kind: domain.KindGone, Reasons: []string{"the case content was erased"}, Revision: s.Revision()}, nil)
	}
	version, err := s.writerVersion(ctx, c, v)
	if err != nil {
		return Writable{}, domain.Internal(err)
	}
	out := Writable{CaseID: v.Case.ID, Version: version, Events: []WriteForm{}, BreakGlass: w.BreakGlass}
	// The order rules, over the caller's view (hub/order.go): a release is
	// offered once its schedule is in the view, a goal update while a goal
	// is open…
	ordered, err := s.orderAllows(ctx, c, v)
	if err != nil {
		return Writable{}, domain.Internal(err)
	}
	for _, t := range domain.EventTypes {
		if o, ok := w.Options[t]; ok && ordered(t) {
			out.Events = append(out.Events, WriteForm{
				Type: t, Sections: orEmpty(domain.SectionsOf(t)), Labels: orEmpty(o.Labels),
				Classification: o.Classification, ShareWith: orEmpty(o.ShareWith), ShareList: o.ShareList,
			})
		}
	}
	allow(c, policies.Decision{Allow: true, Reasons: []string{"may append " + strconv.Itoa(len(out.Events)) + " event types"}, Revision: s.Revision()})
	return out, nil
}
