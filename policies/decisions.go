package policies

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Decision is the common part of every answer. Slices in decisions may be
// shared with the Authorizer's cache: read them, never modify them.
type Decision struct {
	// Allow says whether the protocol grants the request.
	Allow bool
	// Kind says why not, when Allow is false: KindNotFound (the case does not
	// exist for the caller), KindGone (erased), KindForbidden, KindInvalid
	// (writes), KindConflict (writes).
	Kind domain.Kind
	// Reasons explain the decision, for the access log.
	Reasons []string
	// Revision is the revision of the bundle that decided.
	Revision string
}

// ReadQuery is a read of case content.
type ReadQuery struct {
	// Identity is the caller (token subject, organisation, roles).
	Identity domain.Identity
	// Purpose is the stated purpose (the Liaison-Purpose header; docs/api.md,
	// "The purpose of a read").
	Purpose string
	// Case is the case's state; nil (or a zero Case, of version 0) when there
	// is no such case.
	Case *domain.Case
	// CaseKey is Case.PolicyKey() when the caller already has it (projections
	// compute it once per case state); empty means compute it from Case.
	CaseKey string
	// Now is the time of the read; zero means the Authorizer's clock.
	Now time.Time
}

// CaseDecision answers a read of a case.
type CaseDecision struct {
	Decision
	// Sections lists, in protocol order, the sections the caller may read
	// (ReadSection would allow them); empty unless Allow.
	Sections []domain.Section
	// BreakGlass says whether a break-glass grant of the caller opens any of
	// them.
	BreakGlass bool
}

// SectionDecision answers a read of one section of a case.
type SectionDecision struct {
	Decision
	// BreakGlass says whether the caller's break-glass grant is what opens the
	// section.
	BreakGlass bool
}

// Item is an event as the policy sees it when deciding whether a reader may see
// it: its type, origin and classification (defaults applied).
type Item struct {
	// Type is the event type; its data fields are granted by allow-list.
	Type domain.EventType
	// Originator is the organisation that wrote the event.
	Originator string
	// Classification is the event's TLP label.
	Classification domain.TLP
	// ShareWith lists the organisations the originator shared the event with.
	ShareWith []string
}

// ItemDecision answers whether the caller sees one item of a section it may
// read, and how much of it.
type ItemDecision struct {
	// Visible says whether the caller sees the item at all.
	Visible bool
	// Fields lists the data fields the caller may see; every other field of the
	// item's data is withheld (redaction by allow-list).
	Fields []string
	// Author says whether the caller may see who wrote the item.
	Author bool
	// BreakGlass says whether the caller's break-glass grant is what makes the
	// item visible.
	BreakGlass bool
	// Reasons explain the decision, for the access log.
	Reasons []string
	// Revision is the revision of the bundle that decided.
	Revision string
}

// WriteQuery is a request to append an event.
type WriteQuery struct {
	// Identity is the caller (token subject, organisation, roles).
	Identity domain.Identity
	// Case is the case's state; nil (or a zero Case) for a new case
	// (CaseOpened) or none.
	Case *domain.Case
	// Type is the type of the event to append.
	Type domain.EventType
	// Classification is the label the writer gave, empty for the default.
	Classification domain.TLP
	// ShareWith is the share list the writer gave, empty for the default.
	ShareWith []string
	// Justification is the stated reason of a BreakGlassInvoked.
	Justification string
	// RequestID is the erasure request a CaseErased confirms or an
	// ErasureCancelled cancels.
	RequestID string
	// Now is the time of the request; zero means the Authorizer's clock.
	Now time.Time
}

// WriteDecision answers a request to append an event.
type WriteDecision struct {
	Decision
	// Errors name the fields at fault when Kind is KindInvalid.
	Errors []domain.FieldError
	// Classification is the label to record: the writer's or the default.
	Classification domain.TLP
	// ShareWith is the share list to record: the writer's or the default.
	ShareWith []string
	// BreakGlassFor is how long a BreakGlassInvoked grant lasts (zero for
	// other events).
	BreakGlassFor time.Duration
	// ErasureFor is how long an ErasureRequested waits for its confirmation
	// (zero for other events).
	ErasureFor time.Duration
}

