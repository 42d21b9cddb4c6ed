package liaison_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestNonInterference is docs/targets.md, R9 (docs/protocol.md, "What a reader
// can infer (non-interference)"): for every organisation type of the demo
// directory (and, for the prison, every role), every kind of event that reader
// may not read, appended to a case it reads, changes nothing it gets. Each
// reader has its own hub, so that nothing but the hidden events is appended
// between its reads. Its answers — the case, the list (plain and filtered by
// stage), the 12 sections, the events and the events after version 1, for every
// purpose its type may use and one it may not — are read before the first
// hidden event and after each one, and must be byte-identical but for request
// ids and clock fields.
//
// Each hidden event is its own subtest, named after the outcome, compared with
// the answers just before it; a last subtest per reader compares the final
// answers with the first ones.
func TestNonInterference(t *testing.T) {
	start := time.Now()
	var comparisons, requests int
	for _, rd := range niReaders() {
		h := startHub(t, "")
		s := &niScenario{h: h, reader: rd, requests: &requests}
		s.setUp(t)
		before := s.snapshot(t)
		first := before
		s.checkBaseline(t, first)
		for _, w := range rd.hidden {
			t.Run(rd.name+": "+w.what+" changes nothing it gets", func(t *testing.T) {
				s.write(t, w)
				after := s.snapshot(t)
				comparisons += niCompare(t, before, after)
				before = after
			})
		}
		t.Run(rd.name+": all of them together change nothing it gets", func(t *testing.T) {
			comparisons += niCompare(t, first, before)
		})
		h.Stop()
	}
	t.Logf("R9: %d answers compared byte for byte, %d requests, in %v", comparisons, requests, time.Since(start).Round(time.Millisecond))
}

// ---- the readers and what each may not read

// Writers of the hidden events. Each writes for its organisation; none is a
// reader, so that a reader's own organisation writes only where the test means
// it to (the prison's disclosure in the security-officer-only cell).
var (
	niPrisonCaseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "ni-pc-writer"}
	niPrisonPsych      = identity{Agency: "prison-service", Roles: []string{"psychologist"}, Sub: "ni-pp-writer"}
	niPrisonManager    = identity{Agency: "prison-service", Roles: []string{"manager"}, Sub: "ni-pm-writer"}
	niProbation        = identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "ni-po-writer"}
	niIntel            = identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "ni-ia-writer"}
	niExit             = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ni-ng-writer"}
	niFamily           = identity{Agency: "family-support", Roles: []string{"counsellor"}, Sub: "ni-fs-writer"}
	niDPO              = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "ni-dpo-a"}
	niDPO2             = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "ni-dpo-b"}
)

// niWrite is one hidden event: an append, a break-glass, an erasure request or
// the cancellation of the request made just before.
type niWrite struct {
	what           string
	as             identity
	kind           string // "" (append), "break-glass", "erase", "cancel"
	typ            string
	classification string
	shareWith      []string
}

func niAppend(what string, as identity, typ, classification string, shareWith ...string) niWrite {
	return niWrite{what: what, as: as, typ: typ, classification: classification, shareWith: shareWith}
}

// niReader is one reader and the events it may not read, in the order they
// are appended.
type niReader struct {
	name       string
	id         identity
	purposes   []string // every purpose its type may use
	refused    string   // one purpose its type may not use
	readsCases bool     // false for oversight and research: every case answer is 404
	hidden     []niWrite
}

// niTail is what every reader may not read whoever it is: another user's
// break-glass, an erasure request and its cancellation.
func niTail(breakGlass identity, who string) []niWrite {
	return []niWrite{
		{what: "a break-glass by " + who, as: breakGlass, kind: "break-glass"},
		{what: "an erasure request by a data-protection officer", as: niDPO, kind: "erase"},
		{what: "the cancellation of that erasure request", as: niDPO2, kind: "cancel"},
	}
}

