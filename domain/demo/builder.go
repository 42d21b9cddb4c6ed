package demo

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// The data set's calendar: histories run from firstDay to asOf; planned and
// due dates may reach lastDay, never beyond.
var (
	firstDay = time.Date(2024, 1, 8, 0, 0, 0, 0, time.UTC)
	asOf     = time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	lastDay  = time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Consent states of one organisation, as the builder tracks them.
const (
	consentNone     = iota
	consentOpen     // covered with no expiry: the organisation may write
	consentExpiring // covered until a date: read-only for the demo's purposes
	consentWithdrawn
)

// builder writes one case's history as a simulation: each step is chosen by
// the state the case is in when the step is reached (stage, consent), so that
// every step is one the protocol allows at that point.
type builder struct {
	r       *rand.Rand
	idx     int
	p       profile
	team    [numActors]domain.Identity
	steps   []Step
	consent map[string]int
	closed  bool
	out     bool     // released
	rated   bool     // a risk assessment was recorded
	risk    int      // index into domain.Judgements: the current judgement
	codes   []string // practice codes of the case's programme
	mentor  string   // the mentoring organisation, once chosen
	release time.Time

	// The case's story as the stories of issue 18 tell it: the detention
	// path, the plan's goals and the conference actions, the mentoring.
	regime, participation string
	tool                  string          // the risk tool of the case
	prevRisk              int             // the judgement before the latest assessment
	transition            bool            // a transition plan was agreed: probation reads the treatment sections
	assessed              map[string]bool // need areas assessed, any writer
	assessedByProbation   map[string]bool // need areas probation itself assessed
	goals                 []*demoGoal
	actions               []*demoAction
	series                map[string]int // practice code → sessions of its group series so far
	mentoring             string         // the organisation whose mentoring runs
	mentoringFrom         time.Time
	hard                  hardCase
	followedUp            bool // no more follow-ups: lost to follow-up or deceased
}

// demoGoal is a goal of the case's plan as the builder tracks it.
type demoGoal struct {
	id, org, status string
}

// demoAction is a conference action as the builder tracks it; amber says its
// conference was shared with the prison, probation and intelligence only.
type demoAction struct {
	id, owner string
	due       time.Time
	amber     bool
	done      bool
}

// hardCase is what the follow-ups of a released case record honestly
// (docs/domain.md, "Outcomes").
type hardCase struct {
	heavySupport, citizenshipLost, noSupport bool
	lostAt, deceasedAt                       int // months after release; 0 for never
}

// byActor lists, for each actor, the indexes of its members.
var byActor = func() (out [numActors][]int) {
	for i, m := range members {
		out[m.actor] = append(out[m.actor], i)
	}
	return out
}()

func newBuilder(r *rand.Rand, idx int, p profile) *builder {
	b := &builder{r: r, idx: idx, p: p, consent: map[string]int{}, assessed: map[string]bool{}, assessedByProbation: map[string]bool{}, series: map[string]int{}}
	for a := range numActors {
		b.team[a] = members[pick(r, byActor[a])].identity()
	}
	b.risk = weighted(r, []int{35, 45, 20})
	if p.group == "vulnerable" && b.risk == 2 {
		b.risk = 1
	}
	b.codes = programme(r, p.practice)
	for _, o := range otherPractices {
		c := o.chance
		if slices.Contains(o.more, p.group) {
			c *= 2.5
		}
		if chance(r, c) {
			b.codes = append(b.codes, o.code)
		}
	}
	b.regime, b.tool = p.regime, "VERA-2R"
	if chance(r, 0.2) {
		b.tool = "ERG22+"
	}
	b.hard = hardCase{heavySupport: chance(r, 0.12), noSupport: chance(r, 0.07)}
	if p.group == "returnee" && chance(r, 0.2) || chance(r, 0.02) {
		b.hard.citizenshipLost, b.hard.noSupport = true, b.hard.noSupport || chance(r, 0.6)
	}
	switch x := r.IntN(100); {
	case x < 6:
		b.hard.lostAt = pick(r, []int{12, 18, 24})
	case x < 7:
		b.hard.deceasedAt = pick(r, []int{6, 12, 18})
	}
	return b
}

// programme returns the main practice code and up to two more distinct ones,
// drawn with the survey's frequencies (docs/domain.md, "Practice codes").
func programme(r *rand.Rand, main int) []string {
	k := weighted(r, []int{35, 45, 20})
	codes := slices.Delete(slices.Clone(practiceCodes), main, main+1)
	w := slices.Delete(slices.Clone(practiceFreq), main, main+1)
	out := []string{practiceCodes[main]}
	for range k {
		i := weighted(r, w)
		out = append(out, codes[i])
		codes = slices.Delete(codes, i, i+1)
		w = slices.Delete(w, i, i+1)
	}
	return out
}

// practiceCodes and practiceFreq are the EUTEx survey table of docs/domain.md,
// "Practice codes".
var (
	practiceCodes = []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "99"}
	practiceFreq  = []int{6, 16, 6, 5, 2, 4, 2, 22, 7, 7, 3, 4, 11, 9, 7}
)

