package demo

import (
	"math/rand/v2"

	"github.com/liaison-hub/liaison/domain"
)

// The phrase tables of the data set. Every text is generic professional
// phrasing: no names of people, no real places; facilities are invented.

var facilities = []string{"JVA Nord", "JVA Süd", "Centre pénitentiaire Ouest", "Centre pénitentiaire Est"}

var programmes = map[string][]string{
	"islamist":       {"DDR individual track", "DDR group programme (20 sessions)", "Exit counselling programme"},
	"right-wing":     {"DDR individual track", "Exit counselling programme", "DDR group programme (20 sessions)"},
	"left-wing":      {"DDR individual track", "Exit counselling programme"},
	"other-ideology": {"DDR individual track", "Exit counselling programme"},
	"returnee":       {"Returnee reintegration track", "DDR individual track"},
	"vulnerable":     {"Prevention group programme (20 sessions)", "Resilience and prevention track"},
}

var protectiveFactors = []string{
	"stable contact with family", "engagement with the exit worker", "vocational qualification in progress",
	"distance from the former network", "openness to other viewpoints", "structured daily routine",
	"supportive partner", "accepts religious counselling", "interest in education", "responsibility for children",
}

var riskNotes = [3][]string{
	{
		"Structured professional judgement: ideological commitment has faded; no contact with extremist networks observed.",
		"Low concern overall. Engages openly in sessions and has distanced himself or herself from the former milieu.",
		"Offence appears driven more by belonging than by ideology; protective factors are strong.",
	},
	{
		"Ambivalent about the ideology; some justifying narratives remain, but motivation to change is visible.",
		"Moderate concern: isolated in the unit and susceptible to peer influence; continue close monitoring.",
		"Attitudes are softening but the social network outside remains largely within the former milieu.",
	},
	{
		"High concern: continues to justify violence and seeks contact with like-minded detainees.",
		"Strong identification with the movement; limited engagement so far; capability factors remain present.",
		"Recent statements glorify attacks; commitment appears stable; review early if behaviour changes.",
	},
}

// needNote returns a short note on an area at a level (0 none … 3 high).
func needNote(r *rand.Rand, area string, level int) string {
	if level == 0 {
		return "No particular need identified."
	}
	notes := needNotes[area]
	if len(notes) == 0 {
		return "Needs follow-up by the case manager."
	}
	return pick(r, notes)
}

var needNotes = map[string][]string{
	"housing":        {"No address to return to after release.", "Former flat was given up during detention.", "May return to the parental home; arrangement uncertain."},
	"employment":     {"No work experience beyond short jobs.", "Interested in a trade apprenticeship.", "Previous employer will not take him or her back."},
	"finances":       {"Significant debts from fines and court costs.", "No bank account; benefits need to be applied for.", "Debt counselling recommended before release."},
	"relationships":  {"Relationship with parents strained since the arrest.", "Partner supportive but under pressure.", "Contact with children is limited and sensitive."},
	"social-network": {"Social network consists mainly of the former milieu.", "Few contacts outside the movement.", "Some old school friends have been in touch."},
	"mental-health":  {"Signs of trauma; referral to the psychologist made.", "Sleep problems and anxiety reported.", "Low mood since sentencing; monitored."},
	"education":      {"Left school without a qualification.", "Wants to complete secondary education.", "Language course recommended."},
	"identity":       {"Search for meaning and belonging is central.", "Strong need for recognition and status.", "Questions of faith and identity are important to the participant."},
	"other":          {"Identity documents need to be renewed.", "Health insurance must be arranged before release."},
}

// goalOption is a plan goal and the organisation responsible for it, with the
// organisation that takes it on when the first one is not covered by consent.
type goalOption struct {
	text, org, fallback string
}