func niReaders() []niReader {
	prisonPurposes := []string{"case-management", "risk-management", "reintegration", "case-conference"}
	consentPurposes := []string{"reintegration", "case-conference"}
	// What the prison's roles but the security officer may not read: the
	// security cell is security-officer only, even for the prison's own
	// disclosure (docs/protocol.md, "Role-restricted cells and reading back").
	prisonHidden := func(discloser identity) []niWrite {
		return append([]niWrite{
			niAppend("a counselling note of probation", niProbation, "CounsellingNoteAdded", ""),
			niAppend("a counselling note of family support", niFamily, "CounsellingNoteAdded", ""),
			niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
			niAppend("a risk disclosure raised by the prison itself", discloser, "RiskDisclosureRaised", ""),
			niAppend("a risk disclosure raised by the exit worker", niExit, "RiskDisclosureRaised", ""),
			niAppend("a needs assessment marked TLP:AMBER+STRICT by probation", niProbation, "NeedsAssessmentRecorded", "TLP:AMBER+STRICT"),
			niAppend("a treatment plan marked TLP:RED for intelligence only", niProbation, "TreatmentPlanAdopted", "TLP:RED", "intelligence-service"),
			niAppend("an intervention shared TLP:AMBER with the exit worker only", niProbation, "InterventionRecorded", "TLP:AMBER", "exit-ngo"),
		}, niTail(niProbation, "a probation officer")...)
	}
	return []niReader{
		{
			name: "prison caseworker", id: identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "ni-pc-reader"},
			purposes: prisonPurposes, refused: "oversight", readsCases: true,
			hidden: prisonHidden(niPrisonManager),
		},
		{
			name: "prison psychologist", id: identity{Agency: "prison-service", Roles: []string{"psychologist"}, Sub: "ni-pp-reader"},
			purposes: prisonPurposes, refused: "oversight", readsCases: true,
			hidden: prisonHidden(niPrisonCaseworker),
		},
		{
			name: "prison manager", id: identity{Agency: "prison-service", Roles: []string{"manager"}, Sub: "ni-pm-reader"},
			purposes: prisonPurposes, refused: "oversight", readsCases: true,
			hidden: prisonHidden(niPrisonCaseworker),
		},
		{
			name: "prison security officer", id: identity{Agency: "prison-service", Roles: []string{"security-officer"}, Sub: "ni-so-reader"},
			purposes: prisonPurposes, refused: "oversight", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a counselling note of probation", niProbation, "CounsellingNoteAdded", ""),
				niAppend("a counselling note of family support", niFamily, "CounsellingNoteAdded", ""),
				niAppend("an intelligence note shared TLP:AMBER with probation only", niIntel, "IntelligenceNoteAdded", "TLP:AMBER", "probation-service"),
				niAppend("a risk disclosure marked TLP:RED for intelligence only", niExit, "RiskDisclosureRaised", "TLP:RED", "intelligence-service"),
				niAppend("a needs assessment marked TLP:AMBER+STRICT by probation", niProbation, "NeedsAssessmentRecorded", "TLP:AMBER+STRICT"),
				niAppend("a treatment plan marked TLP:RED for intelligence only", niProbation, "TreatmentPlanAdopted", "TLP:RED", "intelligence-service"),
				niAppend("an intervention shared TLP:AMBER with the exit worker only", niProbation, "InterventionRecorded", "TLP:AMBER", "exit-ngo"),
			}, niTail(niProbation, "a probation officer")...),
		},
		{
			// Probation reads risk, needs, plan, interventions, conferences,
			// security and family only from stage transition on: events it
			// cannot read move the case's stage, and must not move its own.
			name: "probation officer", id: identity{Agency: "probation-service", Roles: []string{"officer"}, Sub: "ni-po-reader"},
			purposes: prisonPurposes, refused: "research", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a risk assessment", niPrisonPsych, "RiskAssessmentRecorded", ""),
				niAppend("a needs assessment", niPrisonCaseworker, "NeedsAssessmentRecorded", ""),
				niAppend("a treatment plan", niPrisonCaseworker, "TreatmentPlanAdopted", ""),
				niAppend("an intervention", niPrisonCaseworker, "InterventionRecorded", ""),
				niAppend("a counselling note of the prison", niPrisonPsych, "CounsellingNoteAdded", ""),
				niAppend("a case conference", niPrisonManager, "CaseConferenceHeld", ""),
				niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
				niAppend("a risk disclosure raised by the exit worker", niExit, "RiskDisclosureRaised", ""),
				niAppend("a family contact", niPrisonCaseworker, "FamilyContactRecorded", ""),
				niAppend("a transition plan marked TLP:AMBER+STRICT by the prison", niPrisonCaseworker, "TransitionPlanAgreed", "TLP:AMBER+STRICT"),
				niAppend("a mentor assignment marked TLP:RED for the prison only", niExit, "MentorAssigned", "TLP:RED", "prison-service"),
				// An outcome follows a release in its writer's view
				// (docs/protocol.md, "Order rules"): the exit worker's.
				niAppend("a release date marked TLP:AMBER+STRICT by the prison", niPrisonCaseworker, "ReleaseScheduled", "TLP:AMBER+STRICT"),
				niAppend("a release marked TLP:RED for the exit worker only", niPrisonCaseworker, "Released", "TLP:RED", "exit-ngo"),
				niAppend("an outcome shared TLP:AMBER with the municipality only", niExit, "OutcomeRecorded", "TLP:AMBER", "municipality"),
			}, niTail(niIntel, "an intelligence analyst")...),
		},
		{
			name: "intelligence analyst", id: identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "ni-ia-reader"},
			purposes: []string{"risk-management", "case-conference"}, refused: "case-management", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a needs assessment", niPrisonCaseworker, "NeedsAssessmentRecorded", ""),
				niAppend("a treatment plan", niPrisonCaseworker, "TreatmentPlanAdopted", ""),
				niAppend("an intervention", niPrisonCaseworker, "InterventionRecorded", ""),
				niAppend("a counselling note", niPrisonPsych, "CounsellingNoteAdded", ""),
				niAppend("a family contact", niPrisonCaseworker, "FamilyContactRecorded", ""),
				// An outcome follows a release in its writer's view
				// (docs/protocol.md, "Order rules"): probation's.
				niAppend("a transition plan marked TLP:AMBER+STRICT by the prison", niPrisonCaseworker, "TransitionPlanAgreed", "TLP:AMBER+STRICT"),
				niAppend("a release date marked TLP:RED for probation only", niPrisonCaseworker, "ReleaseScheduled", "TLP:RED", "probation-service"),
				niAppend("a release marked TLP:RED for probation only", niPrisonCaseworker, "Released", "TLP:RED", "probation-service"),
				niAppend("an outcome", niProbation, "OutcomeRecorded", ""),
				niAppend("a risk assessment marked TLP:AMBER+STRICT by the prison", niPrisonPsych, "RiskAssessmentRecorded", "TLP:AMBER+STRICT"),
				niAppend("a case conference marked TLP:RED for probation only", niPrisonManager, "CaseConferenceHeld", "TLP:RED", "probation-service"),
				// An explicit label keeps the writer's share list: TLP:RED
				// naming nobody is the originator's only (design L).
				niAppend("a risk disclosure marked TLP:RED naming nobody", niExit, "RiskDisclosureRaised", "TLP:RED"),
				niAppend("a risk disclosure shared TLP:AMBER with the prison only", niExit, "RiskDisclosureRaised", "TLP:AMBER", "prison-service"),
			}, niTail(niProbation, "a probation officer")...),
		},
		{
			name: "municipality coordinator", id: identity{Agency: "municipality", Roles: []string{"coordinator"}, Sub: "ni-mc-reader"},
			purposes: consentPurposes, refused: "case-management", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a risk assessment", niPrisonPsych, "RiskAssessmentRecorded", ""),
				niAppend("an intervention", niPrisonCaseworker, "InterventionRecorded", ""),
				niAppend("a counselling note", niProbation, "CounsellingNoteAdded", ""),
				niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
				niAppend("a risk disclosure raised by the exit worker", niExit, "RiskDisclosureRaised", ""),
				niAppend("a family contact", niFamily, "FamilyContactRecorded", ""),
				niAppend("a needs assessment marked TLP:AMBER+STRICT by probation", niProbation, "NeedsAssessmentRecorded", "TLP:AMBER+STRICT"),
				niAppend("a treatment plan shared TLP:AMBER with probation only", niPrisonCaseworker, "TreatmentPlanAdopted", "TLP:AMBER", "probation-service"),
				niAppend("a case conference marked TLP:RED for the exit worker only", niPrisonManager, "CaseConferenceHeld", "TLP:RED", "exit-ngo"),
			}, niTail(niPrisonManager, "a prison manager")...),
		},
		{
			name: "exit worker", id: identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ni-ng-reader"},
			purposes: consentPurposes, refused: "risk-management", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a counselling note of the prison", niPrisonPsych, "CounsellingNoteAdded", ""),
				niAppend("a counselling note of family support", niFamily, "CounsellingNoteAdded", ""),
				niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
				niAppend("a risk disclosure raised by the prison", niPrisonCaseworker, "RiskDisclosureRaised", ""),
				niAppend("a risk disclosure raised by family support", niFamily, "RiskDisclosureRaised", ""),
				niAppend("a risk assessment marked TLP:AMBER+STRICT by the prison", niPrisonPsych, "RiskAssessmentRecorded", "TLP:AMBER+STRICT"),
				niAppend("an intervention marked TLP:RED for probation only", niPrisonCaseworker, "InterventionRecorded", "TLP:RED", "probation-service"),
				niAppend("a family contact shared TLP:AMBER with family support only", niPrisonCaseworker, "FamilyContactRecorded", "TLP:AMBER", "family-support"),
				niAppend("a needs assessment marked TLP:AMBER+STRICT by probation", niProbation, "NeedsAssessmentRecorded", "TLP:AMBER+STRICT"),
			}, niTail(niIntel, "an intelligence analyst")...),
		},
		{
			name: "family-support counsellor", id: identity{Agency: "family-support", Roles: []string{"counsellor"}, Sub: "ni-fs-reader"},
			purposes: consentPurposes, refused: "risk-management", readsCases: true,
			hidden: append([]niWrite{
				niAppend("a risk assessment", niPrisonPsych, "RiskAssessmentRecorded", ""),
				niAppend("a needs assessment", niPrisonCaseworker, "NeedsAssessmentRecorded", ""),
				niAppend("an intervention", niPrisonCaseworker, "InterventionRecorded", ""),
				niAppend("a counselling note of the exit worker", niExit, "CounsellingNoteAdded", ""),
				niAppend("a case conference", niPrisonManager, "CaseConferenceHeld", ""),
				niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
				niAppend("a risk disclosure raised by the exit worker", niExit, "RiskDisclosureRaised", ""),
				niAppend("a treatment plan marked TLP:AMBER+STRICT by the prison", niPrisonCaseworker, "TreatmentPlanAdopted", "TLP:AMBER+STRICT"),
				niAppend("a family contact marked TLP:RED for the exit worker only", niPrisonCaseworker, "FamilyContactRecorded", "TLP:RED", "exit-ngo"),
				niAppend("a transition plan shared TLP:AMBER with probation only", niPrisonCaseworker, "TransitionPlanAgreed", "TLP:AMBER", "probation-service"),
				// An outcome follows a release in its writer's view
				// (docs/protocol.md, "Order rules"): probation's.
				niAppend("a release date marked TLP:RED for probation only", niPrisonCaseworker, "ReleaseScheduled", "TLP:RED", "probation-service"),
				niAppend("a release marked TLP:RED for probation only", niPrisonCaseworker, "Released", "TLP:RED", "probation-service"),
				niAppend("an outcome", niProbation, "OutcomeRecorded", ""),
			}, niTail(niProbation, "a probation officer")...),
		},
		{
			name: "oversight auditor", id: identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ni-au-reader"},
			purposes: []string{"oversight"}, refused: "research",
			hidden: niEverything(),
		},
		{
			name: "researcher", id: identity{Agency: "research-institute", Roles: []string{"researcher"}, Sub: "ni-rs-reader"},
			purposes: []string{"research"}, refused: "oversight",
			hidden: niEverything(),
		},
	}
}

