// Package demo generates the synthetic multi-agency data set that
// `liaison serve --demo` loads: a few hundred invented DDR cases, each a
// history of events written by the demo identities of the default directory
// (docs/protocol.md, "Organisations and roles").
//
// Nothing in it is a real person's data. Subjects are pseudonyms such as
// DEMO-2026-0001, facilities and programmes are invented, and every text comes
// from generic professional phrasing. Every step is one the default protocol
// allows, in an order and with dates it accepts, because the hub's loader
// appends each step through the real API and policy and stops at the first
// refusal. Consent with an expiry date is never relied on for a write: the
// policy judges expiry against the day the demo is loaded, not the dates
// inside the data set.
//
// The package imports only the standard library.
package demo

import (
	"encoding/json"
	"math/rand/v2"
	"slices"

	"github.com/liaison-hub/liaison/domain"
)

// Step is one event to append, as the given identity.
type Step struct {
	// As is the identity that appends the step (token subject, organisation,
	// roles).
	As domain.Identity
	// Type is the event type.
	Type domain.EventType
	// Data is the event's data object; for CaseOpened it is the body of POST
	// /v1/cases. It is nil for BreakGlassInvoked and CaseErased.
	Data json.RawMessage
	// Classification is the TLP label; "" means the protocol's default.
	Classification domain.TLP
	// ShareWith lists the organisations the originator shares the event with.
	ShareWith []string
	// Justification is the body of a BreakGlassInvoked step (POST
	// /v1/cases/{id}/break-glass), or the legal basis of a CaseErased step.
	Justification string
}

// Case is one case's history, in order; Steps[0] is CaseOpened.
type Case struct {
	Steps []Step
}

// Persona is one demo user: the identity a development token is issued for,
// a label for the web console's sign-in list, and a sensible default purpose
// that the protocol allows the user's organisation type.
type Persona struct {
	Identity domain.Identity
	Label    string
	Purpose  domain.Purpose
}

// Organisation ids of the demo directory (docs/protocol.md, "Organisations and
// roles").
const (
	orgPrison       = "prison-service"
	orgProbation    = "probation-service"
	orgIntelligence = "intelligence-service"
	orgMunicipality = "municipality"
	orgExit         = "exit-ngo"
	orgFamily       = "family-support"
	orgOversight    = "oversight-board"
	orgResearch     = "research-institute"
)

// Directory returns the demo organisation directory: the eight organisations
// of the default directory (docs/protocol.md, "Organisations and roles") and
// their types. Every generated step validates against it.
func Directory() domain.MapDirectory {
	return domain.MapDirectory{
		orgPrison:       domain.OrgPrison,
		orgProbation:    domain.OrgProbation,
		orgIntelligence: domain.OrgIntelligence,
		orgMunicipality: domain.OrgMunicipality,
		orgExit:         domain.OrgCivilSociety,
		orgFamily:       domain.OrgFamilySupport,
		orgOversight:    domain.OrgOversight,
		orgResearch:     domain.OrgResearch,
	}
}

// actor is a kind of demo user: one organisation and one role.
type actor int

const (
	caseworker   actor = iota // prison-service caseworker
	psychologist              // prison-service psychologist
	security                  // prison-service security-officer
	manager                   // prison-service manager
	officer                   // probation-service officer
	analyst                   // intelligence-service analyst
	coordinator               // municipality coordinator
	mentor                    // exit-ngo mentor
	counsellor                // family-support counsellor
	auditor                   // oversight-board auditor
	dpo                       // oversight-board dpo
	researcher                // research-institute researcher
	numActors
)

// actorOrg and actorRole give each actor's organisation and role.
var (
	actorOrg = [numActors]string{orgPrison, orgPrison, orgPrison, orgPrison, orgProbation, orgIntelligence,
		orgMunicipality, orgExit, orgFamily, orgOversight, orgOversight, orgResearch}
	actorRole = [numActors]string{"caseworker", "psychologist", "security-officer", "manager", "officer", "analyst",
		"coordinator", "mentor", "counsellor", "auditor", "dpo", "researcher"}
)

