package liaison_test

// An independent reference model of /work/shared/PROTOCOL.md for the
// differential test (TARGETS R3). It is written plainly from the protocol's
// text and tables, and from the interpretations the project documents where the
// protocol is silent (README "Choices made where the protocol is silent", and
// the list in the R3 brief, cited below as "interp. N"). It never calls the
// hub's policy: a reviewer should be able to check every table here against
// PROTOCOL.md line by line.
//
// This file holds the protocol's vocabulary and tables, the case history and
// the case state derived from it, and the write decisions. The read decisions
// are in refmodel_read_test.go.

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Organisation types (PROTOCOL.md "Organisations and roles").
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

// refFeeds is PROTOCOL.md "Sections and the events that feed them". Note that
// ReleaseScheduled feeds both profile and transition, and that
// BreakGlassInvoked and CaseErased feed no section (interp. 9).
var refFeeds = map[string][]string{
	"profile":       {"CaseOpened", "ReleaseScheduled", "Released", "CaseClosed"},
	"consent":       {"ConsentGiven", "ConsentWithdrawn"},
	"risk":          {"RiskAssessmentRecorded"},
	"needs":         {"NeedsAssessmentRecorded"},
	"plan":          {"TreatmentPlanAdopted"},
	"interventions": {"InterventionRecorded"},
	"counselling":   {"CounsellingNoteAdded"},
	"conferences":   {"CaseConferenceHeld"},
	"security":      {"IntelligenceNoteAdded", "RiskDisclosureRaised"},
	"family":        {"FamilyContactRecorded"},
	"transition":    {"TransitionPlanAgreed", "MentorAssigned", "ReleaseScheduled", "ProbationHandoverCompleted"},
	"outcomes":      {"OutcomeRecorded"},
}

// sectionsFedBy returns the sections an event type feeds, in protocol order.
func sectionsFedBy(eventType string) []string {
	var out []string
	for _, s := range refSections {
		if slices.Contains(refFeeds[s], eventType) {
			out = append(out, s)
		}
	}
	return out
}

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
	"Released":                "released",
	"CaseClosed":              "closed",
}

// Cells of the read table: "✓" granted; "c" granted while consent covers the
// reader's organisation; "t" granted from stage transition on; "own" the
// reader's own items only; "c,sum" granted with consent, summary fields only;
// "–" never; "security-officer" granted to that prison role only.
//
// refReadTable is PROTOCOL.md "Read access by organisation type", row by row,
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
// (PROTOCOL.md: indicators, domains, notes and assessor are redacted).
var refSummaryFields = []string{"overall_judgement", "assessed_at", "next_review_due"}

// refPurposes is PROTOCOL.md "Purpose": the purposes each type may read for.
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

