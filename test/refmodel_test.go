package liaison_test

// An independent reference model of the sharing protocol for the differential
// test (docs/targets.md, R3). It is written plainly from the protocol's text
// and tables, from the decisions of the non-interference work (cited as
// "issue 13 N", "E", "R", "L", "F": per-reader views, erasure and existence,
// role-restricted cells, labels, four-eyes erasure; docs/protocol.md, "What a
// reader can infer", "Erasure", "Classification"), and from the
// interpretations the project documents where the protocol is silent
// (docs/protocol.md, "Choices made where the requirements are silent"),
// numbered here as "interp. N" and each stated where the model applies it. It
// never calls the hub's policy: a reviewer should be able to check every table
// and rule here against the protocol line by line.
//
// This file holds the protocol's vocabulary and tables, the case history and
// the case state derived from it, and the write decisions. The read decisions
// (and the reader's view) are in refmodel_read_test.go; the model's own
// non-interference property test is in refmodel_ni_test.go.

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Organisation types (the protocol's "Organisations and roles").
const (
	prison        = "prison"
	probation     = "probation"
	intelligence  = "intelligence"
	municipality  = "municipality"
	civilSociety  = "civil-society"
	familySupport = "family-support"
	oversight     = "oversight"
	research      = "research"
)

// refDirectory is the demo organisation directory: organisation id → type.
var refDirectory = map[string]string{
	"prison-service":       prison,
	"probation-service":    probation,
	"intelligence-service": intelligence,
	"municipality":         municipality,
	"exit-ngo":             civilSociety,
	"family-support":       familySupport,
	"oversight-board":      oversight,
	"research-institute":   research,
}

// refOrgIDs lists the directory's organisation ids, sorted.
var refOrgIDs = func() []string {
	var ids []string
	for id := range refDirectory {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}()

// refSections lists the sections in the protocol's order.
var refSections = []string{"profile", "consent", "risk", "needs", "plan", "interventions",
	"counselling", "conferences", "security", "family", "transition", "outcomes"}

// refFeeds is the protocol's "Sections and the events that feed them". Note
// that ReleaseScheduled feeds both profile and transition, and that
// BreakGlassInvoked, ErasureRequested, ErasureCancelled and CaseErased feed no
// section (interp. 9; issue 13 N and F): they are in nobody's view. Issue 18
// added the detention path to the profile (ParticipationChanged,
// Transferred), the goals' moves and reviews to the plan, the actions done to
// the conferences, the end of mentoring to the transition.
var refFeeds = map[string][]string{
	"profile":       {"CaseOpened", "ParticipationChanged", "Transferred", "ReleaseScheduled", "Released", "CaseClosed"},
	"consent":       {"ConsentGiven", "ConsentWithdrawn"},
	"risk":          {"RiskAssessmentRecorded"},
	"needs":         {"NeedsAssessmentRecorded"},
	"plan":          {"TreatmentPlanAdopted", "GoalUpdated", "PlanReviewed"},
	"interventions": {"InterventionRecorded"},
	"counselling":   {"CounsellingNoteAdded"},
	"conferences":   {"CaseConferenceHeld", "ConferenceActionCompleted"},
	"security":      {"IntelligenceNoteAdded", "RiskDisclosureRaised"},
	"family":        {"FamilyContactRecorded"},
	"transition":    {"TransitionPlanAgreed", "MentorAssigned", "MentoringEnded", "ReleaseScheduled", "ProbationHandoverCompleted"},
	"outcomes":      {"OutcomeRecorded"},
}

// sectionsFedBy returns the sections an event type feeds, in protocol order
// (a shared slice: not to be changed).
func sectionsFedBy(eventType string) []string { return refFedBy[eventType] }

// refFedBy is refFeeds the other way round: event type → sections.
var refFedBy = func() map[string][]string {
	out := map[string][]string{}
	for _, s := range refSections {
		for _, t := range refFeeds[s] {
			out[t] = append(out[t], s)
		}
	}
	return out
}()

// Case stages in order, and the events that move a case to a stage (a stage
// moves forward only).
var refStages = []string{"intake", "assessment", "intervention", "transition", "released", "closed"}

var refStageOf = map[string]string{
	"CaseOpened":              "intake",
	"RiskAssessmentRecorded":  "assessment",
	"NeedsAssessmentRecorded": "assessment",
	"TreatmentPlanAdopted":    "intervention",
	"TransitionPlanAgreed":    "transition",
	"ReleaseScheduled":        "transition",
	// Issue 18: the hand-over to probation belongs to the transition.
	"ProbationHandoverCompleted": "transition",
	"Released":                   "released",
	"CaseClosed":                 "closed",
}

// Cells of the read table: "✓" granted; "c" granted while consent covers the
// reader's organisation; "t" granted from stage transition on; "own" the
// reader's own items only; "c,sum" granted with consent, summary fields only;
// "–" never; "security-officer" granted to that prison role only.
//
// refReadTable is the protocol's "Read access by organisation type", row by row,
// columns in the protocol's order: prison, probation, intelligence,
// municipality, civil-society, family-support, oversight, research.
var refReadTable = map[string][8]string{
	"profile":       {"✓", "✓", "✓", "c", "c", "c", "–", "–"},
	"consent":       {"✓", "✓", "✓", "c", "c", "c", "–", "–"},
	"risk":          {"✓", "t", "✓", "–", "c,sum", "–", "–", "–"},
	"needs":         {"✓", "t", "–", "c", "c", "–", "–", "–"},
	"plan":          {"✓", "t", "–", "c", "c", "c", "–", "–"},
	"interventions": {"✓", "t", "–", "–", "c", "–", "–", "–"},
	"counselling":   {"own", "own", "–", "–", "own", "own", "–", "–"},
	"conferences":   {"✓", "t", "✓", "c", "c", "–", "–", "–"},
	"security":      {"security-officer", "t", "✓", "–", "own", "–", "–", "–"},
	"family":        {"✓", "t", "–", "–", "c", "c", "–", "–"},
	"transition":    {"✓", "✓", "✓", "c", "c", "c", "–", "–"},
	"outcomes":      {"✓", "✓", "–", "c", "c", "–", "–", "–"},
}

// refTableColumns is the column order of refReadTable.
var refTableColumns = []string{prison, probation, intelligence, municipality, civilSociety, familySupport, oversight, research}

// cell returns the read table's cell for a section and an organisation type.
func cell(section, orgType string) string {
	return refReadTable[section][slices.Index(refTableColumns, orgType)]
}

// refSummaryFields are the fields a "sum" cell shows of a risk assessment
// (the protocol: indicators, domains, notes and assessor are redacted).
var refSummaryFields = []string{"overall_judgement", "assessed_at", "next_review_due"}

// refPurposes is the protocol's "Purpose": the purposes each type may read for.
var refPurposes = map[string][]string{
	prison:        {"case-management", "risk-management", "reintegration", "case-conference"},
	probation:     {"case-management", "risk-management", "reintegration", "case-conference"},
	intelligence:  {"risk-management", "case-conference"},
	municipality:  {"reintegration", "case-conference"},
	civilSociety:  {"reintegration", "case-conference"},
	familySupport: {"reintegration", "case-conference"},
	oversight:     {"oversight"},
	research:      {"research"},
}

// refAllPurposes lists every purpose of the protocol.
var refAllPurposes = []string{"case-management", "risk-management", "reintegration", "case-conference", "oversight", "research"}

// writer is one entry of the write table: an organisation type, the roles it
// needs (none: any role), and whether it needs the participant's consent.
type writer struct {
	orgType string
	roles   []string
	consent bool
}

func w(orgType string, roles ...string) writer { return writer{orgType: orgType, roles: roles} }
func withConsent(orgType string) writer        { return writer{orgType: orgType, consent: true} }

// refWriteTable is the protocol's "Write access". RiskDisclosureRaised ("any
// organisation that can read the case's profile, except oversight and
// research") is every other type: the profile condition is the general
// visibility rule of appends. The three erasure events are the oversight
// body's data-protection officers' (the protocol's "Erasure (four eyes)";
// issue 13 F): ErasureRequested through POST /v1/cases/{id}/erase,
// CaseErased through POST /v1/erasures/{request_id}/confirm, ErasureCancelled
// through .../cancel.
var refWriteTable = map[string][]writer{
	"CaseOpened":              {w(prison, "caseworker", "manager"), w(probation)},
	"ConsentGiven":            {w(prison, "caseworker"), w(probation)},
	"ConsentWithdrawn":        {w(prison, "caseworker"), w(probation), w(civilSociety)},
	"ParticipationChanged":    {w(prison, "caseworker", "manager"), w(probation)},
	"Transferred":             {w(prison, "caseworker", "manager")},
	"RiskAssessmentRecorded":  {w(prison, "psychologist"), w(probation)},
	"NeedsAssessmentRecorded": {w(prison, "caseworker", "psychologist"), w(probation), withConsent(civilSociety)},
	"TreatmentPlanAdopted":    {w(prison, "caseworker", "manager"), w(probation)},
	"GoalUpdated": {w(prison, "caseworker", "psychologist", "manager"), w(probation),
		withConsent(municipality), withConsent(civilSociety), withConsent(familySupport)},
	"PlanReviewed":         {w(prison, "caseworker", "manager"), w(probation)},
	"InterventionRecorded": {w(prison), w(probation), withConsent(civilSociety), withConsent(familySupport)},
	"CounsellingNoteAdded": {w(prison, "psychologist"), w(probation), withConsent(civilSociety), withConsent(familySupport)},
	"CaseConferenceHeld":   {w(prison, "manager"), w(probation), withConsent(municipality)},
	"ConferenceActionCompleted": {w(prison, "caseworker", "manager"), w(probation), w(intelligence),
		withConsent(municipality), withConsent(civilSociety)},
	"IntelligenceNoteAdded": {w(intelligence)},
	"RiskDisclosureRaised": {w(prison), w(probation), w(intelligence), w(municipality),
		w(civilSociety), w(familySupport)},
	"FamilyContactRecorded":      {w(prison, "caseworker"), withConsent(civilSociety), withConsent(familySupport)},
	"TransitionPlanAgreed":       {w(prison, "caseworker", "manager"), w(probation)},
	"MentorAssigned":             {w(probation), withConsent(civilSociety)},
	"MentoringEnded":             {w(probation), withConsent(civilSociety)},
	"ReleaseScheduled":           {w(prison, "caseworker", "manager")},
	"Released":                   {w(prison, "caseworker", "manager")},
	"ProbationHandoverCompleted": {w(probation)},
	"OutcomeRecorded":            {w(probation), withConsent(civilSociety), withConsent(municipality)},
	"CaseClosed":                 {w(prison, "manager"), w(probation)},
	"CaseErased":                 {w(oversight, "dpo")},
	"ErasureRequested":           {w(oversight, "dpo")},
	"ErasureCancelled":           {w(oversight, "dpo")},
	"BreakGlassInvoked":          {w(prison, "manager"), w(probation), w(intelligence)},
}

// TLP 2.0 labels.
const (
	tlpClear       = "TLP:CLEAR"
	tlpGreen       = "TLP:GREEN"
	tlpAmber       = "TLP:AMBER"
	tlpAmberStrict = "TLP:AMBER+STRICT"
	tlpRed         = "TLP:RED"
)

// defaultLabel is the classification of an event whose writer gives none
// (the protocol's "Classification"; interp. 8).
func defaultLabel(eventType string) string {
	switch eventType {
	case "CounsellingNoteAdded":
		return tlpAmberStrict
	case "IntelligenceNoteAdded", "RiskDisclosureRaised":
		return tlpAmber
	}
	return tlpGreen
}

// defaultShareWith is the share list of an event whose writer gave neither a
// classification nor a share list (issue 13 L: a default never widens a label
// the writer chose): for RiskDisclosureRaised, every organisation of type
// intelligence or prison in the directory (interp. 8); for anything else, none.
func defaultShareWith(eventType string) []string {
	if eventType != "RiskDisclosureRaised" {
		return nil
	}
	var out []string
	for _, id := range refOrgIDs {
		if t := refDirectory[id]; t == intelligence || t == prison {
			out = append(out, id)
		}
	}
	return out
}

// breakGlassFor is how long a break-glass grant lasts.
const breakGlassFor = 60 * time.Minute

// refLegalBases are the legal basis codes of an erasure (the protocol's
// "Erasure (four eyes)"), and refMaxReference the longest reference.
var refLegalBases = []string{"retention-expired", "subject-request", "court-order", "unlawful-processing", "other"}

const refMaxReference = 200

// refEvent is one event the hub accepted into a case, as the model keeps it.
type refEvent struct {
	Type      string
	Org       string         // originator organisation id
	Sub       string         // author
	TLP       string         // effective classification
	ShareWith []string       // effective share list
	Data      map[string]any // the data fields present (for redaction and consent)
	At        time.Time      // when the hub accepted it (break-glass grants run from here)
	// ID is the hub's id of an ErasureRequested: the request id (issue 13 F).
	ID string
	// Request is the request an ErasureCancelled or a CaseErased acts on.
	Request string
}

// refHistory is a case's events in log order. A reader numbers the events of
// its own view, not these (issue 13 N; see viewFor).
type refHistory []refEvent

// erasureRequest is one erasure request of a case (issue 13 F).
type erasureRequest struct {
	id, org, sub string
	status       string // "pending", "cancelled" or "confirmed"
}

// caseState is what the protocol decides on, derived from a history. Its
// stage is the case's true stage; a reader's decisions use the stage of its
// view instead (issue 13 N; see viewFor).
type caseState struct {
	exists, closed, erased bool
	stage                  string
	consent                map[string]string    // organisation → expires_at ("" for none)
	grants                 map[string]time.Time // "org/sub" → when break-glass was invoked
	wrote                  map[[2]string]bool   // {section, organisation}: it wrote there
	requests               []erasureRequest     // in log order
	// erasedFor lists the organisations that could see the case when it was
	// erased: they get 410 after, everyone else 404 (issue 13 E).
	erasedFor []string
}

// state folds a history into the case state.
func (h refHistory) state() caseState {
	st := caseState{exists: len(h) > 0, consent: map[string]string{}, grants: map[string]time.Time{}, wrote: map[[2]string]bool{}}
	for _, e := range h {
		// A stage moves forward only.
		if s, ok := refStageOf[e.Type]; ok && stageRank(s) > stageRank(st.stage) {
			st.stage = s
		}
		for _, s := range sectionsFedBy(e.Type) {
			st.wrote[[2]string{s, e.Org}] = true
		}
		switch e.Type {
		case "ConsentGiven":
			// The latest consent given to an organisation is the one in force.
			expires, _ := e.Data["expires_at"].(string)
			for _, org := range stringList(e.Data["organisations"]) {
				st.consent[org] = expires
			}
		case "ConsentWithdrawn":
			// all: true revokes every organisation (interp. 7).
			if all, _ := e.Data["all"].(bool); all {
				st.consent = map[string]string{}
			}
			for _, org := range stringList(e.Data["organisations"]) {
				delete(st.consent, org)
			}
		case "BreakGlassInvoked":
			st.grants[e.Org+"/"+e.Sub] = e.At
		case "CaseClosed":
			st.closed = true
		case "ErasureRequested":
			st.requests = append(st.requests, erasureRequest{id: e.ID, org: e.Org, sub: e.Sub, status: "pending"})
		case "ErasureCancelled":
			st.setRequest(e.Request, "cancelled")
		case "CaseErased":
			st.setRequest(e.Request, "confirmed")
			st.erasedFor = st.couldSee(e.At)
			st.erased = true
		}
	}
	return st
}

// setRequest sets the status of an erasure request.
func (st *caseState) setRequest(id, status string) {
	for i := range st.requests {
		if st.requests[i].id == id {
			st.requests[i].status = status
		}
	}
}

// pending says whether an erasure request of the case waits for its
// confirmation (requests do not expire in the model: they last 7 days).
func (st caseState) pending() bool {
	return slices.ContainsFunc(st.requests, func(r erasureRequest) bool { return r.status == "pending" })
}

// couldSee lists the organisations that can see the case at a moment (issue
// 13 E): every organisation of the directory whose profile cell, with its
// consent, stage and role conditions (any role), grants it the profile, plus
// the organisations of users holding an active break-glass grant.
func (st caseState) couldSee(at time.Time) []string {
	var out []string
	for _, org := range refOrgIDs {
		c := cell("profile", refDirectory[org])
		granted := false
		switch c {
		case "✓":
			granted = true
		case "c", "c,sum":
			granted = st.consentCovers(org, at)
		case "t":
			granted = st.fromStage("transition")
		case "own", "–":
		default: // a role cell: some role of the organisation reads it
			granted = true
		}
		for user, since := range st.grants {
			if holder, _, _ := strings.Cut(user, "/"); holder == org && at.Before(since.Add(breakGlassFor)) {
				granted = true
			}
		}
		if granted {
			out = append(out, org)
		}
	}
	return out
}

// consentCovers says whether the participant's consent covers an organisation
// today. expires_at is the first day on which the consent no longer holds,
// dates compared as UTC days (README; interp. 7).
func (st caseState) consentCovers(org string, now time.Time) bool {
	expires, ok := st.consent[org]
	if !ok {
		return false
	}
	today := now.UTC().Format(time.DateOnly)
	return expires == "" || today < expires
}

// stageRank is a stage's place in refStages (-1 for none).
func stageRank(stage string) int { return slices.Index(refStages, stage) }

// fromStage says whether the stage the decision is taken on has reached a
// stage.
func (st caseState) fromStage(stage string) bool {
	return stageRank(st.stage) >= stageRank(stage)
}

// hasGrant says whether this user (organisation and subject: a grant is for
// that user only) holds a break-glass grant on the case, for 60 minutes.
func (st caseState) hasGrant(id identity, now time.Time) bool {
	at, ok := st.grants[id.Agency+"/"+id.Sub]
	return ok && now.Before(at.Add(breakGlassFor))
}

// hasRole says whether an identity holds one of the roles (any role when none
// is asked).
func hasRole(id identity, roles []string) bool {
	if len(roles) == 0 {
		return true
	}
	for _, r := range id.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// refAppend is one write attempt: an append through POST /v1/cases/{id}/events,
// or through the endpoint of its type: POST /v1/cases for CaseOpened,
// /break-glass for BreakGlassInvoked (Text as justification), /erase for
// ErasureRequested (LegalBasis, Reference), /v1/erasures/{id}/confirm for
// CaseErased and .../cancel for ErasureCancelled (Request).
type refAppend struct {
	As             identity
	Type           string
	Data           map[string]any
	Classification string   // as given by the writer ("" for none)
	ShareWith      []string // as given by the writer
	Text           string
	LegalBasis     string
	Reference      string
	// Request names the erasure request to confirm or cancel: "" the case's
	// latest request, "unknown" an id the hub never made.
	Request string
	// Expected is the expected_version to send: "" none, "fresh" the writer's
	// view version, "stale" another number (issue 13 N).
	Expected string
	// ViewVersion is the writer's view version when the write was sent: the
	// number an expected_version was computed from (set by the sender).
	ViewVersion int
}

// inRemit says whether the write table lets an identity append an event type
// (with consent where the table says so).
func inRemit(id identity, eventType string, st caseState, now time.Time) bool {
	for _, wr := range refWriteTable[eventType] {
		if wr.orgType == refDirectory[id.Agency] && hasRole(id, wr.roles) &&
			(!wr.consent || st.consentCovers(id.Agency, now)) {
			return true
		}
	}
	return false
}

// requestOf returns the erasure request a write names: the case's latest, or
// none for "unknown" or when the case has none.
func (a refAppend) requestOf(st caseState) *erasureRequest {
	if a.Request != "" || len(st.requests) == 0 {
		return nil
	}
	return &st.requests[len(st.requests)-1]
}

// expectAppend is the status of a write attempt on a case with this history
// (the protocol's "Write access"; interp. 10): refusals in the order 404, 410,
// 403, 400, 409. A new case is 201, an erasure request 202, its confirmation
// or cancellation 200, any other append 201.
func expectAppend(a refAppend, h refHistory, now time.Time) int {
	st := h.state()
	allowed := inRemit(a.As, a.Type, st, now) // the write table
	switch a.Type {
	case "CaseOpened": // a new case: only the write table applies
		if !allowed {
			return 403
		}
		return 201
	case "ErasureRequested": // POST /v1/cases/{id}/erase (issue 13 E and F)
		switch {
		case !st.exists:
			return 404
		case !allowed: // not a data-protection officer
			// Whoever cannot see the case gets 404 (410 after an erasure
			// for the organisations that could see it); whoever sees it but
			// is no data-protection officer, 403.
			if s := caseGate(a.As, st, now); s != 0 {
				return s
			}
			return 403
		case st.erased:
			return 410 // the officer finds the case, and it is gone
		case !validErasureBody(a):
			return 400
		case st.pending():
			return 409 // one request at a time
		}
		return 202
	case "CaseErased", "ErasureCancelled": // confirm and cancel (issue 13 F)
		r := a.requestOf(st)
		switch {
		case !allowed: // not a data-protection officer
			return 403 // whatever the id: no existence leak
		case r == nil:
			return 404
		case a.Type == "CaseErased" && r.org == a.As.Agency && r.sub == a.As.Sub:
			return 403 // four eyes: the requester cannot confirm
		case r.status != "pending":
			return 409
		case st.erased:
			return 410
		}
		return 200
	}
	// Anything else only on a case the writer can see (interp. 1 and 10).
	if s := caseGate(a.As, st, now); s != 0 {
		return s
	}
	switch {
	case !allowed:
		return 403
	case a.Type == "BreakGlassInvoked" && utf8.RuneCountInString(strings.TrimSpace(a.Text)) < 20:
		return 400 // a justification of at least 20 characters (interp. 6)
	case a.Type == "CaseClosed" && !closureLabelOK(a):
		return 400 // issue 13 N: closure carries no restricting label
	case st.closed:
		return 409 // nothing after CaseClosed but the erasure
	case orderRefused(a, h, now):
		return 409 // issue 18: an order rule, on the writer's view
	case a.Expected == "stale":
		return 409 // a stale expected_version, against the writer's view
	}
	return 201
}

// closureLabelOK says whether a CaseClosed carries a label every writer reads
// (issue 13 N): TLP:CLEAR or TLP:GREEN (or none: GREEN), and no share list.
func closureLabelOK(a refAppend) bool {
	return (a.Classification == "" || a.Classification == tlpClear || a.Classification == tlpGreen) &&
		len(a.ShareWith) == 0
}

// validErasureBody checks an erasure request's body (issue 13 F): a legal
// basis code, a reference of at most 200 characters, required for "other".
func validErasureBody(a refAppend) bool {
	return slices.Contains(refLegalBases, a.LegalBasis) &&
		utf8.RuneCountInString(a.Reference) <= refMaxReference &&
		(a.LegalBasis != "other" || a.Reference != "")
}

// accept turns an accepted write on a case with history h into the event the
// hub stores, with the effective classification and share list. A default
// share list applies only when the writer gave neither a classification nor a
// share list (issue 13 L; interp. 8). id is the hub's id of an erasure
// request (its answer's request_id).
func (a refAppend) accept(h refHistory, at time.Time, id string) refEvent {
	e := refEvent{Type: a.Type, Org: a.As.Agency, Sub: a.As.Sub, TLP: a.Classification,
		ShareWith: slices.Clone(a.ShareWith), Data: a.Data, At: at}
	if e.TLP == "" && len(e.ShareWith) == 0 {
		e.ShareWith = defaultShareWith(a.Type)
	}
	if e.TLP == "" {
		e.TLP = defaultLabel(a.Type)
	}
	switch a.Type {
	case "ErasureRequested":
		e.ID = id
	case "ErasureCancelled", "CaseErased":
		if r := a.requestOf(h.state()); r != nil {
			e.Request = r.id
		}
	}
	return e
}

// stringList reads a JSON list of strings held as []string or []any.
func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		var out []string
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