// niEverything is one event of every type a case takes, for the readers of no
// case at all, up to the release and an outcome.
func niEverything() []niWrite {
	return append([]niWrite{
		niAppend("a risk assessment", niPrisonPsych, "RiskAssessmentRecorded", ""),
		niAppend("a needs assessment", niPrisonCaseworker, "NeedsAssessmentRecorded", ""),
		niAppend("a treatment plan", niPrisonCaseworker, "TreatmentPlanAdopted", ""),
		niAppend("a goal update", niPrisonCaseworker, "GoalUpdated", ""),
		niAppend("a plan review", niPrisonCaseworker, "PlanReviewed", ""),
		niAppend("a transfer", niPrisonCaseworker, "Transferred", ""),
		niAppend("a change of participation", niPrisonCaseworker, "ParticipationChanged", ""),
		niAppend("an intervention", niPrisonCaseworker, "InterventionRecorded", ""),
		niAppend("a counselling note", niPrisonPsych, "CounsellingNoteAdded", ""),
		niAppend("a case conference", niPrisonManager, "CaseConferenceHeld", ""),
		niAppend("a conference action done", niPrisonManager, "ConferenceActionCompleted", ""),
		niAppend("an intelligence note", niIntel, "IntelligenceNoteAdded", ""),
		niAppend("a risk disclosure", niExit, "RiskDisclosureRaised", ""),
		niAppend("a family contact", niFamily, "FamilyContactRecorded", ""),
		niAppend("a consent withdrawal", niPrisonCaseworker, "ConsentWithdrawn", ""),
		niAppend("a transition plan", niPrisonCaseworker, "TransitionPlanAgreed", ""),
		niAppend("a mentor assignment", niProbation, "MentorAssigned", ""),
		niAppend("the end of mentoring", niProbation, "MentoringEnded", ""),
		niAppend("a release date", niPrisonCaseworker, "ReleaseScheduled", ""),
		niAppend("a probation handover", niProbation, "ProbationHandoverCompleted", ""),
		niAppend("a release", niPrisonCaseworker, "Released", ""),
		niAppend("an outcome", niProbation, "OutcomeRecorded", ""),
	}, niTail(niProbation, "a probation officer")...)
}