var goalOptions = map[string][]goalOption{
	"basic-needs": {
		{"Build a working alliance with regular, reliable contact.", orgExit, orgPrison},
		{"Secure identity documents and health insurance.", orgMunicipality, orgPrison},
		{"Regular psychological check-ins during the first months.", orgPrison, orgPrison},
	},
	"stabilisation": {
		{"Manage stress and anger in daily life on the unit.", orgPrison, orgPrison},
		{"Prepare the family for the participant's return.", orgFamily, orgPrison},
		{"Start debt counselling and a repayment plan.", orgMunicipality, orgProbation},
	},
	"identity": {
		{"Biographical work on the path into the movement.", orgExit, orgPrison},
		{"Reflect on ideological narratives with a religious counsellor.", orgPrison, orgPrison},
		{"Develop other sources of meaning and belonging.", orgExit, orgPrison},
	},
	"reintegration": {
		{"Secure housing for the day of release.", orgMunicipality, orgProbation},
		{"Complete a vocational training module.", orgPrison, orgPrison},
		{"Find an employment placement after release.", orgMunicipality, orgProbation},
		{"Continue mentoring after release.", orgExit, orgProbation},
		{"Agree a supervision plan with the probation service.", orgProbation, orgProbation},
	},
}

// codeWriters says who delivers each practice; the first that may write is
// chosen at random, else the prison caseworker.
var codeWriters = map[string][]actor{
	"01": {psychologist, mentor}, "02": {psychologist}, "03": {mentor, psychologist}, "04": {mentor, caseworker},
	"05": {caseworker}, "06": {psychologist}, "07": {caseworker}, "08": {caseworker, counsellor, officer},
	"09": {counsellor, mentor}, "10": {caseworker, officer}, "11": {mentor}, "12": {mentor, psychologist},
	"13": {mentor, psychologist}, "14": {caseworker}, "15": {counsellor, mentor}, "16": {psychologist},
	"17": {psychologist}, "18": {caseworker, mentor}, "19": {caseworker, mentor}, "20": {caseworker},
	"21": {caseworker}, "22": {caseworker}, "99": {caseworker},
}

// groupCodes are the practices also run in groups.
var groupCodes = []string{"02", "05", "09", "13", "14", "18", "19", "20", "21", "22", "99"}

// groupProgrammes name the group programmes of the practices run in groups:
// a series of sessions (docs/domain.md, "Practice codes": one French
// programme runs groups of 12 over 20 sessions).
var groupProgrammes = map[string]string{
	"02": "Thinking skills group", "05": "Anger and emotion management group", "09": "Social networks group",
	"13": "Empathy, open-mindedness and media literacy group", "14": "Faith and responsibility group",
	"18": "Problem-solving skills group", "19": "Civic and political education course", "20": "Language course",
	"21": "Vocational training workshop", "22": "Interfaith dialogue circle", "99": "Sports and art workshop",
}

// otherPractices are the practices the working group named beside the
// survey's codes, with the chance that a case receives each, and the target
// groups more likely to (docs/domain.md, "Practice codes").
var otherPractices = []struct {
	code   string
	chance float64
	more   []string
}{
	{"15", 0.10, []string{"vulnerable"}}, {"16", 0.05, nil}, {"17", 0.18, []string{"returnee"}},
	{"18", 0.10, nil}, {"19", 0.12, []string{"right-wing", "left-wing"}}, {"20", 0.08, []string{"returnee"}},
	{"21", 0.25, nil}, {"22", 0.05, []string{"islamist"}},
}

var sessionSummaries = map[string][]string{
	"01": {"Explored ambivalence about leaving the movement; participant named two reasons for change.", "Discussed goals for the coming months; motivation rated higher than at intake."},
	"02": {"Worked on thinking errors around us-versus-them narratives.", "Practised recognising triggers and alternative responses.", "Module on empathy and perspective taking."},
	"03": {"Traced the biography up to the first contact with the movement.", "Reflected on turning points and losses in adolescence."},
	"04": {"Trust-building meeting; agreed on confidentiality and its limits.", "Informal conversation; participant more open than in previous meetings."},
	"05": {"Anger management training: recognising early warning signs.", "Role plays on de-escalation in conflict situations."},
	"06": {"Trauma-focused therapy session.", "Therapy session on grief and guilt."},
	"07": {"Motivational talk about taking part in education on the unit.", "Encouraged participation in the workshop and sports programme."},
	"08": {"Help with benefit applications and correspondence with authorities.", "Planned contact with the family and practical matters before release.", "Support with debt regulation and bank account."},
	"09": {"Mapped the social network and identified supportive contacts.", "Session on recognition outside the movement: sports club, volunteering."},
	"10": {"Joint meeting with the local authority on housing and benefits.", "Coordinated registration with the municipal job centre."},
	"11": {"Meeting with the volunteer mentor; agreed on weekly contact.", "Mentor accompanied participant to an appointment."},
	"12": {"Elicited change talk about a life without violence.", "Reinforced statements about future plans outside the milieu."},
	"13": {"Dialogue on ideological narratives and their contradictions.", "Group session on media literacy and propaganda techniques.", "Discussed counter-narratives with a former member."},
	"14": {"Conversation with the prison imam on interpretations of religious texts.", "Religious counselling on questions of faith and violence.", "Meeting with the chaplain on forgiveness and responsibility."},
	"15": {"Session with the participant and the family on patterns at home.", "Systemic session mapping the environment the participant returns to."},
	"16": {"Schema therapy: worked on the abandonment schema behind the search for belonging.", "Schema therapy session on mistrust and the need for control."},
	"17": {"Psychological support after a bereavement in the family.", "Supportive session on anxiety and sleep problems."},
	"18": {"Problem-solving training: steps from a problem to a plan.", "Worked through a conflict with a neighbour on the unit, step by step."},
	"19": {"Civic education session on democracy and the rule of law.", "Discussion of fundamental rights and how to claim them."},
	"20": {"Language course session.", "Language course: reading official letters."},
	"21": {"Vocational training module in the workshop.", "Vocational training: certificate module completed."},
	"22": {"Interfaith meeting with a chaplain and an imam.", "Interfaith dialogue on shared values."},
	"99": {"Sports programme session.", "Art workshop session."},
}

var counsellingNotes = map[actor][]string{
	psychologist: {
		"Session on sleep problems and stress on the unit; mood stable.",
		"Participant spoke about guilt towards the family; no acute risk indicators.",
		"Explored feelings of humiliation linked to the arrest; agreed to continue weekly.",
		"Worked on coping with uncertainty about the release date.",
		"Participant reflected on the victims of the offence for the first time.",
	},
	officer: {
		"Supervision meeting; reporting conditions respected; discussed job applications.",
		"Reviewed licence conditions; participant understands the restrictions.",
		"Talked about stress since release and how to handle approaches by old contacts.",
		"Prepared the first weeks after release: appointments, reporting, money.",
	},
	mentor: {
		"Talked about pressure from former associates; participant asked for help explaining the exit to the family.",
		"Long conversation about doubts and fears; trust is growing.",
		"Participant described loneliness after leaving the group; planned small steps to new contacts.",
		"Discussed what the participant wants to keep from the past and what to leave behind.",
		"Participant asked many questions about life outside; we talked about realistic expectations.",
		"Difficult meeting; participant tested the limits of confidentiality; agreed to meet again next week.",
	},
	counsellor: {
		"Met the parents; they want to support the return home but fear stigma in the neighbourhood.",
		"Session with the sibling; family communication has improved.",
		"Mother worried about contacts of the participant; discussed warning signs and where to get help.",
		"Partner asked for advice on how to talk with the children about the detention.",
	},
}

var decisions = [4][]string{
	{"Share the assessment results with the partners.", "Offer the voluntary exit programme.", "Ask the intelligence service for an update before the next meeting."},
	{"Continue the treatment plan unchanged.", "Intensify contact with the exit worker.", "Review risk assessment before the next conference.", "Involve the family in the next phase."},
	{"Agree the transition plan.", "Confirm release arrangements and supervision.", "Mentor to meet participant on the day of release."},
	{"Continue supervision and mentoring.", "Reduce contact frequency as progress is stable.", "Escalate support after missed appointments."},
}

var actionTexts = map[string][]string{
	orgPrison:       {"Update the treatment plan.", "Arrange a visit with the family.", "Prepare the release documents."},
	orgProbation:    {"Schedule the first supervision meeting.", "Prepare the pre-release report.", "Review the supervision plan."},
	orgIntelligence: {"Provide an updated threat assessment.", "Check for contacts with known networks."},
	orgMunicipality: {"Find supported housing.", "Register with the job centre.", "Arrange debt counselling."},
	orgExit:         {"Continue weekly mentoring.", "Accompany the participant to appointments.", "Introduce a peer from the alumni group."},
	orgFamily:       {"Hold a family session before release.", "Support the parents with information on the programme."},
}

