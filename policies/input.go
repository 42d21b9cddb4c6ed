package policies

import (
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Policy inputs are built as ast values directly: no JSON, no Go maps.

// Keys of the input documents (the vocabulary of docs/protocol.md, fixed with
// the Rego).
var (
	keySubject        = ast.StringTerm("subject")
	keySub            = ast.StringTerm("sub")
	keyAgency         = ast.StringTerm("agency")
	keyRoles          = ast.StringTerm("roles")
	keyPurpose        = ast.StringTerm("purpose")
	keyNow            = ast.StringTerm("now")
	keyToday          = ast.StringTerm("today")
	keyCase           = ast.StringTerm("case")
	keyStage          = ast.StringTerm("stage")
	keyClosed         = ast.StringTerm("closed")
	keyErased         = ast.StringTerm("erased")
	keyConsent        = ast.StringTerm("consent")
	keyExpiresAt      = ast.StringTerm("expires_at")
	keyBreakGlass     = ast.StringTerm("break_glass")
	keyWriters        = ast.StringTerm("writers")
	keySection        = ast.StringTerm("section")
	keyItem           = ast.StringTerm("item")
	keyType           = ast.StringTerm("type")
	keyOriginator     = ast.StringTerm("originator")
	keyClassification = ast.StringTerm("classification")
	keyShareWith      = ast.StringTerm("share_with")
	keyEvent          = ast.StringTerm("event")
	keyJustification  = ast.StringTerm("justification")
	keyAction         = ast.StringTerm("action")
	keyErasedFor      = ast.StringTerm("erased_for")
	keyErasure        = ast.StringTerm("erasure")
	keyID             = ast.StringTerm("id")
	keyRequestID      = ast.StringTerm("request_id")
)

// readInput is {subject, purpose, now, today, case} plus extra items. With a
// section, the case's writers are those of that section only: section and
// item decisions see the facts of the section they are asked about, so that
// their cached answers are shared by every case alike in that section.
func readInput(q ReadQuery, now time.Time, section domain.Section, extra ...[2]*ast.Term) ast.Object {
	obj := ast.NewObject(
		ast.Item(keySubject, subjectTerm(q.Identity)),
		ast.Item(keyPurpose, ast.StringTerm(q.Purpose)),
		ast.Item(keyNow, ast.StringTerm(domain.FormatTime(now))),
		ast.Item(keyToday, ast.StringTerm(now.UTC().Format(time.DateOnly))),
		ast.Item(keyCase, caseTermFor(q.Case, readFacts(q, section), false)),
	)
	for _, kv := range extra {
		obj.Insert(kv[0], kv[1])
	}
	return obj
}

// writeInput is {subject, now, today, case, event}.
func writeInput(q WriteQuery, now time.Time) ast.Object {
	return ast.NewObject(
		ast.Item(keySubject, subjectTerm(q.Identity)),
		ast.Item(keyNow, ast.StringTerm(domain.FormatTime(now))),
		ast.Item(keyToday, ast.StringTerm(now.UTC().Format(time.DateOnly))),
		ast.Item(keyCase, caseTermFor(q.Case, domain.Facts{}, true)),
		ast.Item(keyEvent, ast.ObjectTerm(
			ast.Item(keyType, ast.StringTerm(string(q.Type))),
			ast.Item(keyClassification, ast.StringTerm(string(q.Classification))),
			ast.Item(keyShareWith, stringsTerm(q.ShareWith)),
			ast.Item(keyJustification, ast.StringTerm(q.Justification)),
			ast.Item(keyRequestID, ast.StringTerm(q.RequestID)),
		)),
	)
}

// serviceInput is {subject, purpose, action}.
func serviceInput(id domain.Identity, purpose, action string) ast.Object {
	return ast.NewObject(
		ast.Item(keySubject, subjectTerm(id)),
		ast.Item(keyPurpose, ast.StringTerm(purpose)),
		ast.Item(keyAction, ast.StringTerm(action)),
	)
}

func subjectTerm(id domain.Identity) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keySub, ast.StringTerm(id.Subject)),
		ast.Item(keyAgency, ast.StringTerm(id.Agency)),
		ast.Item(keyRoles, stringsTerm(id.Roles)),
	)
}