// niData returns valid data of an event type, with a marker in its free text.
func niData(typ, marker string) map[string]any {
	switch typ {
	case "ConsentGiven":
		return map[string]any{"organisations": []string{"municipality", "exit-ngo", "family-support"}}
	case "ConsentWithdrawn":
		return map[string]any{"organisations": []string{"family-support"}}
	case "RiskAssessmentRecorded":
		return map[string]any{"tool": "VERA-2R", "assessed_at": "2026-02-01", "overall_judgement": "high", "notes": marker, "next_review_due": "2026-08-01"}
	case "NeedsAssessmentRecorded":
		return map[string]any{"needs": []any{map[string]any{"area": "housing", "level": "high", "note": marker}}}
	case "TreatmentPlanAdopted":
		return map[string]any{"goals": []any{map[string]any{"stage": "stabilisation", "description": marker, "responsible": "prison-service", "due": "2026-06-01", "id": "G1"}}}
	case "GoalUpdated":
		return map[string]any{"goal_id": "G1", "status": "in-progress", "date": "2026-03-04", "note": marker}
	case "PlanReviewed":
		return map[string]any{"date": "2026-03-05", "note": marker}
	case "Transferred":
		return map[string]any{"date": "2026-03-06", "facility": "JVA Süd", "regime": "mixed", "reason": marker}
	case "ParticipationChanged":
		return map[string]any{"participation": "mandated", "date": "2026-03-07", "reason": marker}
	case "ConferenceActionCompleted":
		return map[string]any{"action_id": "A1", "date": "2026-03-08", "note": marker}
	case "MentoringEnded":
		return map[string]any{"mentor_org": "exit-ngo", "ended_at": "2026-08-01", "note": marker}
	case "InterventionRecorded":
		return map[string]any{"practice_code": "08", "date": "2026-01-15", "format": "individual", "duration_minutes": 60, "summary": marker}
	case "CounsellingNoteAdded":
		return map[string]any{"date": "2026-03-01", "note": marker}
	case "CaseConferenceHeld":
		return map[string]any{"date": "2026-03-02", "participants": []string{"prison-service", "probation-service"}, "decisions": []string{marker},
			"actions": []any{map[string]any{"owner": "prison-service", "description": marker, "id": "A1"}}}
	case "IntelligenceNoteAdded":
		return map[string]any{"note": marker}
	case "RiskDisclosureRaised":
		return map[string]any{"concern": marker, "urgency": "urgent"}
	case "FamilyContactRecorded":
		return map[string]any{"date": "2026-03-03", "contact_type": "visit", "note": marker}
	case "TransitionPlanAgreed":
		return map[string]any{"planned_release": "2026-09-01", "housing": marker, "mentor_org": "exit-ngo"}
	case "MentorAssigned":
		return map[string]any{"mentor_org": "exit-ngo", "mentor_ref": "M-2026-17"}
	case "ReleaseScheduled":
		return map[string]any{"release_date": "2026-09-01"}
	case "ProbationHandoverCompleted":
		return map[string]any{"date": "2026-09-02", "officer_ref": "PO-2026-5"}
	case "Released":
		return map[string]any{"released_at": "2026-09-01"}
	case "OutcomeRecorded":
		return map[string]any{"follow_up_at": "2026-12-01", "months_since_release": 3, "recidivism": "none", "note": marker}
	}
	panic("niData: no data for " + typ)
}