// member is one demo user of an actor kind.
type member struct {
	actor   actor
	name    string // first name, used in the subject and the label only
	label   string
	purpose domain.Purpose
}

// members lists the demo users. Their names appear in labels and token
// subjects, never in event data.
var members = []member{
	{caseworker, "anna", "Anna — prison caseworker", domain.PurposeCaseManagement},
	{caseworker, "ben", "Ben — prison caseworker", domain.PurposeCaseManagement},
	{psychologist, "clara", "Clara — prison psychologist", domain.PurposeCaseManagement},
	{psychologist, "daniel", "Daniel — prison psychologist", domain.PurposeCaseManagement},
	{security, "emil", "Emil — prison security officer", domain.PurposeRiskManagement},
	{manager, "frida", "Frida — prison manager", domain.PurposeCaseManagement},
	{officer, "greta", "Greta — probation officer", domain.PurposeCaseManagement},
	{officer, "hamid", "Hamid — probation officer", domain.PurposeCaseManagement},
	{analyst, "ivo", "Ivo — intelligence analyst", domain.PurposeRiskManagement},
	{analyst, "jana", "Jana — intelligence analyst", domain.PurposeRiskManagement},
	{coordinator, "karin", "Karin — municipality coordinator", domain.PurposeReintegration},
	{mentor, "leon", "Leon — exit worker (NGO mentor)", domain.PurposeReintegration},
	{mentor, "mira", "Mira — exit worker (NGO mentor)", domain.PurposeReintegration},
	{counsellor, "nora", "Nora — family-support counsellor", domain.PurposeReintegration},
	{auditor, "olaf", "Olaf — oversight auditor", domain.PurposeOversight},
	{dpo, "petra", "Petra — data-protection officer", domain.PurposeOversight},
	{researcher, "quentin", "Quentin — researcher", domain.PurposeResearch},
}

func (m member) identity() domain.Identity {
	a := m.actor
	return domain.Identity{Subject: m.name + "@" + actorOrg[a], Agency: actorOrg[a], Roles: []string{actorRole[a]}}
}

// Identities returns the demo identities: at least one user per organisation
// and role of the default directory (docs/protocol.md, "Organisations and
// roles"), each with a sign-in label and a
// default purpose. The result is a fresh copy on every call.
func Identities() []Persona {
	out := make([]Persona, len(members))
	for i, m := range members {
		out[i] = Persona{Identity: m.identity(), Label: m.label, Purpose: m.purpose}
	}
	return out
}

// Generate returns n synthetic cases (none when n ≤ 0). The same seed and n
// give the same cases, byte for byte; different seeds give different ones.
// Case attributes (stage, target group, gender, regime, consent pattern,
// withdrawal, break-glass, recidivism) are drawn by quota so that their
// proportions hold for any n; everything else is drawn per case.
func Generate(seed uint64, n int) []Case {
	if n <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0x6c696169736f6e)) // "liaison"
	profiles := allocate(r, n)
	cases := make([]Case, n)
	for i := range cases {
		cr := rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
		cases[i] = Case{Steps: newBuilder(cr, i, profiles[i]).build()}
	}
	return cases
}

// Final stages and their weights: most cases in assessment, intervention and
// transition; some released with outcomes; a few closed.
var (
	stageKinds   = []domain.Stage{domain.StageIntake, domain.StageAssessment, domain.StageIntervention, domain.StageTransition, domain.StageReleased, domain.StageClosed}
	stageWeights = []int{6, 16, 32, 18, 18, 10}
	groupWeights = []int{44, 22, 5, 6, 13, 10} // domain.TargetGroups order
	genderWts    = []int{15, 79, 2, 4}         // domain.Genders order
	regimeWts    = []int{35, 45, 20}           // domain.Regimes order
)