// needsConsent gives the organisation whose consent an actor's writes need,
// or "" when it writes under a legal mandate.
func needsConsent(a actor) string {
	switch a {
	case coordinator, mentor, counsellor:
		return actorOrg[a]
	}
	return ""
}

// can reports whether actor a may write on the case now: the case is open and,
// for organisations that write only with consent, consent without expiry
// covers them.
func (b *builder) can(a actor) bool {
	if b.closed {
		return false
	}
	org := needsConsent(a)
	return org == "" || b.consent[org] == consentOpen
}

// holds reports whether consent without expiry covers org.
func (b *builder) holds(org string) bool { return b.consent[org] == consentOpen }

// choose picks one of the actors that may write now, weighted; false if none.
func (b *builder) choose(cands []actor, weights []int) (actor, bool) {
	var as []actor
	var ws []int
	for i, a := range cands {
		if b.can(a) {
			as = append(as, a)
			ws = append(ws, weights[i])
		}
	}
	if len(as) == 0 {
		return 0, false
	}
	return as[weighted(b.r, ws)], true
}

// add appends a step and folds its effect on consent and closure.
func (b *builder) add(a actor, t domain.EventType, data any, tlp domain.TLP, share ...string) {
	s := Step{As: cloneIdentity(b.team[a]), Type: t, Classification: tlp, ShareWith: share}
	if data != nil {
		raw, err := json.Marshal(data)
		if err != nil {
			panic("demo: " + err.Error()) // the data types always marshal
		}
		s.Data = raw
	}
	switch d := data.(type) {
	case domain.ConsentGivenData:
		for _, org := range d.Organisations {
			if d.ExpiresAt == "" {
				b.consent[org] = consentOpen
			} else {
				b.consent[org] = consentExpiring
			}
		}
	case domain.ConsentWithdrawnData:
		orgs := d.Organisations
		if d.All {
			orgs = consentable
		}
		for _, org := range orgs {
			b.consent[org] = consentWithdrawn
		}
	}
	if t == domain.CaseClosed {
		b.closed = true
	}
	b.steps = append(b.steps, s)
}

func cloneIdentity(id domain.Identity) domain.Identity {
	id.Roles = slices.Clone(id.Roles)
	return id
}

// act is one step-to-be on a date; do decides at run time who writes it, or
// whether it happens at all.
type act struct {
	at time.Time
	do func(time.Time)
}

// phase collects the acts of one stage of a case between from and to, and
// runs them in date order (acts on the same date in the order added).
type phase struct {
	b        *builder
	from, to time.Time
	frac     float64 // the part of the phase that has happened (ongoing phase)
	acts     []act
}

func (b *builder) phase(from, to time.Time) *phase {
	if to.Before(from) {
		to = from
	}
	return &phase{b: b, from: from, to: to, frac: 1}
}

// at adds an act on date t, kept inside the phase.
func (p *phase) at(t time.Time, f func(time.Time)) {
	if t.Before(p.from) {
		t = p.from
	}
	if t.After(p.to) {
		t = p.to
	}
	p.acts = append(p.acts, act{t, f})
}

// sometime adds an act on a random date of the phase.
func (p *phase) sometime(f func(time.Time)) { p.at(p.random(), f) }

// times adds k acts on random dates, fewer in an ongoing phase (in
// proportion to the part of it that has happened).
func (p *phase) times(k int, f func(time.Time)) {
	x := float64(k) * p.frac
	k = int(x)
	if p.b.r.Float64() < x-float64(k) {
		k++
	}
	for range k {
		p.sometime(f)
	}
}

func (p *phase) random() time.Time {
	return p.from.AddDate(0, 0, between(p.b.r, 0, days(p.from, p.to)))
}