// ---- one reader's scenario

type niScenario struct {
	h        *hub
	reader   niReader
	caseID   string
	requests *int
	n        int    // events appended, for markers
	pending  string // the erasure request to cancel
}

// setUp opens a case with consent for municipality, exit-ngo and
// family-support (so that they may read and write), and mints every token.
func (s *niScenario) setUp(t *testing.T) {
	t.Helper()
	for _, id := range []identity{s.reader.id, niPrisonCaseworker, niPrisonPsych, niPrisonManager, niProbation, niIntel, niExit, niFamily, niDPO, niDPO2} {
		s.h.token(id)
	}
	r := askHub(t, s.h, "POST", "/v1/cases", &niPrisonCaseworker, "", map[string]any{"subject_ref": "NI-2026-0001", "target_group": "islamist", "gender": "male", "regime": "dispersion"})
	*s.requests++
	if r.Status != http.StatusCreated {
		t.Fatalf("%s: opening the case: %d %s", s.reader.name, r.Status, r.Body)
	}
	s.caseID = r.json(t)["case_id"].(string)
	r = askHub(t, s.h, "POST", "/v1/cases/"+s.caseID+"/events", &niPrisonCaseworker, "", map[string]any{"type": "ConsentGiven", "data": niData("ConsentGiven", "")})
	*s.requests++
	if r.Status != http.StatusCreated {
		t.Fatalf("%s: consent: %d %s", s.reader.name, r.Status, r.Body)
	}
}

// checkBaseline makes sure the comparisons mean something: a case reader
// reads the case under each of its purposes, and a reader of no case gets
// 404 for it, as for an unknown id.
func (s *niScenario) checkBaseline(t *testing.T, snap niSnapshot) {
	t.Helper()
	for _, p := range s.reader.purposes {
		a := snap.answers[p+" GET case"]
		switch {
		case s.reader.readsCases && a.status != http.StatusOK:
			t.Fatalf("%s cannot read the case it should read (purpose %s): %d %s", s.reader.name, p, a.status, a.body)
		case !s.reader.readsCases && a.status != http.StatusNotFound:
			t.Errorf("%s, who reads no case, gets %d for one (purpose %s), want 404: %s", s.reader.name, a.status, p, a.body)
		}
	}
}

// write appends one hidden event and fails the subtest unless the hub
// accepts it; the answers are compared whatever happened, so that a write
// that did more than asked (an erasure at once) shows in them.
func (s *niScenario) write(t *testing.T, w niWrite) {
	t.Helper()
	s.n++
	*s.requests++
	marker := fmt.Sprintf("NI-HIDDEN-%02d %s", s.n, w.what)
	base := "/v1/cases/" + s.caseID
	switch w.kind {
	case "break-glass":
		r := askHub(t, s.h, "POST", base+"/break-glass", &w.as, "", map[string]string{"justification": "non-interference test: emergency review " + marker})
		if r.Status != http.StatusCreated {
			t.Errorf("break-glass as %s: %d %s", w.as.Sub, r.Status, r.Body)
		}
	case "erase":
		r := askHub(t, s.h, "POST", base+"/erase", &w.as, "oversight", map[string]string{"legal_basis": "subject-request", "reference": fmt.Sprintf("NI-REF-%02d", s.n)})
		if r.Status != http.StatusAccepted {
			t.Errorf("erasure request as %s: %d, want 202 (a request awaiting a second officer): %s", w.as.Sub, r.Status, r.Body)
			return
		}
		var out struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(r.Body, &out) != nil || out.RequestID == "" {
			t.Errorf("erasure request answered without a request_id: %s", r.Body)
		}
		s.pending = out.RequestID
	case "cancel":
		if s.pending == "" {
			t.Error("no erasure request to cancel: the request above failed")
			return
		}
		r := askHub(t, s.h, "POST", "/v1/erasures/"+s.pending+"/cancel", &w.as, "oversight", nil)
		s.pending = ""
		if r.Status != http.StatusOK {
			t.Errorf("cancelling the erasure request as %s: %d %s", w.as.Sub, r.Status, r.Body)
		}
	default:
		body := map[string]any{"type": w.typ, "data": niData(w.typ, marker)}
		if w.classification != "" {
			body["classification"] = w.classification
		}
		if len(w.shareWith) > 0 {
			body["share_with"] = w.shareWith
		}
		r := askHub(t, s.h, "POST", base+"/events", &w.as, "", body)
		if r.Status != http.StatusCreated {
			t.Errorf("append %s as %s/%s: %d %s", w.typ, w.as.Agency, w.as.Sub, r.Status, r.Body)
		}
	}
}

// niAnswer is one answer as compared: status and normalised body.
type niAnswer struct {
	status int
	body   []byte
}

// niSnapshot is every answer a reader gets, by "purpose what".
type niSnapshot struct {
	keys    []string
	answers map[string]niAnswer
}

var niSections = []string{"profile", "consent", "risk", "needs", "plan", "interventions", "counselling", "conferences", "security", "family", "transition", "outcomes"}

// snapshot reads every answer of the reader, under every purpose of its type
// and one refused purpose.
func (s *niScenario) snapshot(t *testing.T) niSnapshot {
	t.Helper()
	snap := niSnapshot{answers: map[string]niAnswer{}}
	base := "/v1/cases/" + s.caseID
	paths := []struct{ what, path string }{
		{"GET case", base},
		{"GET list", "/v1/cases"},
		// The console's list: newest first, the caseload, a search by
		// subject reference (which only readers of the reference match).
		{"GET list newest first", "/v1/cases?order=recent"},
		{"GET caseload", "/v1/cases?caseload=mine&order=recent"},
		{"GET search", "/v1/cases?q=ni-2026"},
		// What the console offers the reader to write.
		{"GET writable", base + "/writable"},
	}
	for _, st := range []string{"intake", "assessment", "intervention", "transition"} {
		paths = append(paths, struct{ what, path string }{"GET list at stage " + st, "/v1/cases?stage=" + st})
	}
	for _, sec := range niSections {
		paths = append(paths, struct{ what, path string }{"GET section " + sec, base + "/sections/" + sec})
	}
	paths = append(paths,
		struct{ what, path string }{"GET events", base + "/events"},
		struct{ what, path string }{"GET events after version 1", base + "/events?after_version=1"},
		// The feed from its start: every change of the reader's views, and
		// the cursor after them.
		struct{ what, path string }{"GET feed", "/v1/feed?limit=500"},
	)
	id := s.reader.id
	for _, p := range append(append([]string{}, s.reader.purposes...), s.reader.refused) {
		for _, q := range paths {
			r := askHub(t, s.h, "GET", q.path, &id, p, nil)
			*s.requests++
			key := p + " " + q.what
			snap.keys = append(snap.keys, key)
			snap.answers[key] = niAnswer{r.Status, niNormalise(r.Body, r.Header.Get("X-Request-Id"))}
		}
	}
	return snap
}