func itemTerm(it Item) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyType, ast.StringTerm(string(it.Type))),
		ast.Item(keyOriginator, ast.StringTerm(it.Originator)),
		ast.Item(keyClassification, ast.StringTerm(string(it.Classification))),
		ast.Item(keyShareWith, stringsTerm(it.ShareWith)),
	)
}

// readFacts selects the facts of the case that a read decision is given: all
// of them for a case decision (section ""); for a section or item decision,
// the writers of that section, the consent of the caller's organisation and
// the caller's own break-glass grants (read.rego says what rules may read),
// which also key the cached decision (readKey).
func readFacts(q ReadQuery, section domain.Section) domain.Facts {
	if section == "" {
		return domain.Facts{}
	}
	return domain.Facts{Section: section, Agency: q.Identity.Agency, Subject: q.Identity.Subject}
}

// caseTermFor is the case as the policy sees it, with the facts f selects:
// null for no case. Writes also see the pending erasure request (erasure),
// which no read decision depends on.
func caseTermFor(c *domain.Case, f domain.Facts, erasure bool) *ast.Term {
	if !exists(c) {
		return ast.NullTerm()
	}
	consent := ast.NewObject()
	for org, g := range c.Consent {
		if !f.Consent(org) {
			continue
		}
		grant := ast.NewObject()
		if g.ExpiresAt != "" {
			grant.Insert(keyExpiresAt, ast.StringTerm(g.ExpiresAt))
		}
		consent.Insert(ast.StringTerm(org), ast.NewTerm(grant))
	}
	grants := make([]*ast.Term, 0, len(c.BreakGlass))
	for _, g := range c.BreakGlass {
		if !f.Grant(g) {
			continue
		}
		grants = append(grants, ast.ObjectTerm(
			ast.Item(keySub, ast.StringTerm(g.Subject)),
			ast.Item(keyAgency, ast.StringTerm(g.Agency)),
			ast.Item(keyExpiresAt, ast.StringTerm(domain.FormatTime(g.ExpiresAt))),
		))
	}
	writers := ast.NewObject()
	for s, orgs := range c.Writers {
		if f.Writers(s) {
			writers.Insert(ast.StringTerm(string(s)), stringsTerm(orgs))
		}
	}
	obj := ast.NewObject(
		ast.Item(keyStage, ast.StringTerm(string(c.Stage))),
		ast.Item(keyClosed, ast.BooleanTerm(c.Closed)),
		ast.Item(keyErased, ast.BooleanTerm(c.Erased)),
		ast.Item(keyConsent, ast.NewTerm(consent)),
		ast.Item(keyBreakGlass, ast.ArrayTerm(grants...)),
		ast.Item(keyWriters, ast.NewTerm(writers)),
	)
	if c.Erased && c.ErasedFor != nil {
		// Who could see the case when it was erased; a section or item
		// decision learns only whether the caller's organisation could
		// (domain.Facts, as FactsKey keys it).
		orgs := c.ErasedFor
		if f.Agency != "" {
			orgs = nil
			if slices.Contains(c.ErasedFor, f.Agency) {
				orgs = []string{f.Agency}
			}
		}
		obj.Insert(keyErasedFor, stringsTerm(orgs))
	}
	if r := c.Erasure; erasure && r != nil {
		obj.Insert(keyErasure, ast.ObjectTerm(
			ast.Item(keyID, ast.StringTerm(r.ID)),
			ast.Item(keyAgency, ast.StringTerm(r.Agency)),
			ast.Item(keySub, ast.StringTerm(r.Subject)),
			ast.Item(keyExpiresAt, ast.StringTerm(domain.FormatTime(r.ExpiresAt))),
		))
	}
	return ast.NewTerm(obj)
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

// exists says whether c is a case: nil and the zero Case (version 0) are not.
func exists(c *domain.Case) bool { return c != nil && c.Version > 0 }