// afterReleaseActions replace actionTexts at conferences after release.
var afterReleaseActions = map[string][]string{
	orgPrison:       {"Send the remaining release documents to probation."},
	orgProbation:    {"Review the supervision plan.", "Check compliance with licence conditions.", "Increase contact after missed appointments."},
	orgMunicipality: {"Follow up the tenancy application.", "Arrange a meeting at the job centre."},
	orgExit:         {"Continue weekly mentoring.", "Introduce a peer from the alumni group."},
	orgFamily:       {"Offer a family session on the first months at home."},
}

var intelNotes = map[domain.TLP][]string{
	domain.TLPClear: {
		"Public court records confirm the conviction details; nothing further to add.",
		"Open-source check: no public online activity found under known aliases.",
	},
	domain.TLPGreen: {
		"Routine check: no contact with known extremist networks observed in the last quarter.",
		"No indication of propaganda activity inside the facility.",
	},
	domain.TLPAmber: {
		"Indications of renewed contact attempts by a former associate through third parties.",
		"Correspondence received by the participant contains movement symbols; being assessed.",
		"Participant is mentioned in online channels of the former group; no direct activity found.",
	},
	domain.TLPAmberStrict: {
		"Source reporting under evaluation; not for dissemination outside the service.",
		"Sensitive reporting on the former network; handling restricted to the service.",
	},
	domain.TLPRed: {
		"Credible reporting of a planned approach by a recruiter around the release date; security officers briefed.",
		"Specific threat information concerning a staff member; protective measures agreed with the prison.",
	},
}

var gradings = []string{"A2", "B2", "B3", "C3", "F6"}

var concerns = []string{
	"Participant spoke of travelling abroad soon after release; unclear purpose.",
	"Mentioned being contacted again by the former group and feeling under pressure.",
	"Family reports that the participant has started sharing extremist material again.",
	"Expressed anger towards a named institution and talked about revenge.",
	"Participant hinted at access to a weapon through an old contact.",
}

var familyContacts = []struct {
	kind  string
	notes []string
}{
	{"prison visit", []string{"Visit by parents went well; plans for the return discussed.", "Partner and child visited; emotional but constructive."}},
	{"phone call", []string{"Call with a sibling; agreed to meet after release.", "Short call with the mother; relationship improving."}},
	{"family session", []string{"Joint session with parents on expectations after release.", "Family session on communication and trust."}},
	{"home visit", []string{"Visited the family home; room available after release.", "Home visit; family supportive but worried about neighbours."}},
}

var arrangements = []string{
	"Weekly meetings with the mentor during the first three months.",
	"Reporting to probation every two weeks.",
	"Support with benefit applications in the first week.",
	"Debt counselling appointment in the first month.",
	"Family session shortly after release.",
	"Contact ban with named co-offenders.",
}

var housing = []string{"Supported housing place confirmed", "Return to the parental home", "Temporary shelter, search for a flat continues", "Own flat, tenancy signed"}

var employment = []string{"Apprenticeship in a workshop", "Job centre registration and training course", "Continuation of the prison vocational course", "No placement yet; job search with the mentor"}

var outcomeNotes = map[string][]string{
	"none": {
		"Stable; keeps appointments and has distanced himself or herself from the former milieu.",
		"Doing well overall; regular work and contact with family.",
		"Some setbacks with housing, no signs of return to the movement.",
	},
	"non-violent": {
		"New conviction for a property offence; no ideological motive found.",
		"Breach of licence conditions and a minor offence; supervision intensified.",
	},
	"violent":   {"New conviction for assault; no ideological motive established; support continues."},
	"extremist": {"New offence with an extremist motive; exit work failed in this case."},
}

var lostNotes = []string{"No contact since the end of supervision; whereabouts unknown.", "Moved abroad; no further information."}

var hardshipNotes = []string{
	"Citizenship revoked before release; no entitlement to local services; relies on the exit worker alone.",
	"Needs heavy psychological support; isolated and without stable housing.",
}

var closeReasons = []string{"Supervision period ended and follow-up completed", "Programme goals met; no further multi-agency follow-up needed", "Moved to another jurisdiction; file handed to the competent service"}