// deny is the decision given when the policy fails to decide.
func deny(revision string) Decision {
	return Decision{Kind: domain.KindForbidden, Reasons: []string{"no policy decision"}, Revision: revision}
}

// ReadCase decides whether the caller may read the case q.Case and which of its
// sections. When the policy cannot decide (an evaluation error, an undefined or
// malformed result) it returns a deny of KindForbidden and the error, which
// wraps ErrUndefined or ErrShape in those cases.
func (a *Authorizer) ReadCase(ctx context.Context, q ReadQuery) (CaseDecision, error) {
	st, now := a.state.Load(), a.now(q.Now)
	a.counts[kindCase].decisions.Add(1)
	return cachedRead(st.cases, keyKindCase, q, "", nil, now, func() (CaseDecision, error) {
		obj, err := eval(ctx, &a.counts[kindCase], st.caseQ, queryCase, readInput(q, now, ""))
		if err != nil {
			return CaseDecision{Decision: deny(st.revision)}, err
		}
		d := decoder{obj: obj}
		out := CaseDecision{Decision: d.decision(st.revision, 200, 403, 404, 410), BreakGlass: d.bool(keyBreakGlass)}
		names := d.strings(keySections)
		out.Sections = make([]domain.Section, len(names))
		for i, s := range names {
			out.Sections[i] = domain.Section(s)
		}
		if d.err != nil {
			return CaseDecision{Decision: deny(st.revision)}, fmt.Errorf("policies: %s: %w", queryCase, d.err)
		}
		return out, nil
	})
}

// ReadSection decides whether the caller may read section s of the case q.Case.
// When the policy cannot decide it returns a deny of KindForbidden and the
// error (wrapping ErrUndefined or ErrShape when the result is missing or
// malformed).
func (a *Authorizer) ReadSection(ctx context.Context, q ReadQuery, s domain.Section) (SectionDecision, error) {
	st, now := a.state.Load(), a.now(q.Now)
	a.counts[kindSection].decisions.Add(1)
	return cachedRead(st.sections, keyKindSection, q, s, nil, now, func() (SectionDecision, error) {
		in := readInput(q, now, s, [2]*ast.Term{keySection, ast.StringTerm(string(s))})
		obj, err := eval(ctx, &a.counts[kindSection], st.sectionQ, querySection, in)
		if err != nil {
			return SectionDecision{Decision: deny(st.revision)}, err
		}
		d := decoder{obj: obj}
		out := SectionDecision{Decision: d.decision(st.revision, 200, 403, 404, 410), BreakGlass: d.bool(keyBreakGlass)}
		if d.err != nil {
			return SectionDecision{Decision: deny(st.revision)}, fmt.Errorf("policies: %s: %w", querySection, d.err)
		}
		return out, nil
	})
}

// ReadItem decides whether the caller sees item it of section s, which
// ReadSection allowed, and which of its data fields. When the policy cannot
// decide it returns an invisible item and the error (wrapping ErrUndefined or
// ErrShape when the result is missing or malformed).
func (a *Authorizer) ReadItem(ctx context.Context, q ReadQuery, s domain.Section, it Item) (ItemDecision, error) {
	st, now := a.state.Load(), a.now(q.Now)
	a.counts[kindItem].decisions.Add(1)
	return cachedRead(st.items, keyKindItem, q, s, &it, now, func() (ItemDecision, error) {
		in := readInput(q, now, s, [2]*ast.Term{keySection, ast.StringTerm(string(s))}, [2]*ast.Term{keyItem, itemTerm(it)})
		hidden := ItemDecision{Reasons: []string{"no policy decision"}, Revision: st.revision}
		obj, err := eval(ctx, &a.counts[kindItem], st.itemQ, queryItem, in)
		if err != nil {
			return hidden, err
		}
		d := decoder{obj: obj}
		out := ItemDecision{
			Visible:    d.bool(keyVisible),
			Fields:     d.strings(keyFields),
			Author:     d.bool(keyAuthor),
			BreakGlass: d.bool(keyBreakGlass),
			Reasons:    d.strings(keyReasons),
			Revision:   st.revision,
		}
		if d.err != nil {
			return hidden, fmt.Errorf("policies: %s: %w", queryItem, d.err)
		}
		if !out.Visible {
			out.Fields, out.Author, out.BreakGlass = nil, false, false
		}
		return out, nil
	})
}

// Append decides whether the caller may append the event q describes, and
// with which classification and share list. When the policy cannot decide it
// returns a deny of KindForbidden and the error (wrapping ErrUndefined or
// ErrShape when the result is missing or malformed).
func (a *Authorizer) Append(ctx context.Context, q WriteQuery) (WriteDecision, error) {
	st := a.state.Load()
	a.counts[kindAppend].decisions.Add(1)
	denied := WriteDecision{Decision: deny(st.revision)}
	obj, err := eval(ctx, &a.counts[kindAppend], st.writeQ, queryWrite, writeInput(q, a.now(q.Now)))
	if err != nil {
		return denied, err
	}
	d := decoder{obj: obj}
	out := WriteDecision{
		Decision:       d.decision(st.revision, 201, 400, 403, 404, 409, 410),
		Errors:         d.fieldErrors(keyErrors),
		Classification: domain.TLP(d.string(keyClassification)),
		ShareWith:      d.strings(keyShareWith),
	}
	switch q.Type {
	case domain.BreakGlassInvoked:
		out.BreakGlassFor = time.Duration(d.int(keyBreakMinutes)) * time.Minute
		if out.Allow && out.BreakGlassFor <= 0 {
			d.fail(keyBreakMinutes, "not positive")
		}
	case domain.ErasureRequested:
		out.ErasureFor = time.Duration(d.int(keyErasureDays)) * 24 * time.Hour
		if out.Allow && out.ErasureFor <= 0 {
			d.fail(keyErasureDays, "not positive")
		}
	}
	if d.err != nil {
		return denied, fmt.Errorf("policies: %s: %w", queryWrite, d.err)
	}
	return out, nil
}

// Audience returns the organisations that can see case c now (sorted ids):
// those the read table lets read its profile, with its consent and stage
// conditions, and those of users holding an active break-glass grant
// (data.liaison.read.audience). The hub records it with an erasure, so that
// only they are told the case was erased. It returns an error when the policy
// cannot answer.
func (a *Authorizer) Audience(ctx context.Context, c *domain.Case, now time.Time) ([]string, error) {
	st := a.state.Load()
	now = a.now(now)
	in := ast.NewObject(
		ast.Item(keySubject, subjectTerm(domain.Identity{})),
		ast.Item(keyNow, ast.StringTerm(domain.FormatTime(now))),
		ast.Item(keyToday, ast.StringTerm(now.UTC().Format(time.DateOnly))),
		ast.Item(keyCase, caseTermFor(c, domain.Facts{}, false)),
	)
	v, err := evalValue(ctx, &a.counts[kindService], st.audienceQ, queryAudience, in)
	if err != nil {
		return nil, err
	}
	d := decoder{obj: ast.NewObject(ast.Item(keyAudience, ast.NewTerm(v)))}
	orgs := d.strings(keyAudience)
	if d.err != nil {
		return nil, fmt.Errorf("policies: %s: %w", queryAudience, d.err)
	}
	slices.Sort(orgs)
	return orgs, nil
}

// WriteOption is what a caller may append of one event type: the labels it
// may give, the label and share list it gets when it gives neither, and
// whether it may give a share list at all.
type WriteOption struct {
	Labels         []domain.TLP
	Classification domain.TLP
	ShareWith      []string
	ShareList      bool
}