func (p *phase) run() {
	slices.SortStableFunc(p.acts, func(x, y act) int { return x.at.Compare(y.at) })
	for _, a := range p.acts {
		if p.b.closed {
			return
		}
		a.do(a.at)
	}
}

func days(from, to time.Time) int { return int(to.Sub(from).Hours() / 24) }

func day(t time.Time) string { return t.Format(time.DateOnly) }

// future writes a planned or due date, never beyond the data set's calendar.
func future(t time.Time) string {
	if t.After(lastDay) {
		t = lastDay
	}
	return day(t)
}

// timeline is where a case's phases begin; ends[k] is the last day of phase k.
type timeline struct {
	starts, ends []time.Time
	frac         float64   // the part of the last phase that has happened
	projected    time.Time // the planned release, for cases not yet released
	sentenceEnd  time.Time
}

// plan lays out the phases the case goes through, the last one ongoing at
// asOf unless the case is closed.
func (b *builder) plan() timeline {
	r := b.r
	li, la, lv, lt, lr, lc := between(r, 10, 40), between(r, 30, 100), between(r, 120, 420), between(r, 45, 150), between(r, 90, 540), between(r, 14, 60)
	var tl timeline
	tl.frac = 1
	ongoing := func(l, lo int) int {
		e := between(r, min(lo, l-1), l-1)
		tl.frac = float64(e) / float64(l)
		return e
	}
	after := 20 // days since release, at least, of a released case
	if b.p.recidivism != "none" {
		after = 100 // long enough for a follow-up to record it
	}
	var lens []int
	switch {
	case b.p.earlyClose:
		lens = []int{li, la, between(r, 30, lv), lc}
	case b.p.stage == domain.StageIntake:
		lens = []int{ongoing(li, 2)}
	case b.p.stage == domain.StageAssessment:
		lens = []int{li, ongoing(la, 7)}
	case b.p.stage == domain.StageIntervention:
		lens = []int{li, la, ongoing(lv, 20)}
	case b.p.stage == domain.StageTransition:
		lens = []int{li, la, lv, ongoing(lt, 10)}
	case b.p.stage == domain.StageReleased:
		lens = []int{li, la, lv, lt, ongoing(max(lr, after+1), after)}
	default:
		lens = []int{li, la, lv, lt, lr, lc}
	}
	span, total := days(firstDay, asOf), 0
	for _, l := range lens {
		total += l
	}
	if total > span {
		for i := range lens {
			lens[i] = max(1, lens[i]*span/total)
		}
		total = 0
		for _, l := range lens {
			total += l
		}
	}
	slack := 0
	if b.p.stage == domain.StageClosed {
		slack = between(r, 0, span-total)
	}
	at := asOf.AddDate(0, 0, -total-slack)
	for _, l := range lens {
		tl.starts = append(tl.starts, at)
		at = at.AddDate(0, 0, l)
		tl.ends = append(tl.ends, at.AddDate(0, 0, -1))
	}
	tl.ends[len(tl.ends)-1] = at // the ongoing phase runs to its last day
	planned := []int{li, la, lv, lt}
	tl.projected = tl.starts[0]
	for i, l := range planned {
		if i < len(lens)-1 {
			l = lens[i]
		}
		tl.projected = tl.projected.AddDate(0, 0, l)
	}
	if floor := at.AddDate(0, 0, 14); tl.projected.Before(floor) {
		tl.projected = floor
	}
	if tl.projected.After(lastDay) { // spread, rather than pile up on the last day
		tl.projected = lastDay.AddDate(0, 0, -between(r, 0, min(300, days(at, lastDay)-14)))
	}
	tl.sentenceEnd = tl.projected
	if b.p.stage == domain.StageReleased || b.p.stage == domain.StageClosed && !b.p.earlyClose {
		tl.sentenceEnd = tl.starts[4] // released on the day the sentence ends…
	}
	if chance(r, 0.4) { // …or early, on licence
		tl.sentenceEnd = tl.sentenceEnd.AddDate(0, 0, between(r, 30, max(30, min(240, days(tl.sentenceEnd, lastDay)))))
	}
	return tl
}

