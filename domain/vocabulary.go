package domain

import "slices"

// The protocol's vocabulary. Every enumeration here is persisted (in events, in
// access records, in policy data): the lists are append-only, never reorder or
// rename a value.

// OrgType is the type of an organisation in the directory; the protocol's rules
// speak of types.
type OrgType string

// Organisation types.
const (
	OrgPrison        OrgType = "prison"
	OrgProbation     OrgType = "probation"
	OrgIntelligence  OrgType = "intelligence"
	OrgMunicipality  OrgType = "municipality"
	OrgCivilSociety  OrgType = "civil-society"
	OrgFamilySupport OrgType = "family-support"
	OrgOversight     OrgType = "oversight"
	OrgResearch      OrgType = "research"
)

// OrgTypes lists every organisation type.
var OrgTypes = []OrgType{OrgPrison, OrgProbation, OrgIntelligence, OrgMunicipality, OrgCivilSociety, OrgFamilySupport, OrgOversight, OrgResearch}

// Section is one projection of a case, the unit of read access.
type Section string

// Sections of a case.
const (
	SectionProfile       Section = "profile"
	SectionConsent       Section = "consent"
	SectionRisk          Section = "risk"
	SectionNeeds         Section = "needs"
	SectionPlan          Section = "plan"
	SectionInterventions Section = "interventions"
	SectionCounselling   Section = "counselling"
	SectionConferences   Section = "conferences"
	SectionSecurity      Section = "security"
	SectionFamily        Section = "family"
	SectionTransition    Section = "transition"
	SectionOutcomes      Section = "outcomes"
)

// Sections lists every section in the protocol's order.
var Sections = []Section{SectionProfile, SectionConsent, SectionRisk, SectionNeeds, SectionPlan, SectionInterventions, SectionCounselling, SectionConferences, SectionSecurity, SectionFamily, SectionTransition, SectionOutcomes}

// ParseSection returns the section named s, and false if there is none.
func ParseSection(s string) (Section, bool) {
	for _, x := range Sections {
		if string(x) == s {
			return x, true
		}
	}
	return "", false
}

// Stage is where a case stands in its life. Stages only move forward.
type Stage string

// Case stages, in order.
const (
	StageIntake       Stage = "intake"
	StageAssessment   Stage = "assessment"
	StageIntervention Stage = "intervention"
	StageTransition   Stage = "transition"
	StageReleased     Stage = "released"
	StageClosed       Stage = "closed"
)

// Stages lists the stages in order.
var Stages = []Stage{StageIntake, StageAssessment, StageIntervention, StageTransition, StageReleased, StageClosed}

// Rank returns the stage's place in Stages (0 for intake), -1 for an unknown stage.
func (s Stage) Rank() int {
	for i, x := range Stages {
		if x == s {
			return i
		}
	}
	return -1
}

// ParseStage returns the stage named s, and false if there is none.
func ParseStage(s string) (Stage, bool) {
	st := Stage(s)
	return st, st.Rank() >= 0
}

// TLP is a Traffic Light Protocol 2.0 label.
type TLP string

// TLP labels.
const (
	TLPClear       TLP = "TLP:CLEAR"
	TLPGreen       TLP = "TLP:GREEN"
	TLPAmber       TLP = "TLP:AMBER"
	TLPAmberStrict TLP = "TLP:AMBER+STRICT"
	TLPRed         TLP = "TLP:RED"
)

