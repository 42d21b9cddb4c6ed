package demo

import (
	"fmt"
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// consentable lists the organisations that read and write only with the
// participant's consent, in a fixed order.
var consentable = []string{orgMunicipality, orgExit, orgFamily}

// The acts below each append at most one step. Each decides at run time who
// writes it among the actors the protocol allows, and does nothing when none
// may (consent withdrawn, say).

func (b *builder) open(tl timeline) {
	a, _ := b.choose([]actor{caseworker, manager, officer}, []int{85, 8, 7})
	facility := facilities[b.idx%len(facilities)]
	if b.p.regime == "separation" && chance(b.r, 0.5) {
		facility += ", separated unit"
	}
	b.participation = "voluntary"
	if chance(b.r, 0.18) {
		b.participation = "mandated"
	}
	b.add(a, domain.CaseOpened, domain.CaseOpenedData{
		SubjectRef:    fmt.Sprintf("DEMO-%d-%04d", tl.starts[0].Year(), b.idx+1),
		TargetGroup:   b.p.group,
		Gender:        b.p.gender,
		Facility:      facility,
		Regime:        b.p.regime,
		Programme:     pick(b.r, programmes[b.p.group]),
		SentenceEnd:   future(tl.sentenceEnd),
		Participation: b.participation,
	}, "")
}

// participationChange records that participation became mandated (a
// condition of the licence) or voluntary (the person chose to go on).
func (b *builder) participationChange(t time.Time) {
	if b.out {
		return
	}
	to := "mandated"
	if b.participation == "mandated" {
		to = "voluntary"
	}
	a, _ := b.choose([]actor{caseworker, manager, officer}, []int{60, 20, 20})
	b.participation = to
	b.add(a, domain.ParticipationChanged, domain.ParticipationChangedData{Participation: to, Date: day(t), Reason: pick(b.r, participationReasons[to])}, "")
}

// transfer moves the person to another regime (and, often, another
// facility) while in detention.
func (b *builder) transfer(t time.Time) {
	if b.out {
		return
	}
	var to string
	switch b.regime {
	case "separation":
		to = pick(b.r, []string{"dispersion", "mixed"})
	case "dispersion":
		to = pick(b.r, []string{"separation", "mixed"})
	default:
		to = pick(b.r, []string{"separation", "dispersion"})
	}
	facility := pick(b.r, facilities)
	if to == "separation" {
		facility += ", separated unit"
	}
	a, _ := b.choose([]actor{caseworker, manager}, []int{70, 30})
	b.regime = to
	b.add(a, domain.Transferred, domain.TransferredData{Date: day(t), Facility: facility, Regime: to, Reason: pick(b.r, transferReasons[to])}, "")
}

func (b *builder) giveConsent(t time.Time, orgs []string, expires string) {
	a, _ := b.choose([]actor{caseworker, officer}, []int{80, 20})
	b.add(a, domain.ConsentGiven, domain.ConsentGivenData{
		Organisations: slices.Clone(orgs),
		ExpiresAt:     expires,
		FormRef:       fmt.Sprintf("CF-%d-%04d", t.Year(), b.r.IntN(10000)),
	}, "")
}

// uncovered returns the consent-gated organisations in state want.
func (b *builder) inState(want ...int) []string {
	var out []string
	for _, org := range consentable {
		if slices.Contains(want, b.consent[org]) {
			out = append(out, org)
		}
	}
	return out
}

// expiringConsent gives time-limited consent to one organisation not yet
// covered. The demo never relies on it for a write: the hub judges expiry
// against the day it loads the demo.
func (b *builder) expiringConsent(t time.Time) {
	if orgs := b.inState(consentNone); len(orgs) > 0 {
		b.giveConsent(t, []string{pick(b.r, orgs)}, future(t.AddDate(0, 0, between(b.r, 180, 540))))
	}
}

// extendConsent gives open consent to one more organisation (the participant
// agrees to share more once trust has grown).
func (b *builder) extendConsent(t time.Time) {
	if orgs := b.inState(consentNone, consentExpiring); len(orgs) > 0 {
		b.giveConsent(t, []string{pick(b.r, orgs)}, "")
	}
}

func (b *builder) withdraw(t time.Time, kind int) {
	covered := b.inState(consentOpen, consentExpiring)
	if len(covered) == 0 {
		return
	}
	a, _ := b.choose([]actor{caseworker, officer, mentor}, []int{50, 20, 30})
	d := domain.ConsentWithdrawnData{All: true}
	if kind == withdrawOne {
		d = domain.ConsentWithdrawnData{Organisations: []string{pick(b.r, covered)}}
	}
	b.add(a, domain.ConsentWithdrawn, d, "")
}

func (b *builder) riskAssessment(t time.Time, cands []actor, w []int) {
	a, ok := b.choose(cands, w)
	if !ok {
		return
	}
	change := "first"
	if b.rated {
		b.prevRisk = b.risk
		switch x := b.r.IntN(10); {
		case x < 4 && b.risk > 0:
			b.risk--
		case x == 9 && b.risk < 2:
			b.risk++
		}
		change = "unchanged"
		switch {
		case b.risk < b.prevRisk:
			change = "lower"
		case b.risk > b.prevRisk:
			change = "higher"
		}
	}
	b.rated = true
	// The indicators of the case's tool, grouped by its domains and rated on
	// its scale around the assessor's judgement; the judgement stays the
	// assessor's own.
	tool := domain.RiskToolOf(b.tool)
	var indicators []domain.Indicator
	var domains map[string]string
	if b.tool == "VERA-2R" {
		domains = map[string]string{}
	}
	for _, name := range tool.Domains {
		level := b.risk + weighted(b.r, []int{25, 50, 25}) - 1
		if name == "protective-resilience" {
			level = 2 - level
		}
		level = min(2, max(0, level))
		if domains != nil {
			domains[name] = domain.Judgements[level]
		}
		codes := slices.Clone(riskIndicators[b.tool][name])
		b.r.Shuffle(len(codes), func(i, j int) { codes[i], codes[j] = codes[j], codes[i] })
		for _, code := range codes[:between(b.r, 1, min(3, len(codes)))] {
			rating := min(2, max(0, level+weighted(b.r, []int{20, 60, 20})-1))
			indicators = append(indicators, domain.Indicator{Domain: name, Indicator: code, Rating: tool.Scale[min(rating, len(tool.Scale)-1)]})
		}
	}
	factors := slices.Clone(protectiveFactors)
	b.r.Shuffle(len(factors), func(i, j int) { factors[i], factors[j] = factors[j], factors[i] })
	d := domain.RiskAssessmentData{
		Tool:                b.tool,
		AssessedAt:          day(t),
		OverallJudgement:    domain.Judgements[b.risk],
		Domains:             domains,
		ProtectiveFactors:   factors[:between(b.r, 1, 3)],
		Notes:               pick(b.r, riskNotes[b.risk]),
		NextReviewDue:       future(t.AddDate(0, 6, 0)),
		Indicators:          indicators,
		JudgementRationale:  pick(b.r, riskRationales[b.risk]),
		ChangeSincePrevious: change,
	}
	if texts := genderConsiderations[b.p.gender]; len(texts) > 0 && (b.p.gender == "female" || chance(b.r, 0.2)) {
		d.GenderConsiderations = pick(b.r, texts)
	}
	if chance(b.r, 0.15) {
		b.add(a, domain.RiskAssessmentRecorded, d, domain.TLPAmber, orgPrison, orgProbation, orgIntelligence)
		return
	}
	b.add(a, domain.RiskAssessmentRecorded, d, "")
}

func (b *builder) needsAssessment(t time.Time, cands []actor, w []int) {
	a, ok := b.choose(cands, w)
	if !ok {
		return
	}
	areas := slices.Clone(domain.NeedAreas)
	b.r.Shuffle(len(areas), func(i, j int) { areas[i], areas[j] = areas[j], areas[i] })
	var needs []domain.Need
	for _, area := range areas[:between(b.r, 4, 7)] {
		level := weighted(b.r, []int{10, 30, 35, 25})
		needs = append(needs, domain.Need{Area: area, Level: domain.NeedLevels[level], Note: needNote(b.r, area, level)})
		b.assessed[area] = true
		if a == officer {
			b.assessedByProbation[area] = true
		}
	}
	b.add(a, domain.NeedsAssessmentRecorded, domain.NeedsAssessmentData{Needs: needs}, "")
}

// goalNeeds are the need areas a goal at each level of the hierarchy of
// needs answers, and goalRisk the domains of each tool it addresses.
var (
	goalNeeds = map[string][]string{
		"basic-needs":   {"housing", "finances", "other"},
		"stabilisation": {"mental-health", "relationships"},
		"identity":      {"identity"},
		"reintegration": {"employment", "education", "social-network", "housing"},
	}
	goalRisk = map[string]map[string]string{
		"VERA-2R": {"stabilisation": "commitment-motivation", "identity": "beliefs-attitudes", "reintegration": "protective-resilience"},
		"ERG22+":  {"identity": "engagement-identification", "stabilisation": "intent"},
	}
)

// treatmentPlan adopts the plan: goals on every level of the hierarchy of
// needs, each linked to the assessed needs it answers (those the writer can
// read: probation reads the prison's needs assessments only from the
// transition on) and to a risk domain of the case's tool.
func (b *builder) treatmentPlan(t time.Time) {
	a, _ := b.choose([]actor{caseworker, manager, officer}, []int{60, 25, 15})
	seen := b.assessed
	if a == officer && !b.transition {
		seen = b.assessedByProbation
	}
	var goals []domain.Goal
	b.goals = nil
	for i, stage := range domain.PlanStages {
		options := slices.Clone(goalOptions[stage])
		b.r.Shuffle(len(options), func(i, j int) { options[i], options[j] = options[j], options[i] })
		for _, g := range options[:between(b.r, 1, 2)] {
			org := g.org
			if slices.Contains(consentable, org) && !b.holds(org) {
				org = g.fallback
			}
			due := t.AddDate(0, 2+3*i+b.r.IntN(3), 0)
			goal := domain.Goal{Stage: stage, Description: g.text, Responsible: org, Due: future(due),
				ID: fmt.Sprintf("G%d", len(goals)+1), Status: domain.GoalPlanned}
			for _, area := range goalNeeds[stage] {
				if seen[area] && len(goal.Needs) < 2 {
					goal.Needs = append(goal.Needs, area)
				}
			}
			if d := goalRisk[b.tool][stage]; d != "" && chance(b.r, 0.6) {
				goal.RiskDomains = []string{d}
			}
			goals = append(goals, goal)
			b.goals = append(b.goals, &demoGoal{id: goal.ID, org: org, status: domain.GoalPlanned})
		}
	}
	b.add(a, domain.TreatmentPlanAdopted, domain.TreatmentPlanData{Goals: goals, NextReviewDue: future(t.AddDate(0, 6, 0))}, "")
}

// goalWriter is the actor who moves a goal: the responsible organisation's,
// when it may write and reads the plan now, else the prison caseworker.
func (b *builder) goalWriter(org string) actor {
	switch org {
	case orgProbation:
		if b.transition && b.can(officer) {
			return officer
		}
	case orgMunicipality:
		if b.can(coordinator) {
			return coordinator
		}
	case orgExit:
		if b.can(mentor) {
			return mentor
		}
	case orgFamily:
		if b.can(counsellor) {
			return counsellor
		}
	}
	return caseworker
}

// goalUpdate moves one open goal on: planned to in progress, in progress to
// achieved (mostly), dropped, or a note that it goes on.
func (b *builder) goalUpdate(t time.Time) {
	var open []*demoGoal
	for _, g := range b.goals {
		if !domain.GoalFinal(g.status) {
			open = append(open, g)
		}
	}
	if len(open) == 0 || b.closed {
		return
	}
	g := pick(b.r, open)
	to := domain.GoalInProgress
	if g.status == domain.GoalInProgress {
		to = []string{domain.GoalAchieved, domain.GoalDropped, domain.GoalInProgress}[weighted(b.r, []int{60, 12, 28})]
	}
	g.status = to
	b.add(b.goalWriter(g.org), domain.GoalUpdated, domain.GoalUpdatedData{GoalID: g.id, Status: to, Date: day(t), Note: pick(b.r, goalNotes[to])}, "")
}

// planReview reviews the plan, by the prison or, once it reads the plan, by
// probation.
func (b *builder) planReview(t time.Time) {
	if len(b.goals) == 0 {
		return
	}
	cands, w := []actor{caseworker, manager}, []int{70, 30}
	if b.transition {
		cands, w = append(cands, officer), append(w, 40)
	}
	a, ok := b.choose(cands, w)
	if !ok {
		return
	}
	b.add(a, domain.PlanReviewed, domain.PlanReviewedData{Date: day(t), Note: pick(b.r, reviewNotes), NextReviewDue: future(t.AddDate(0, 6, 0))}, "")
}

func (b *builder) intervention(t time.Time, code string, afterRelease bool) {
	var a actor
	switch {
	case afterRelease && slices.Contains(codeWriters[code], mentor) && b.can(mentor):
		a = mentor
	case afterRelease:
		a = officer
	default:
		cands := codeWriters[code]
		var ok bool
		if a, ok = b.choose(cands, ones(len(cands))); !ok {
			a = caseworker
		}
	}
	format, minutes := "individual", pick(b.r, []int{45, 60, 60, 90})
	d := domain.InterventionData{PracticeCode: code, Date: day(t), Summary: pick(b.r, sessionSummaries[code])}
	if slices.Contains(groupCodes, code) && chance(b.r, 0.5) && !afterRelease {
		// A group series: a programme of 20 sessions in groups of up to 12,
		// extremist and ordinary offenders together.
		format, minutes = "group", pick(b.r, []int{90, 120, 120, 180})
		b.series[code]++
		n, length, size := b.series[code], 20, between(b.r, 6, 12)
		if n > length {
			b.series[code], n = 1, 1
		}
		d.GroupSize, d.Programme, d.SessionNumber, d.SeriesLength = &size, groupProgrammes[code], &n, &length
		d.SeriesRef = fmt.Sprintf("S-%s-%s", code, facilityCode(b.idx))
	}
	d.Format, d.DurationMinutes = format, &minutes
	b.add(a, domain.InterventionRecorded, d, "")
}

// facilityCode names a group series of the case's facility and year (series
// are run per facility; the case's index picks one of a few).
func facilityCode(idx int) string { return fmt.Sprintf("F%d", idx%4+1) }

func btoi(x bool) int {
	if x {
		return 1
	}
	return 0
}

func ones(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func (b *builder) counselling(t time.Time) {
	cands, w := []actor{psychologist, officer, mentor, counsellor}, []int{4, 1, 4, 2}
	if b.out {
		cands, w = []actor{officer, mentor, counsellor}, []int{3, 4, 2}
	}
	if a, ok := b.choose(cands, w); ok {
		b.add(a, domain.CounsellingNoteAdded, domain.CounsellingNoteData{Date: day(t), Note: pick(b.r, counsellingNotes[a])}, "")
	}
}

// Kinds of case conference.
const (
	confIntake = iota
	confReview
	confPreRelease
	confPostRelease
)

func (b *builder) conference(t time.Time, kind int) {
	parts := []string{orgPrison, orgProbation}
	if kind == confPostRelease {
		parts = []string{orgProbation}
		if chance(b.r, 0.3) {
			parts = append(parts, orgPrison)
		}
	} else if kind == confIntake && chance(b.r, 0.4) {
		parts = []string{orgPrison}
	}
	intel := chance(b.r, 0.25+0.15*float64(b.risk))
	if intel {
		parts = append(parts, orgIntelligence)
	}
	for _, org := range consentable {
		if b.holds(org) && chance(b.r, 0.7) {
			parts = append(parts, org)
		}
	}
	var cands []actor
	var w []int
	for i, org := range []string{orgPrison, orgProbation, orgMunicipality} {
		if slices.Contains(parts, org) {
			cands = append(cands, []actor{manager, officer, coordinator}[i])
			w = append(w, []int{70, 20 + 50*btoi(kind == confPostRelease), 10 + 20*btoi(kind == confPostRelease)}[i])
		}
	}
	a, ok := b.choose(cands, w)
	if !ok {
		return
	}
	decs := slices.Clone(decisions[kind])
	b.r.Shuffle(len(decs), func(i, j int) { decs[i], decs[j] = decs[j], decs[i] })
	var acts []domain.Action
	amber := intel && chance(b.r, 0.3)
	for range between(b.r, 1, 3) {
		owner := pick(b.r, parts)
		texts := actionTexts[owner]
		if kind == confPostRelease && afterReleaseActions[owner] != nil {
			texts = afterReleaseActions[owner]
		}
		due := t.AddDate(0, 0, between(b.r, 14, 90))
		id := fmt.Sprintf("A%d", len(b.actions)+1)
		acts = append(acts, domain.Action{Owner: owner, Description: pick(b.r, texts), Due: future(due), ID: id})
		b.actions = append(b.actions, &demoAction{id: id, owner: owner, due: due, amber: amber})
	}
	d := domain.CaseConferenceData{Date: day(t), Participants: parts, Decisions: decs[:between(b.r, 1, 3)], Actions: acts}
	if amber {
		b.add(a, domain.CaseConferenceHeld, d, domain.TLPAmber, orgPrison, orgProbation, orgIntelligence)
		return
	}
	b.add(a, domain.CaseConferenceHeld, d, "")
}

// actionWriter is the actor who marks an action done: its owner's, when it
// may write and reads the conference now, else the prison caseworker (who
// reads every conference); false when none may.
func (b *builder) actionWriter(x *demoAction) (actor, bool) {
	switch x.owner {
	case orgProbation:
		if b.transition && b.can(officer) {
			return officer, true
		}
	case orgIntelligence:
		return analyst, !b.closed
	case orgMunicipality:
		if !x.amber && b.can(coordinator) {
			return coordinator, true
		}
	case orgExit:
		if !x.amber && b.can(mentor) {
			return mentor, true
		}
	}
	return caseworker, !b.closed
}

// completeActions marks done, most of the time, the open actions whose due
// date is near or past.
func (b *builder) completeActions(t time.Time) {
	for _, x := range b.actions {
		if x.done || x.due.After(t.AddDate(0, 0, 30)) || !chance(b.r, 0.7) {
			continue
		}
		a, ok := b.actionWriter(x)
		if !ok {
			continue
		}
		x.done = true
		b.add(a, domain.ConferenceActionCompleted, domain.ConferenceActionCompletedData{ActionID: x.id, Date: day(t), Note: pick(b.r, actionDoneNotes)}, "")
	}
}

// intelLabels is the mix of classifications on intelligence notes: every TLP
// level, AMBER with and without a share list, RED always with one.
var intelLabels = []struct {
	tlp    domain.TLP
	share  []string
	weight int
}{
	{domain.TLPClear, nil, 8},
	{domain.TLPGreen, nil, 12},
	{"", nil, 14}, // the protocol's default, TLP:AMBER
	{domain.TLPAmber, nil, 12},
	{domain.TLPAmber, []string{orgPrison}, 14},
	{domain.TLPAmber, []string{orgPrison, orgProbation}, 10},
	{domain.TLPAmberStrict, nil, 15},
	{domain.TLPRed, []string{orgPrison}, 10},
	{domain.TLPRed, []string{orgPrison, orgProbation}, 5},
}

func (b *builder) intelNote(t time.Time) {
	w := make([]int, len(intelLabels))
	for i, l := range intelLabels {
		w[i] = l.weight
	}
	l := intelLabels[weighted(b.r, w)]
	level := l.tlp
	if level == "" {
		level = domain.TLPAmber
	}
	d := domain.IntelligenceNoteData{Note: pick(b.r, intelNotes[level]), SourceGrading: pick(b.r, gradings), AssessedAt: day(t)}
	b.add(analyst, domain.IntelligenceNoteAdded, d, l.tlp, slices.Clone(l.share)...)
}

func (b *builder) disclosure(time.Time) {
	a, ok := b.choose([]actor{mentor, counsellor}, []int{3, 2})
	if !ok {
		return
	}
	d := domain.RiskDisclosureData{Concern: pick(b.r, concerns), Urgency: domain.Urgencies[weighted(b.r, []int{60, 30, 10})]}
	switch weighted(b.r, []int{70, 20, 10}) {
	case 0:
		b.add(a, domain.RiskDisclosureRaised, d, "") // AMBER to intelligence and prison
	case 1:
		b.add(a, domain.RiskDisclosureRaised, d, domain.TLPRed, orgIntelligence, orgPrison)
	default:
		b.add(a, domain.RiskDisclosureRaised, d, domain.TLPAmber, orgIntelligence)
	}
}

func (b *builder) familyContact(t time.Time) {
	cands, w := []actor{caseworker, counsellor, mentor}, []int{3, 4, 2}
	if b.out {
		cands, w = []actor{counsellor, mentor}, []int{2, 1}
	}
	if a, ok := b.choose(cands, w); ok {
		c := pick(b.r, familyContacts)
		b.add(a, domain.FamilyContactRecorded, domain.FamilyContactData{Date: day(t), ContactType: c.kind, Note: pick(b.r, c.notes)}, "")
	}
}

func (b *builder) chooseMentor() string {
	if b.mentor == "" {
		b.mentor = orgProbation
		if b.holds(orgExit) {
			b.mentor = orgExit
		}
	}
	return b.mentor
}

func (b *builder) transitionPlan(time.Time) {
	a, _ := b.choose([]actor{caseworker, manager, officer}, []int{50, 20, 30})
	b.transition = true
	arr := slices.Clone(arrangements)
	b.r.Shuffle(len(arr), func(i, j int) { arr[i], arr[j] = arr[j], arr[i] })
	b.add(a, domain.TransitionPlanAgreed, domain.TransitionPlanData{
		PlannedRelease: future(b.release),
		Housing:        pick(b.r, housing),
		Employment:     pick(b.r, employment),
		MentorOrg:      b.chooseMentor(),
		Arrangements:   arr[:between(b.r, 2, 4)],
	}, "")
}

func (b *builder) mentorAssigned(t time.Time) {
	org := b.chooseMentor()
	if org == orgExit && !b.holds(orgExit) { // consent withdrawn since the plan
		org, b.mentor = orgProbation, orgProbation
	}
	cands, w := []actor{officer}, []int{1}
	if org == orgExit {
		cands, w = []actor{mentor, officer}, []int{1, 1}
	}
	if a, ok := b.choose(cands, w); ok {
		b.mentoring, b.mentoringFrom = org, t
		b.add(a, domain.MentorAssigned, domain.MentorAssignedData{MentorOrg: org, MentorRef: fmt.Sprintf("MR-%03d", b.r.IntN(1000)), StartedAt: day(t)}, "")
	}
}

// mentoringEnded ends the running mentoring: completed mostly, sometimes
// ended by the participant or the organisation.
func (b *builder) mentoringEnded(t time.Time) {
	if b.mentoring == "" || t.Before(b.mentoringFrom) {
		return
	}
	cands, w := []actor{officer}, []int{1}
	if b.mentoring == orgExit {
		cands, w = []actor{mentor, officer}, []int{3, 1}
	}
	a, ok := b.choose(cands, w)
	if !ok {
		return
	}
	reason := []string{"completed", "participant-withdrew", "organisation-withdrew"}[weighted(b.r, []int{75, 15, 10})]
	org := b.mentoring
	b.mentoring = ""
	b.add(a, domain.MentoringEnded, domain.MentoringEndedData{MentorOrg: org, EndedAt: day(t), Reason: reason, Note: pick(b.r, mentoringEndNotes[reason])}, "")
}

func (b *builder) releaseScheduled(_, release time.Time) {
	a, _ := b.choose([]actor{caseworker, manager}, []int{70, 30})
	b.add(a, domain.ReleaseScheduled, domain.ReleaseScheduledData{ReleaseDate: future(release)}, "")
}

func (b *builder) released(t time.Time) {
	a, _ := b.choose([]actor{caseworker, manager}, []int{70, 30})
	b.out = true
	b.add(a, domain.Released, domain.ReleasedData{ReleasedAt: day(t)}, "")
}

func (b *builder) handover(t time.Time) {
	b.add(officer, domain.ProbationHandoverCompleted, domain.ProbationHandoverData{Date: day(t), OfficerRef: fmt.Sprintf("PO-%03d", b.r.IntN(1000))}, "")
}

// outcome records a follow-up honestly: the reintegration dimensions, the
// recidivism, and the hard cases — heavy psychological support, citizenship
// lost, left without support — or that the person was lost to follow-up or
// died, after which nothing more is recorded.
func (b *builder) outcome(t time.Time, months int, recid string) {
	if b.followedUp {
		return
	}
	a, _ := b.choose([]actor{officer, mentor, coordinator}, []int{6, 3, 2})
	flag := func(v bool) *bool { return &v }
	d := domain.OutcomeData{FollowUpAt: day(t), MonthsSinceRelease: &months}
	switch {
	case b.hard.lostAt != 0 && months >= b.hard.lostAt:
		b.followedUp = true
		d.LostToFollowUp, d.Note = flag(true), pick(b.r, lostNotes)
		b.add(officer, domain.OutcomeRecorded, d, "")
		return
	case b.hard.deceasedAt != 0 && months >= b.hard.deceasedAt:
		b.followedUp = true
		d.Deceased, d.Note = flag(true), "The participant died; no further follow-up."
		b.add(officer, domain.OutcomeRecorded, d, "")
		return
	}
	ok := recid == "none"
	hard := b.hard.citizenshipLost || b.hard.noSupport
	yes := func(p, q float64) *bool {
		if !ok {
			p = q
		}
		if hard {
			p /= 2
		}
		return flag(chance(b.r, p))
	}
	d.Reintegration = &domain.Reintegration{Housing: yes(0.8, 0.4), Employment: yes(0.5, 0.2), SocialNetwork: yes(0.65, 0.3),
		Education: yes(0.35, 0.15), Family: yes(0.7, 0.4)}
	d.Recidivism, d.Note = recid, pick(b.r, outcomeNotes[recid])
	d.HeavyPsychologicalSupport, d.CitizenshipLost, d.NoSupportAfterRelease = flag(b.hard.heavySupport), flag(b.hard.citizenshipLost), flag(b.hard.noSupport)
	if hard || b.hard.heavySupport || ok && !*d.Reintegration.Housing && chance(b.r, 0.4) {
		d.Note = pick(b.r, hardshipNotes)
	}
	b.add(a, domain.OutcomeRecorded, d, "")
}

func (b *builder) closeCase(time.Time) {
	cands, w := []actor{officer, manager}, []int{75, 25}
	reasons := closeReasons
	switch {
	case b.p.earlyClose:
		cands, w, reasons = []actor{manager, officer}, []int{70, 30}, earlyCloseReasons
	case b.p.recidivism == "violent" || b.p.recidivism == "extremist":
		reasons = reconvictionReasons
	}
	a, _ := b.choose(cands, w)
	b.add(a, domain.CaseClosed, domain.CaseClosedData{Reason: pick(b.r, reasons)}, "")
}

func (b *builder) breakGlass(time.Time) {
	a, _ := b.choose([]actor{analyst, manager}, []int{1, 1})
	b.add(a, domain.BreakGlassInvoked, nil, "")
	b.steps[len(b.steps)-1].Justification = pick(b.r, justifications)
}