var earlyCloseReasons = []string{"Participant left the voluntary programme; case management continues outside the hub", "Transferred to a facility outside the programme"}

var reconvictionReasons = []string{"New conviction; follow-up continues under a new case reference"}

var justifications = []string{
	"Imminent risk disclosure received; full case picture needed for an urgent threat assessment.",
	"Reported threat against staff; security review requires the plan and intervention records.",
	"Urgent multi-agency meeting at short notice; needs and plan sections required to assess release risk.",
}

// The structured risk judgement (docs/domain.md, "Risk and needs"): indicator
// codes per domain of each tool the demo uses, the assessor's reasons and
// gender-specific considerations.
var riskIndicators = map[string]map[string][]string{
	"VERA-2R": {
		"beliefs-attitudes": {"BA1", "BA2", "BA3", "BA4", "BA5"}, "context-intent": {"CI1", "CI2", "CI3", "CI4", "CI5"},
		"history-capability": {"HC1", "HC2", "HC3", "HC4", "HC5", "HC6"}, "commitment-motivation": {"CM1", "CM2", "CM3", "CM4", "CM5"},
		"protective-resilience": {"P1", "P2", "P3", "P4", "P5", "P6"},
	},
	"ERG22+": {
		"engagement-identification": {"E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11", "E12", "E13"},
		"intent":                    {"I1", "I2", "I3", "I4", "I5", "I6"}, "capability": {"C1", "C2", "C3"},
	},
}

var riskRationales = [3][]string{
	{"Indicators of commitment are low and protective factors strong; the offence was driven by belonging more than by ideology.", "No intent shown; distance from the milieu confirmed by the exit worker's observations."},
	{"Beliefs are still held, but there is no sign of intent; motivation to change is visible and protective factors are growing.", "Isolation on the unit and contacts outside keep the judgement at moderate despite progress in sessions."},
	{"Justification of violence and search for like-minded detainees outweigh the protective factors.", "Stable commitment and capability indicators; protective factors are weak or absent."},
}

var genderConsiderations = map[string][]string{
	"female": {
		"Role within the milieu was shaped by a partner; dependence on him weighs on the judgement.",
		"Responsibility for children is both a protective factor and a source of pressure from the family of the milieu.",
		"Returned with children; the relationship with them is central to her motivation.",
	},
	"male": {
		"Masculinity norms of the milieu (honour, protection) shape the justification of violence.",
		"Peer dynamics among young men on the unit reinforce the group identity.",
	},
}

var transferReasons = map[string][]string{
	"separation": {"Moved to the separated unit after attempts to recruit other detainees.", "Separation ordered after a security incident."},
	"dispersion": {"Separation order ended; moved to the ordinary regime.", "Transferred to a facility nearer the family."},
	"mixed":      {"Moved to the mixed unit to take part in the group programme.", "Regime eased after a positive review."},
}

var participationReasons = map[string][]string{
	"voluntary": {"Agreed to continue the programme voluntarily once the court's condition lapsed.", "Asked to take part after the first sessions."},
	"mandated":  {"Made a condition of the licence by the court.", "Programme attendance ordered as part of the sentence plan."},
}

var goalNotes = map[string][]string{
	domain.GoalInProgress: {"Work on this goal has started.", "First appointments held; progress is steady.", "Some delay, still on track."},
	domain.GoalAchieved:   {"Goal reached.", "Achieved ahead of the due date.", "Achieved with support from the partners."},
	domain.GoalDropped:    {"Dropped: no longer relevant after the transfer.", "Dropped after the participant declined; to be revisited."},
}

var reviewNotes = []string{
	"Plan reviewed with the participant; basic needs on track, identity work to be intensified.",
	"Review: two goals achieved, housing remains open; next review before the transition plan.",
	"Plan reviewed at the case conference; responsibilities confirmed.",
}

var actionDoneNotes = []string{"Done as agreed.", "Completed; reported at the next conference.", "Done, with a short delay."}

var mentoringEndNotes = map[string][]string{
	"completed":             {"Mentoring ended as planned; the participant keeps contact with the alumni group.", "Agreed end of mentoring after a stable year."},
	"participant-withdrew":  {"The participant ended the mentoring; the door stays open."},
	"organisation-withdrew": {"Mentoring ended for lack of capacity; probation continues the contact."},
}