// TLPs lists every label.
var TLPs = []TLP{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// Purpose is why a reader reads.
type Purpose string

// Purposes.
const (
	PurposeCaseManagement Purpose = "case-management"
	PurposeRiskManagement Purpose = "risk-management"
	PurposeReintegration  Purpose = "reintegration"
	PurposeCaseConference Purpose = "case-conference"
	PurposeOversight      Purpose = "oversight"
	PurposeResearch       Purpose = "research"
)

// Purposes lists every purpose.
var Purposes = []Purpose{PurposeCaseManagement, PurposeRiskManagement, PurposeReintegration, PurposeCaseConference, PurposeOversight, PurposeResearch}

// ParsePurpose returns the purpose named s, and false if there is none.
func ParsePurpose(s string) (Purpose, bool) {
	for _, p := range Purposes {
		if string(p) == s {
			return p, true
		}
	}
	return "", false
}

// PracticeCode is a practice code of the EUTEx survey (docs/domain.md,
// "Practice codes").
type PracticeCode string

// Practice is one practice code and its name.
type Practice struct {
	Code PracticeCode
	Name string
}

// Practices lists the practice codes of the EUTEx survey, in code order.
var Practices = []Practice{
	{"01", "Motivational interviewing"},
	{"02", "Cognitive-behavioural approach"},
	{"03", "Biographical work"},
	{"04", "Working alliance (trust building)"},
	{"05", "Anti-aggression / anger management training"},
	{"06", "Therapy"},
	{"07", "Motivation in prison"},
	{"08", "Classic social work"},
	{"09", "Social networks / recognition"},
	{"10", "Involvement of local authorities"},
	{"11", "Mentorship scheme"},
	{"12", "Change talk"},
	{"13", "Deradicalisation (ideology-focused activities)"},
	{"14", "Religious intervention"},
	// The practices the working group named that the survey did not code
	// (docs/domain.md, "Practice codes"): codes of the hub's own.
	{"15", "Systemic approach (family and environment)"},
	{"16", "Schema therapy"},
	{"17", "Psychological support"},
	{"18", "Problem solving"},
	{"19", "Civic and political education"},
	{"20", "Language courses"},
	{"21", "Vocational training"},
	{"22", "Interfaith meetings"},
	{"99", "Not applicable"},
}

// practiceCodes returns the codes of Practices and their names.
func practiceCodes() (codes, names []string) {
	codes, names = make([]string, len(Practices)), make([]string, len(Practices))
	for i, p := range Practices {
		codes[i], names[i] = string(p.Code), p.Name
	}
	return codes, names
}

// PracticeName returns the name of code, and false for an unknown code.
func PracticeName(code PracticeCode) (string, bool) {
	for _, p := range Practices {
		if p.Code == code {
			return p.Name, true
		}
	}
	return "", false
}

// Enumerated values of event data fields (docs/api.md, "Event types and their
// data").
var (
	TargetGroups   = []string{"islamist", "right-wing", "left-wing", "other-ideology", "returnee", "vulnerable"}
	Genders        = []string{"female", "male", "other", "undisclosed"}
	Regimes        = []string{"separation", "dispersion", "mixed"}
	Judgements     = []string{"low", "moderate", "high"}
	NeedAreas      = []string{"housing", "employment", "finances", "relationships", "social-network", "mental-health", "education", "identity", "other"}
	NeedLevels     = []string{"none", "low", "moderate", "high"}
	PlanStages     = []string{"basic-needs", "stabilisation", "identity", "reintegration"}
	Formats        = []string{"individual", "group"}
	Urgencies      = []string{"routine", "urgent", "imminent"}
	RecidivismKind = []string{"none", "non-violent", "violent", "extremist"}
	// Participations says how a person takes part in a programme
	// (docs/domain.md, "The life of a case").
	Participations = []string{"voluntary", "mandated"}
	// GoalStatuses are the states of a treatment plan's goal, in the order a
	// goal moves through them; achieved and dropped are final
	// (docs/domain.md, "The treatment plan").
	GoalStatuses = []string{GoalPlanned, GoalInProgress, GoalAchieved, GoalDropped}
	// RiskChanges say how an assessor judges the risk to have changed since
	// the previous assessment; "first" when there is none.
	RiskChanges = []string{"first", "lower", "unchanged", "higher"}
	// MentoringEndings are the reasons mentoring ends.
	MentoringEndings = []string{"completed", "participant-withdrew", "organisation-withdrew", "transferred", "other"}
	// LegalBases are the legal grounds of an erasure (docs/protocol.md,
	// "Erasure (four eyes)").
	LegalBases = []string{LegalBasisRetention, "subject-request", "court-order", "unlawful-processing", LegalBasisOther}
)

// Legal bases with a meaning of their own to the hub.
const (
	// LegalBasisRetention is the basis of the retention job's erasures.
	LegalBasisRetention = "retention-expired"
	// LegalBasisOther needs a reference saying what the basis is.
	LegalBasisOther = "other"
)

// MaxErasureReference bounds an erasure's reference (a file number, never
// content).
const MaxErasureReference = 200

// Goal statuses with a meaning of their own to the hub.
const (
	GoalPlanned    = "planned"
	GoalInProgress = "in-progress"
	GoalAchieved   = "achieved"
	GoalDropped    = "dropped"
)

// GoalFinal reports whether a goal in status s is closed: achieved or
// dropped. A goal update never reopens it; a later plan that lists it again
// does (docs/domain.md, "The treatment plan").
func GoalFinal(s string) bool { return s == GoalAchieved || s == GoalDropped }

// RiskTool is a structured-professional-judgement instrument as the hub
// knows it (docs/domain.md, "Risk and needs"): its name as an assessment
// records it, the domains its indicators are grouped in, and the scale they
// are rated on. The tool frames the indicators; the overall judgement stays
// the assessor's own, never a score computed from them.
type RiskTool struct {
	// Name is the tool as RiskAssessmentRecorded's tool names it.
	Name string
	// Domains are the tool's domains, in its own order; nil for a tool whose
	// domains the hub does not fix (any reference is a domain).
	Domains []string
	// Scale is the ratings of one indicator, from the least to the most
	// concerning (for protective indicators: from the weakest to the
	// strongest).
	Scale []string
}

// RiskToolOther is the frame of a tool the hub does not know, and of the tool
// recorded as "other": any domain, rated low, moderate or high.
var RiskToolOther = RiskTool{Name: "other", Scale: []string{"low", "moderate", "high"}}

// RiskTools lists the tools the hub knows, each with its domains and scale
// (docs/domain.md, "Risk and needs"). Append-only.
var RiskTools = []RiskTool{
	{Name: "VERA-2R", Domains: []string{"beliefs-attitudes", "context-intent", "history-capability", "commitment-motivation", "protective-resilience"}, Scale: []string{"low", "moderate", "high"}},
	{Name: "ERG22+", Domains: []string{"engagement-identification", "intent", "capability"}, Scale: []string{"not-present", "partly-present", "strongly-present"}},
	{Name: "TRAP-18", Domains: []string{"proximal-warning-behaviours", "distal-characteristics"}, Scale: []string{"absent", "present"}},
	{Name: "RADAR-iTE", Scale: []string{"no", "unknown", "yes"}},
	RiskToolOther,
}

// RiskToolOf returns the frame of the tool named name: one of RiskTools, or
// RiskToolOther for a name the hub does not know.
func RiskToolOf(name string) RiskTool {
	for _, t := range RiskTools {
		if t.Name == name {
			return t
		}
	}
	return RiskToolOther
}

// riskRatings lists every rating of every known tool's scale, once each.
func riskRatings() []string {
	var out []string
	for _, t := range RiskTools {
		for _, v := range t.Scale {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}