// refWriteTable is PROTOCOL.md "Write access". RiskDisclosureRaised ("any
// organisation that can read the case's profile, except oversight and
// research") is every other type: the profile condition is the general
// visibility rule of appends.
var refWriteTable = map[string][]writer{
	"CaseOpened":              {w(prison, "caseworker", "manager"), w(probation)},
	"ConsentGiven":            {w(prison, "caseworker"), w(probation)},
	"ConsentWithdrawn":        {w(prison, "caseworker"), w(probation), w(civilSociety)},
	"RiskAssessmentRecorded":  {w(prison, "psychologist"), w(probation)},
	"NeedsAssessmentRecorded": {w(prison, "caseworker", "psychologist"), w(probation), withConsent(civilSociety)},
	"TreatmentPlanAdopted":    {w(prison, "caseworker", "manager"), w(probation)},
	"InterventionRecorded":    {w(prison), w(probation), withConsent(civilSociety), withConsent(familySupport)},
	"CounsellingNoteAdded":    {w(prison, "psychologist"), w(probation), withConsent(civilSociety), withConsent(familySupport)},
	"CaseConferenceHeld":      {w(prison, "manager"), w(probation), withConsent(municipality)},
	"IntelligenceNoteAdded":   {w(intelligence)},
	"RiskDisclosureRaised": {w(prison), w(probation), w(intelligence), w(municipality),
		w(civilSociety), w(familySupport)},
	"FamilyContactRecorded":      {w(prison, "caseworker"), withConsent(civilSociety), withConsent(familySupport)},
	"TransitionPlanAgreed":       {w(prison, "caseworker", "manager"), w(probation)},
	"MentorAssigned":             {w(probation), withConsent(civilSociety)},
	"ReleaseScheduled":           {w(prison, "caseworker", "manager")},
	"Released":                   {w(prison, "caseworker", "manager")},
	"ProbationHandoverCompleted": {w(probation)},
	"OutcomeRecorded":            {w(probation), withConsent(civilSociety), withConsent(municipality)},
	"CaseClosed":                 {w(prison, "manager"), w(probation)},
	"CaseErased":                 {w(oversight, "dpo")},
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
// (PROTOCOL.md "Classification"; interp. 8).
func defaultLabel(eventType string) string {
	switch eventType {
	case "CounsellingNoteAdded":
		return tlpAmberStrict
	case "IntelligenceNoteAdded", "RiskDisclosureRaised":
		return tlpAmber
	}
	return tlpGreen
}

// defaultShareWith is the share list of an event whose writer names none: for
// RiskDisclosureRaised, every organisation of type intelligence or prison in
// the directory (interp. 8); for anything else, none.
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

// refEvent is one event the hub accepted into a case, as the model keeps it.
type refEvent struct {
	Type      string
	Org       string         // originator organisation id
	Sub       string         // author
	TLP       string         // effective classification
	ShareWith []string       // effective share list
	Data      map[string]any // the data fields present (for redaction and consent)
	At        time.Time      // when the hub accepted it (break-glass grants run from here)
}

// refHistory is a case's events in version order (version = index + 1).
type refHistory []refEvent

// caseState is what the protocol decides on, derived from a history.
type caseState struct {
	exists, closed, erased bool
	stage                  string
	consent                map[string]string          // organisation → expires_at ("" for none)
	grants                 map[string]time.Time       // "org/sub" → when break-glass was invoked
	writers                map[string]map[string]bool // section → organisations that wrote in it
}

// state folds a history into the case state.
func (h refHistory) state() caseState {
	st := caseState{exists: len(h) > 0, consent: map[string]string{}, grants: map[string]time.Time{}, writers: map[string]map[string]bool{}}
	for _, e := range h {
		// A stage moves forward only.
		if s, ok := refStageOf[e.Type]; ok && slices.Index(refStages, s) > slices.Index(refStages, st.stage) {
			st.stage = s
		}
		for _, s := range sectionsFedBy(e.Type) {
			if st.writers[s] == nil {
				st.writers[s] = map[string]bool{}
			}
			st.writers[s][e.Org] = true
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
		case "CaseErased":
			st.erased = true
		}
	}
	return st
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

// fromStage says whether the case has reached a stage.
func (st caseState) fromStage(stage string) bool {
	return slices.Index(refStages, st.stage) >= slices.Index(refStages, stage)
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

// refAppend is one write attempt: an append through POST /v1/cases/{id}/events
// (or POST /v1/cases for CaseOpened, /break-glass for BreakGlassInvoked with
// Text as justification, /erase for CaseErased with Text as legal basis).
type refAppend struct {
	As             identity
	Type           string
	Data           map[string]any
	Classification string   // as given by the writer ("" for the default)
	ShareWith      []string // as given by the writer
	Text           string
	// Expected is the expected_version to send: "" none, "fresh" the case's
	// current version, "stale" one less.
	Expected string
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

// expectAppend is the status of a write attempt on a case with this history
// (PROTOCOL.md "Write access"; interp. 10): refusals in the order 404, 410,
// 403, 400, 409. A new case is 201, an erasure 200, any other append 201.
func expectAppend(a refAppend, h refHistory, now time.Time) int {
	st := h.state()
	switch a.Type {
	case "CaseOpened": // a new case: only the write table applies
		if !inRemit(a.As, a.Type, st, now) {
			return 403
		}
		return 201
	case "CaseErased": // the oversight body erases without reading the case
		switch {
		case !st.exists:
			return 404
		case st.erased:
			return 410
		case !inRemit(a.As, a.Type, st, now):
			return 403
		}
		return 200
	}
	// Anything else only on a case the writer can see (interp. 1 and 10).
	if s := caseGate(a.As, st, now); s != 0 {
		return s
	}
	switch {
	case !inRemit(a.As, a.Type, st, now):
		return 403
	case a.Type == "BreakGlassInvoked" && utf8.RuneCountInString(strings.TrimSpace(a.Text)) < 20:
		return 400 // a justification of at least 20 characters (interp. 6)
	case st.closed:
		return 409 // nothing after CaseClosed but CaseErased
	case a.Expected == "stale":
		return 409 // CONTRACT.md: a stale expected_version
	}
	return 201
}

// accept turns an accepted write into the event the hub stores, with the
// effective classification and share list (interp. 8).
func (a refAppend) accept(at time.Time) refEvent {
	e := refEvent{Type: a.Type, Org: a.As.Agency, Sub: a.As.Sub, TLP: a.Classification,
		ShareWith: slices.Clone(a.ShareWith), Data: a.Data, At: at}
	if e.TLP == "" {
		e.TLP = defaultLabel(a.Type)
	}
	if len(e.ShareWith) == 0 {
		e.ShareWith = defaultShareWith(a.Type)
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