// build writes the case's history.
func (b *builder) build() []Step {
	tl := b.plan()
	n := len(tl.starts)
	last := n - 1
	if b.p.stage == domain.StageClosed {
		last = n - 2 // the closure phase holds only the closure
	}
	withdrawIn, glassIn := -1, -1
	if b.p.withdraw != withdrawNone && !b.p.earlyClose {
		withdrawIn = between(b.r, min(1, last), last)
	}
	if b.p.breakGlass {
		glassIn = between(b.r, min(1, last), last)
	}
	expiringIn := last
	if b.r.IntN(2) == 0 {
		expiringIn = 0
	}
	for k := 0; k <= last; k++ {
		p := b.phase(tl.starts[k], tl.ends[k])
		ongoing := k == n-1
		if ongoing {
			p.frac = tl.frac
		}
		switch k {
		case 0:
			b.intakePhase(p, tl)
		case 1:
			b.assessmentPhase(p)
		case 2:
			b.interventionPhase(p, ongoing)
		case 3:
			b.transitionPhase(p, ongoing, tl.projected)
		case 4:
			b.releasedPhase(p)
		}
		if k == expiringIn && b.p.expiring {
			p.sometime(b.expiringConsent)
		}
		if k == withdrawIn {
			p.sometime(func(t time.Time) { b.withdraw(t, b.p.withdraw) })
		}
		if k == glassIn {
			g := p.random()
			p.at(g, b.intelNote)
			p.at(g, b.breakGlass)
		}
		if k == last && b.p.earlyClose {
			p.at(p.to, func(t time.Time) { b.withdraw(t, withdrawAll) })
		}
		p.run()
	}
	if b.p.stage == domain.StageClosed {
		b.closeCase(tl.starts[n-1].AddDate(0, 0, between(b.r, 0, days(tl.starts[n-1], tl.ends[n-1]))))
	}
	return b.steps
}

func (b *builder) intakePhase(p *phase, tl timeline) {
	p.at(p.from, func(time.Time) { b.open(tl) })
	if len(b.p.consent) > 0 {
		p.at(p.from.AddDate(0, 0, between(b.r, 0, 7)), func(t time.Time) { b.giveConsent(t, b.p.consent, "") })
	}
	intel := 0.25
	if b.p.group == "returnee" {
		intel = 0.7
	}
	if chance(b.r, intel) {
		p.sometime(b.intelNote)
	}
	if chance(b.r, 0.3) {
		p.sometime(b.counselling)
	}
	if chance(b.r, 0.25) {
		p.sometime(b.familyContact)
	}
}

func (b *builder) assessmentPhase(p *phase) {
	p.at(p.from, func(t time.Time) { b.riskAssessment(t, []actor{psychologist, officer}, []int{85, 15}) })
	p.sometime(func(t time.Time) { b.needsAssessment(t, []actor{caseworker, psychologist, officer}, []int{50, 35, 15}) })
	if chance(b.r, 0.25) {
		p.sometime(func(t time.Time) { b.needsAssessment(t, []actor{mentor}, []int{1}) })
	}
	p.times(between(b.r, 0, 2), b.counselling)
	if chance(b.r, 0.3) {
		p.sometime(func(t time.Time) { b.intervention(t, b.codes[0], false) })
	}
	if chance(b.r, 0.3) {
		p.sometime(b.familyContact)
	}
	if chance(b.r, 0.2) {
		p.sometime(b.intelNote)
	}
	if chance(b.r, 0.3) {
		p.sometime(func(t time.Time) { b.conference(t, confIntake) })
	}
	if chance(b.r, 0.08) {
		p.sometime(b.transfer)
	}
}

func (b *builder) interventionPhase(p *phase, ongoing bool) {
	p.at(p.from, b.treatmentPlan)
	for _, code := range b.codes {
		k := between(b.r, 1, 5)
		if ongoing && days(p.from, p.to) < 90 {
			k = min(k, 2)
		}
		p.times(k, func(t time.Time) { b.intervention(t, code, false) })
	}
	p.times(between(b.r, 1, 4), b.counselling)
	p.times(between(b.r, 1, 2), func(t time.Time) { b.conference(t, confReview) })
	p.times(between(b.r, 0, 1+b.risk), b.intelNote)
	p.times(between(b.r, 0, 2), b.familyContact)
	if days(p.from, p.to) >= 180 {
		p.at(p.from.AddDate(0, 6, 0), func(t time.Time) { b.riskAssessment(t, []actor{psychologist}, []int{1}) })
	}
	if chance(b.r, 0.3) {
		p.sometime(b.extendConsent)
	}
	if chance(b.r, 0.1) {
		p.sometime(b.disclosure)
	}
	// The plan moves: its goals are taken up and reached (or dropped), it is
	// reviewed, the conferences' actions are done; some are moved to another
	// regime, and some start or stop taking part by mandate.
	p.times(between(b.r, 2, 5), b.goalUpdate)
	if days(p.from, p.to) >= 200 {
		p.at(p.from.AddDate(0, 6, 0), b.planReview)
	}
	p.times(between(b.r, 1, 2), b.completeActions)
	if chance(b.r, 0.3) {
		p.sometime(b.transfer)
	}
	if chance(b.r, 0.08) {
		p.sometime(b.participationChange)
	}
}