// Consent patterns at intake: which organisations the participant agrees to
// share with, without expiry. The last pattern is "no consent given".
var (
	consentPatterns = [][]string{
		{orgMunicipality, orgExit, orgFamily},
		{orgExit, orgFamily},
		{orgMunicipality, orgExit},
		{orgExit},
		{orgFamily},
		{orgMunicipality},
		nil,
	}
	consentWeights = []int{42, 20, 10, 8, 5, 3, 12}
)

// Withdrawal plans: none, one organisation, all.
const (
	withdrawNone = iota
	withdrawOne
	withdrawAll
)

// profile is what the quotas decide about one case.
type profile struct {
	stage      domain.Stage
	earlyClose bool // closed during the intervention phase, before release
	group      string
	gender     string
	regime     string
	consent    []string
	expiring   bool // a time-limited consent for an organisation not covered
	withdraw   int
	breakGlass bool
	recidivism string // for cases that reach release
	practice   int    // index into practiceCodes: the case's main practice
}

// allocate draws every case's profile by quota.
func allocate(r *rand.Rand, n int) []profile {
	ps := make([]profile, n)
	stages := quota(r, n, stageWeights)
	groups := quota(r, n, groupWeights)
	genders := quota(r, n, genderWts)
	regimes := quota(r, n, regimeWts)
	consents := quota(r, n, consentWeights)
	expiring := quota(r, n, []int{82, 18})
	withdraw := quota(r, n, []int{86, 10, 4})
	glass := quota(r, n, []int{97, 3})
	var closed, released, treated []int
	for i := range ps {
		ps[i] = profile{
			stage: stageKinds[stages[i]], group: domain.TargetGroups[groups[i]], gender: domain.Genders[genders[i]],
			regime: domain.Regimes[regimes[i]], consent: consentPatterns[consents[i]], expiring: expiring[i] == 1,
			withdraw: withdraw[i], breakGlass: glass[i] == 1, recidivism: "none",
		}
		if ps[i].stage == domain.StageClosed {
			closed = append(closed, i)
		}
		if ps[i].stage == domain.StageReleased {
			released = append(released, i)
		}
		if ps[i].stage.Rank() >= domain.StageIntervention.Rank() {
			treated = append(treated, i)
		}
	}
	// The main practice of the cases that reach the intervention stage follows
	// the survey's frequencies exactly; further practices are drawn per case.
	for k, code := range quota(r, len(treated), practiceFreq) {
		ps[treated[k]].practice = code
	}
	for k, early := range quota(r, len(closed), []int{70, 30}) {
		if early == 1 {
			ps[closed[k]].earlyClose = true
			ps[closed[k]].withdraw = withdrawAll
		} else {
			released = append(released, closed[k])
		}
	}
	slices.Sort(released)
	for k, kind := range quota(r, len(released), []int{84, 10, 4, 2}) {
		ps[released[k]].recidivism = domain.RecidivismKind[kind]
	}
	return ps
}

// quota returns n category indices, shuffled, whose counts follow weights by
// the largest-remainder method; when n allows, every positive weight gets at
// least one.
func quota(r *rand.Rand, n int, weights []int) []int {
	total := 0
	for _, w := range weights {
		total += w
	}
	counts := make([]int, len(weights))
	rem := make([]int, len(weights))
	given := 0
	for i, w := range weights {
		counts[i] = n * w / total
		rem[i] = n * w % total
		if counts[i] == 0 && w > 0 && n >= len(weights) {
			counts[i], rem[i] = 1, -1
		}
		given += counts[i]
	}
	for given > n { // the minimums overshot: take from the largest
		i := slices.Index(counts, slices.Max(counts))
		counts[i]--
		given--
	}
	for given < n {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		counts[best]++
		rem[best] = -1
		given++
	}
	out := make([]int, 0, n)
	for i, c := range counts {
		for range c {
			out = append(out, i)
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// pick returns a random element of xs.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn with the given weights.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// between returns a random integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }
