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
	b.add(a, domain.CaseOpened, domain.CaseOpenedData{
		SubjectRef:  fmt.Sprintf("DEMO-%d-%04d", tl.starts[0].Year(), b.idx+1),
		TargetGroup: b.p.group,
		Gender:      b.p.gender,
		Facility:    facility,
		Regime:      b.p.regime,
		Programme:   pick(b.r, programmes[b.p.group]),
		SentenceEnd: future(tl.sentenceEnd),
	}, "")
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
	if b.rated {
		switch x := b.r.IntN(10); {
		case x < 4 && b.risk > 0:
			b.risk--
		case x == 9 && b.risk < 2:
			b.risk++
		}
	}
	b.rated = true
	domains := map[string]string{}
	for _, name := range veraDomains {
		level := b.risk + weighted(b.r, []int{25, 50, 25}) - 1
		if name == "protective-resilience" {
			level = 2 - level
		}
		domains[name] = domain.Judgements[min(2, max(0, level))]
	}
	factors := slices.Clone(protectiveFactors)
	b.r.Shuffle(len(factors), func(i, j int) { factors[i], factors[j] = factors[j], factors[i] })
	d := domain.RiskAssessmentData{
		Tool:              "VERA-2R",
		AssessedAt:        day(t),
		OverallJudgement:  domain.Judgements[b.risk],
		Domains:           domains,
		ProtectiveFactors: factors[:between(b.r, 1, 3)],
		Notes:             pick(b.r, riskNotes[b.risk]),
		NextReviewDue:     future(t.AddDate(0, 6, 0)),
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
	}
	b.add(a, domain.NeedsAssessmentRecorded, domain.NeedsAssessmentData{Needs: needs}, "")
}

func (b *builder) treatmentPlan(t time.Time) {
	a, _ := b.choose([]actor{caseworker, manager, officer}, []int{60, 25, 15})
	var goals []domain.Goal
	for i, stage := range domain.PlanStages {
		options := slices.Clone(goalOptions[stage])
		b.r.Shuffle(len(options), func(i, j int) { options[i], options[j] = options[j], options[i] })
		for _, g := range options[:between(b.r, 1, 2)] {
			org := g.org
			if slices.Contains(consentable, org) && !b.holds(org) {
				org = g.fallback
			}
			due := t.AddDate(0, 2+3*i+b.r.IntN(3), 0)
			goals = append(goals, domain.Goal{Stage: stage, Description: g.text, Responsible: org, Due: future(due)})
		}
	}
	b.add(a, domain.TreatmentPlanAdopted, domain.TreatmentPlanData{Goals: goals}, "")
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
	if slices.Contains(groupCodes, code) && chance(b.r, 0.5) {
		format, minutes = "group", pick(b.r, []int{90, 120, 120, 180})
	}
	b.add(a, domain.InterventionRecorded, domain.InterventionData{
		PracticeCode: code, Date: day(t), Format: format, DurationMinutes: &minutes,
		Summary: pick(b.r, sessionSummaries[code]),
	}, "")
}

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
	for range between(b.r, 1, 3) {
		owner := pick(b.r, parts)
		texts := actionTexts[owner]
		if kind == confPostRelease && afterReleaseActions[owner] != nil {
			texts = afterReleaseActions[owner]
		}
		acts = append(acts, domain.Action{Owner: owner, Description: pick(b.r, texts), Due: future(t.AddDate(0, 0, between(b.r, 14, 90)))})
	}
	d := domain.CaseConferenceData{Date: day(t), Participants: parts, Decisions: decs[:between(b.r, 1, 3)], Actions: acts}
	if intel && chance(b.r, 0.3) {
		b.add(a, domain.CaseConferenceHeld, d, domain.TLPAmber, orgPrison, orgProbation, orgIntelligence)
		return
	}
	b.add(a, domain.CaseConferenceHeld, d, "")
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

func (b *builder) mentorAssigned(time.Time) {
	org := b.chooseMentor()
	if org == orgExit && !b.holds(orgExit) { // consent withdrawn since the plan
		org, b.mentor = orgProbation, orgProbation
	}
	cands, w := []actor{officer}, []int{1}
	if org == orgExit {
		cands, w = []actor{mentor, officer}, []int{1, 1}
	}
	if a, ok := b.choose(cands, w); ok {
		b.add(a, domain.MentorAssigned, domain.MentorAssignedData{MentorOrg: org, MentorRef: fmt.Sprintf("MR-%03d", b.r.IntN(1000))}, "")
	}
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

func (b *builder) outcome(t time.Time, months int, recid string) {
	a, _ := b.choose([]actor{officer, mentor, coordinator}, []int{6, 3, 2})
	ok := recid == "none"
	yes := func(p, q float64) *bool {
		if !ok {
			p = q
		}
		v := chance(b.r, p)
		return &v
	}
	re := &domain.Reintegration{Housing: yes(0.8, 0.4), Employment: yes(0.5, 0.2), SocialNetwork: yes(0.65, 0.3)}
	note := pick(b.r, outcomeNotes[recid])
	if ok && !*re.Housing && chance(b.r, 0.4) {
		note = pick(b.r, hardshipNotes)
	}
	b.add(a, domain.OutcomeRecorded, domain.OutcomeData{
		FollowUpAt: day(t), MonthsSinceRelease: &months, Reintegration: re, Recidivism: recid, Note: note,
	}, "")
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