// niVolatile matches the JSON string fields that may differ between two reads
// of the same view: request ids and the clock.
var niVolatile = regexp.MustCompile(`"(request_id|instance|timestamp|time|now|served_at|generated_at)":"[^"]*"`)

// niNormalise blanks out request ids and clock fields; everything else of
// the body stays byte for byte.
func niNormalise(body []byte, requestID string) []byte {
	out := niVolatile.ReplaceAll(body, []byte(`"$1":"…"`))
	if requestID != "" {
		out = bytes.ReplaceAll(out, []byte(requestID), []byte("<request-id>"))
	}
	return out
}

// niCompare requires every answer of after to equal the one of before, and
// returns how many answers it compared.
func niCompare(t *testing.T, before, after niSnapshot) int {
	t.Helper()
	var diffs, statuses []string
	for _, k := range before.keys {
		a, b := before.answers[k], after.answers[k]
		if a.status != b.status || !bytes.Equal(a.body, b.body) {
			// Show the bodies from a little before where they part.
			at := 0
			for at < len(a.body) && at < len(b.body) && a.body[at] == b.body[at] {
				at++
			}
			from := max(0, at-120)
			diffs = append(diffs, fmt.Sprintf("%s (bodies part at byte %d):\n    before %d …%.400s\n    after  %d …%.400s", k, at, a.status, a.body[min(from, len(a.body)):], b.status, b.body[min(from, len(b.body)):]))
		}
		if a.status != b.status {
			statuses = append(statuses, fmt.Sprintf("%s %d→%d", k, a.status, b.status))
		}
	}
	if len(diffs) > 0 {
		shown := diffs[:min(len(diffs), 4)]
		var st string
		if len(statuses) > 0 {
			st = fmt.Sprintf("\n  statuses changed (%d): %s", len(statuses), strings.Join(statuses[:min(len(statuses), 12)], "; "))
		}
		t.Errorf("%d of %d answers changed:%s\n  %s", len(diffs), len(before.keys), st, strings.Join(shown, "\n  "))
	}
	return len(before.keys)
}

// askHub is hub.do for subtests: it fails t, not the test that started the
// hub, when the hub cannot be reached. Tokens are minted beforehand.
func askHub(t testing.TB, h *hub, method, path string, id *identity, purpose string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != nil {
		req.Header.Set("Authorization", "Bearer "+h.token(*id))
	}
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}