func (b *builder) transitionPhase(p *phase, ongoing bool, projected time.Time) {
	release := p.to.AddDate(0, 0, 1)
	if ongoing {
		release = projected
	}
	b.release = release
	p.at(p.from, b.transitionPlan)
	if chance(b.r, 0.85) {
		p.at(p.from.AddDate(0, 0, between(b.r, 0, 21)), b.mentorAssigned)
	}
	if chance(b.r, 0.7) {
		p.sometime(func(t time.Time) { b.conference(t, confPreRelease) })
	}
	if !ongoing || chance(b.r, 0.6) {
		p.at(p.from.AddDate(0, 0, between(b.r, 7, max(7, days(p.from, p.to)))), func(t time.Time) { b.releaseScheduled(t, release) })
	}
	if chance(b.r, 0.5) {
		p.sometime(func(t time.Time) { b.riskAssessment(t, []actor{officer}, []int{1}) })
	}
	if chance(b.r, 0.4) {
		p.sometime(func(t time.Time) { b.needsAssessment(t, []actor{officer, mentor}, []int{2, 1}) })
	}
	p.times(between(b.r, 1, 3), func(t time.Time) { b.intervention(t, pick(b.r, b.codes), false) })
	p.times(between(b.r, 1, 2), b.counselling)
	p.times(between(b.r, 0, 2), b.familyContact)
	if chance(b.r, 0.4) {
		p.sometime(b.intelNote)
	}
	if chance(b.r, 0.05) {
		p.sometime(b.disclosure)
	}
	p.times(between(b.r, 1, 2), b.goalUpdate)
	p.times(between(b.r, 1, 2), b.completeActions)
	if chance(b.r, 0.3) {
		p.sometime(b.planReview)
	}
	if chance(b.r, 0.08) {
		p.sometime(b.transfer)
	}
	if chance(b.r, 0.05) {
		p.sometime(b.participationChange)
	}
}

func (b *builder) releasedPhase(p *phase) {
	p.at(p.from, b.released)
	p.at(p.from.AddDate(0, 0, between(b.r, 0, 3)), b.handover)
	var follow []int
	for _, m := range []int{3, 6, 12, 18, 24} {
		if !p.from.AddDate(0, m, 0).After(p.to) {
			follow = append(follow, m)
		}
	}
	pivot := between(b.r, 0, max(0, len(follow)-1))
	// Follow-ups are missed: most participants keep their appointments, some
	// miss many, a few are hard to reach for months; the latest is recorded
	// whatever (docs/domain.md, "Outcomes": recorded honestly, gaps
	// included).
	skip := []float64{0.05, 0.4, 0.85}[weighted(b.r, []int{60, 30, 10})]
	for i, m := range follow {
		recid := "none"
		if i >= pivot {
			recid = b.p.recidivism
		}
		if i < len(follow)-1 && i != pivot && chance(b.r, skip) {
			continue
		}
		p.at(p.from.AddDate(0, m, 0), func(t time.Time) { b.outcome(t, m, recid) })
	}
	p.times(between(b.r, 1, 3), b.counselling)
	p.times(between(b.r, 0, 2), func(t time.Time) { b.intervention(t, pick(b.r, b.codes), true) })
	if chance(b.r, 0.4) {
		p.sometime(func(t time.Time) { b.conference(t, confPostRelease) })
	}
	if chance(b.r, 0.4) {
		p.sometime(b.familyContact)
	}
	if chance(b.r, 0.3) {
		p.sometime(b.intelNote)
	}
	p.times(between(b.r, 0, 1), b.goalUpdate)
	p.times(between(b.r, 0, 2), b.completeActions)
	// Mentoring ends after six months to a year, when the case runs so long.
	if end := p.from.AddDate(0, between(b.r, 6, 12), 0); !end.After(p.to) && chance(b.r, 0.6) {
		p.at(end, b.mentoringEnded)
	}
}