// Writable is what a caller may append to a case now: the status a write
// would get (200, or the 404 or 410 of a case it cannot see or that was
// erased, with nothing else then), the event types of the events endpoint and
// how it may append each, and whether it may break the glass.
type Writable struct {
	Status     int
	Options    map[domain.EventType]WriteOption
	BreakGlass bool
}

// Writable answers what the caller may append to case c now
// (data.liaison.write.writable): what the console offers. It returns an
// error when the policy cannot answer.
func (a *Authorizer) Writable(ctx context.Context, id domain.Identity, c *domain.Case, now time.Time) (Writable, error) {
	st := a.state.Load()
	now = a.now(now)
	in := ast.NewObject(
		ast.Item(keySubject, subjectTerm(id)),
		ast.Item(keyNow, ast.StringTerm(domain.FormatTime(now))),
		ast.Item(keyToday, ast.StringTerm(now.UTC().Format(time.DateOnly))),
		ast.Item(keyCase, caseTermFor(c, domain.Facts{}, true)),
	)
	obj, err := eval(ctx, &a.counts[kindAppend], st.writableQ, queryWritable, in)
	if err != nil {
		return Writable{}, err
	}
	d := decoder{obj: obj}
	w := Writable{Status: d.int(keyStatus), Options: map[domain.EventType]WriteOption{}}
	if w.Status == 200 {
		w.BreakGlass = d.bool(keyBreakGlass)
	} else if w.Status != 404 && w.Status != 410 {
		d.fail(keyStatus, "not 200, 404 or 410")
	}
	if d.err != nil {
		return Writable{}, fmt.Errorf("policies: %s: %w", queryWritable, d.err)
	}
	if w.Status != 200 {
		return Writable{Status: w.Status}, nil
	}
	opts, ok := d.value(keyOptions).(ast.Object)
	if !ok {
		return Writable{}, fmt.Errorf("policies: %s: %w: options is not an object", queryWritable, ErrShape)
	}
	var derr error
	opts.Foreach(func(k, v *ast.Term) {
		name, ok1 := k.Value.(ast.String)
		o, ok2 := v.Value.(ast.Object)
		if !ok1 || !ok2 {
			derr = fmt.Errorf("policies: %s: %w: not an object of options", queryWritable, ErrShape)
			return
		}
		d := decoder{obj: o}
		opt := WriteOption{
			Classification: domain.TLP(d.string(keyClassification)),
			ShareWith:      d.strings(keyShareWith),
			ShareList:      d.bool(keyShareList),
		}
		for _, l := range d.strings(keyLabels) {
			opt.Labels = append(opt.Labels, domain.TLP(l))
		}
		if d.err != nil {
			derr = fmt.Errorf("policies: %s: %w", queryWritable, d.err)
		}
		w.Options[domain.EventType(name)] = opt
	})
	if derr != nil {
		return Writable{}, derr
	}
	return w, nil
}

// Purposes returns the purposes the bundle in force allows the organisation
// agency to read for (data.protocol.read.purposes of its type), nil for an
// organisation outside the directory or one that reads no case content.
func (a *Authorizer) Purposes(agency string) []string {
	st := a.state.Load()
	return st.purposes[st.dir[agency]]
}

// Service decides whether the caller may use a service that is not case
// content: action is one of "audit.records", "audit.checkpoint",
// "audit.proofs", "stats". When the policy cannot decide it returns a deny of
// KindForbidden and the error (wrapping ErrUndefined or ErrShape when the
// result is missing or malformed).
func (a *Authorizer) Service(ctx context.Context, id domain.Identity, purpose, action string) (Decision, error) {
	st := a.state.Load()
	a.counts[kindService].decisions.Add(1)
	obj, err := eval(ctx, &a.counts[kindService], st.serviceQ, queryService, serviceInput(id, purpose, action))
	if err != nil {
		return deny(st.revision), err
	}
	d := decoder{obj: obj}
	out := d.decision(st.revision, 200, 403)
	if d.err != nil {
		return deny(st.revision), fmt.Errorf("policies: %s: %w", queryService, d.err)
	}
	return out, nil
}
