package domain

import (
	"encoding/json"
	"slices"
	"strings"
)

// This file is the registry of event types (the mechanism is in registry.go):
// every event type of the contract is registered once, in the contract's
// order (registry, at the end), with its data, its strict decoder, and its
// spec: the sections it feeds, the stage it moves a case to, whether its data
// is unsealed, whether it may follow closure, and, for a type with its own
// endpoint, where that is. The schema of its data (DataSchema, and the
// OpenAPI document) is derived from its decoder.
//
// Adding an event type touches this file (its constant, its data struct and
// EventType method, its registration) and, in the policy bundle, its row in
// protocol/write/data.json and its field allow-list in
// protocol/fields/data.json (policies' TestBundleMatchesTheRegistry checks
// the three agree). The aggregate (case.go) and the projections' fast path
// (projections/internal/extract) change only for a type they must act on.

// Data is the typed content of one event (the "data" object of an append;
// docs/api.md, "Event types and their data").
type Data interface {
	// EventType returns the type of event this data belongs to.
	EventType() EventType
}

// EventType names a kind of case event.
type EventType string

// Event types, in the contract's order.
const (
	CaseOpened                 EventType = "CaseOpened"
	ConsentGiven               EventType = "ConsentGiven"
	ConsentWithdrawn           EventType = "ConsentWithdrawn"
	ParticipationChanged       EventType = "ParticipationChanged"
	Transferred                EventType = "Transferred"
	RiskAssessmentRecorded     EventType = "RiskAssessmentRecorded"
	NeedsAssessmentRecorded    EventType = "NeedsAssessmentRecorded"
	TreatmentPlanAdopted       EventType = "TreatmentPlanAdopted"
	GoalUpdated                EventType = "GoalUpdated"
	PlanReviewed               EventType = "PlanReviewed"
	InterventionRecorded       EventType = "InterventionRecorded"
	CounsellingNoteAdded       EventType = "CounsellingNoteAdded"
	CaseConferenceHeld         EventType = "CaseConferenceHeld"
	ConferenceActionCompleted  EventType = "ConferenceActionCompleted"
	IntelligenceNoteAdded      EventType = "IntelligenceNoteAdded"
	RiskDisclosureRaised       EventType = "RiskDisclosureRaised"
	FamilyContactRecorded      EventType = "FamilyContactRecorded"
	TransitionPlanAgreed       EventType = "TransitionPlanAgreed"
	MentorAssigned             EventType = "MentorAssigned"
	MentoringEnded             EventType = "MentoringEnded"
	ReleaseScheduled           EventType = "ReleaseScheduled"
	Released                   EventType = "Released"
	ProbationHandoverCompleted EventType = "ProbationHandoverCompleted"
	OutcomeRecorded            EventType = "OutcomeRecorded"
	CaseClosed                 EventType = "CaseClosed"
	CaseErased                 EventType = "CaseErased"
	BreakGlassInvoked          EventType = "BreakGlassInvoked"
	ErasureRequested           EventType = "ErasureRequested"
	ErasureCancelled           EventType = "ErasureCancelled"
)

// Event data, one type per event type (docs/api.md, "Event types and their
// data"). Field names are the JSON names of the API; optional fields are
// omitted when empty. A field added here later is withheld from every reader
// until a policy rule grants it.
type (
	// CaseOpenedData opens a case.
	CaseOpenedData struct {
		SubjectRef  string `json:"subject_ref"`
		TargetGroup string `json:"target_group"`
		Gender      string `json:"gender,omitempty"`
		Facility    string `json:"facility,omitempty"`
		Regime      string `json:"regime,omitempty"`
		Programme   string `json:"programme,omitempty"`
		SentenceEnd string `json:"sentence_end,omitempty"`
		// Participation is whether the person takes part voluntarily or by
		// mandate, at intake (Participations); ParticipationChanged records a
		// change.
		Participation string `json:"participation,omitempty"`
	}
	// ConsentGivenData records the participant's consent to share with organisations.
	ConsentGivenData struct {
		Organisations []string `json:"organisations"`
		ExpiresAt     string   `json:"expires_at,omitempty"`
		FormRef       string   `json:"form_ref,omitempty"`
	}
	// ConsentWithdrawnData revokes consent for organisations, or for all.
	ConsentWithdrawnData struct {
		Organisations []string `json:"organisations,omitempty"`
		All           bool     `json:"all,omitempty"`
	}
	// ParticipationChangedData records that the person's participation
	// became voluntary or mandated.
	ParticipationChangedData struct {
		Participation string `json:"participation"`
		Date          string `json:"date"`
		Reason        string `json:"reason,omitempty"`
	}
	// TransferredData records a move, on a date, to a facility (the same one
	// for a change of regime within it) and, when it changes, a detention
	// regime.
	TransferredData struct {
		Date     string `json:"date"`
		Facility string `json:"facility"`
		Regime   string `json:"regime,omitempty"`
		Reason   string `json:"reason,omitempty"`
	}
	// RiskAssessmentData is a structured professional judgement of risk: the
	// tool, the indicators rated on its scale and grouped by its domains,
	// and the assessor's overall judgement, which is the assessor's own and
	// never a score computed from the indicators (docs/domain.md, "Risk and
	// needs"). Domains is the older per-domain rating, still accepted.
	RiskAssessmentData struct {
		Tool                 string            `json:"tool"`
		AssessedAt           string            `json:"assessed_at"`
		OverallJudgement     string            `json:"overall_judgement"`
		Domains              map[string]string `json:"domains,omitempty"`
		ProtectiveFactors    []string          `json:"protective_factors,omitempty"`
		Notes                string            `json:"notes,omitempty"`
		NextReviewDue        string            `json:"next_review_due,omitempty"`
		Indicators           []Indicator       `json:"indicators,omitempty"`
		JudgementRationale   string            `json:"judgement_rationale,omitempty"`
		ChangeSincePrevious  string            `json:"change_since_previous,omitempty"`
		GenderConsiderations string            `json:"gender_considerations,omitempty"`
	}
	// Indicator is one indicator of a risk assessment: its domain and code
	// in the assessment's tool, and its rating on the tool's scale.
	Indicator struct {
		Domain    string `json:"domain"`
		Indicator string `json:"indicator"`
		Rating    string `json:"rating"`
		Note      string `json:"note,omitempty"`
	}
	// NeedsAssessmentData is a social diagnosis over need areas.
	NeedsAssessmentData struct {
		Needs []Need `json:"needs"`
	}
	// Need is one area of a needs assessment.
	Need struct {
		Area  string `json:"area"`
		Level string `json:"level"`
		Note  string `json:"note,omitempty"`
	}
	// TreatmentPlanData is an individual plan over the hierarchy of needs.
	TreatmentPlanData struct {
		Goals         []Goal `json:"goals"`
		NextReviewDue string `json:"next_review_due,omitempty"`
	}
	// Goal is one goal of a treatment plan: its level of the hierarchy of
	// needs, the organisation responsible, and, to connect and move it, its
	// id (by which GoalUpdated moves it and a later plan keeps it), the need
	// areas it answers, the risk domains it addresses and its status.
	Goal struct {
		Stage       string   `json:"stage"`
		Description string   `json:"description"`
		Responsible string   `json:"responsible"`
		Due         string   `json:"due,omitempty"`
		ID          string   `json:"id,omitempty"`
		Needs       []string `json:"needs,omitempty"`
		RiskDomains []string `json:"risk_domains,omitempty"`
		Status      string   `json:"status,omitempty"`
	}
	// GoalUpdatedData moves one goal of the plan to a status.
	GoalUpdatedData struct {
		GoalID string `json:"goal_id"`
		Status string `json:"status"`
		Date   string `json:"date"`
		Note   string `json:"note,omitempty"`
	}
	// PlanReviewedData records a review of the treatment plan.
	PlanReviewedData struct {
		Date          string `json:"date"`
		Note          string `json:"note,omitempty"`
		NextReviewDue string `json:"next_review_due,omitempty"`
	}
	// InterventionData records one intervention session: its practice, one
	// to one or in a group (of GroupSize), and where it belongs: a
	// programme, and the session's number in a series.
	InterventionData struct {
		PracticeCode    string `json:"practice_code"`
		Date            string `json:"date"`
		Format          string `json:"format,omitempty"`
		DurationMinutes *int   `json:"duration_minutes,omitempty"`
		Summary         string `json:"summary,omitempty"`
		GroupSize       *int   `json:"group_size,omitempty"`
		Programme       string `json:"programme,omitempty"`
		SeriesRef       string `json:"series_ref,omitempty"`
		SessionNumber   *int   `json:"session_number,omitempty"`
		SeriesLength    *int   `json:"series_length,omitempty"`
	}
	// CounsellingNoteData is a counsellor's note.
	CounsellingNoteData struct {
		Date string `json:"date"`
		Note string `json:"note"`
	}
	// CaseConferenceData records a multi-agency case conference.
	CaseConferenceData struct {
		Date         string   `json:"date"`
		Participants []string `json:"participants"`
		Decisions    []string `json:"decisions,omitempty"`
		Actions      []Action `json:"actions,omitempty"`
	}
	// Action is one action assigned by a case conference; an action with an
	// id can be marked done (ConferenceActionCompleted).
	Action struct {
		Owner       string `json:"owner"`
		Description string `json:"description"`
		Due         string `json:"due,omitempty"`
		ID          string `json:"id,omitempty"`
	}
	// ConferenceActionCompletedData marks a conference's action done.
	ConferenceActionCompletedData struct {
		ActionID string `json:"action_id"`
		Date     string `json:"date"`
		Note     string `json:"note,omitempty"`
	}
	// IntelligenceNoteData is an intelligence service's note.
	IntelligenceNoteData struct {
		Note          string `json:"note"`
		SourceGrading string `json:"source_grading,omitempty"`
		AssessedAt    string `json:"assessed_at,omitempty"`
	}
	// RiskDisclosureData is a disclosure to security by a worker (duty to warn).
	RiskDisclosureData struct {
		Concern string `json:"concern"`
		Urgency string `json:"urgency"`
	}
	// FamilyContactData records contact with the family or social network.
	FamilyContactData struct {
		Date        string `json:"date"`
		ContactType string `json:"contact_type,omitempty"`
		Note        string `json:"note,omitempty"`
	}
	// TransitionPlanData is the plan for release.
	TransitionPlanData struct {
		PlannedRelease string   `json:"planned_release"`
		Housing        string   `json:"housing,omitempty"`
		Employment     string   `json:"employment,omitempty"`
		MentorOrg      string   `json:"mentor_org,omitempty"`
		Arrangements   []string `json:"arrangements,omitempty"`
	}
	// MentorAssignedData assigns a mentoring organisation: mentoring starts
	// (on StartedAt, when given).
	MentorAssignedData struct {
		MentorOrg string `json:"mentor_org"`
		MentorRef string `json:"mentor_ref,omitempty"`
		StartedAt string `json:"started_at,omitempty"`
	}
	// MentoringEndedData records the end of an organisation's mentoring.
	MentoringEndedData struct {
		MentorOrg string `json:"mentor_org"`
		EndedAt   string `json:"ended_at"`
		Reason    string `json:"reason,omitempty"`
		Note      string `json:"note,omitempty"`
	}
	// ReleaseScheduledData schedules the release.
	ReleaseScheduledData struct {
		ReleaseDate string `json:"release_date"`
	}
	// ReleasedData records the release.
	ReleasedData struct {
		ReleasedAt string `json:"released_at"`
	}
	// ProbationHandoverData records the hand-over to probation.
	ProbationHandoverData struct {
		Date       string `json:"date"`
		OfficerRef string `json:"officer_ref,omitempty"`
	}
	// OutcomeData records a follow-up outcome, honestly: the reintegration
	// dimensions and recidivism observed, and the hard cases (heavy
	// psychological support needed, citizenship lost, left without support
	// after release, deceased, lost to follow-up), each true, false or not
	// recorded (docs/domain.md, "Outcomes").
	OutcomeData struct {
		FollowUpAt                string         `json:"follow_up_at"`
		MonthsSinceRelease        *int           `json:"months_since_release,omitempty"`
		Reintegration             *Reintegration `json:"reintegration,omitempty"`
		Recidivism                string         `json:"recidivism,omitempty"`
		Note                      string         `json:"note,omitempty"`
		HeavyPsychologicalSupport *bool          `json:"heavy_psychological_support,omitempty"`
		CitizenshipLost           *bool          `json:"citizenship_lost,omitempty"`
		NoSupportAfterRelease     *bool          `json:"no_support_after_release,omitempty"`
		Deceased                  *bool          `json:"deceased,omitempty"`
		LostToFollowUp            *bool          `json:"lost_to_follow_up,omitempty"`
	}
	// Reintegration says which parts of reintegration succeeded: housing,
	// work (employment), education, the social network, the family.
	Reintegration struct {
		Housing       *bool `json:"housing,omitempty"`
		Employment    *bool `json:"employment,omitempty"`
		SocialNetwork *bool `json:"social_network,omitempty"`
		Education     *bool `json:"education,omitempty"`
		Family        *bool `json:"family,omitempty"`
	}
	// CaseClosedData closes a case.
	CaseClosedData struct {
		Reason string `json:"reason"`
	}
	// CaseErasedData erases a case's content (crypto-shredding): the second
	// officer's confirmation of an ErasureRequested (RequestID), or the
	// retention job's erasure (no request). Its data is stored unsealed: codes
	// and references, never content (Sealed).
	CaseErasedData struct {
		LegalBasis string `json:"legal_basis"`
		Reference  string `json:"reference,omitempty"`
		RequestID  string `json:"request_id,omitempty"`
	}
	// ErasureRequestedData is a data-protection officer's request to erase a
	// case, which another officer must confirm before ExpiresAt (RFC 3339, set
	// by the hub from the policy). The request's id is the event's id. Stored
	// unsealed (Sealed).
	ErasureRequestedData struct {
		LegalBasis string `json:"legal_basis"`
		Reference  string `json:"reference,omitempty"`
		ExpiresAt  string `json:"expires_at"`
	}
	// ErasureCancelledData withdraws a pending erasure request. Stored
	// unsealed (Sealed).
	ErasureCancelledData struct {
		RequestID string `json:"request_id"`
	}
	// BreakGlassData grants emergency read access to its author until ExpiresAt
	// (RFC 3339, set by the hub from the policy's duration).
	BreakGlassData struct {
		Justification string `json:"justification"`
		ExpiresAt     string `json:"expires_at"`
	}
)

// EventType implementations.
func (CaseOpenedData) EventType() EventType                { return CaseOpened }
func (ConsentGivenData) EventType() EventType              { return ConsentGiven }
func (ConsentWithdrawnData) EventType() EventType          { return ConsentWithdrawn }
func (ParticipationChangedData) EventType() EventType      { return ParticipationChanged }
func (TransferredData) EventType() EventType               { return Transferred }
func (GoalUpdatedData) EventType() EventType               { return GoalUpdated }
func (PlanReviewedData) EventType() EventType              { return PlanReviewed }
func (ConferenceActionCompletedData) EventType() EventType { return ConferenceActionCompleted }
func (MentoringEndedData) EventType() EventType            { return MentoringEnded }
func (RiskAssessmentData) EventType() EventType            { return RiskAssessmentRecorded }
func (NeedsAssessmentData) EventType() EventType           { return NeedsAssessmentRecorded }
func (TreatmentPlanData) EventType() EventType             { return TreatmentPlanAdopted }
func (InterventionData) EventType() EventType              { return InterventionRecorded }
func (CounsellingNoteData) EventType() EventType           { return CounsellingNoteAdded }
func (CaseConferenceData) EventType() EventType            { return CaseConferenceHeld }
func (IntelligenceNoteData) EventType() EventType          { return IntelligenceNoteAdded }
func (RiskDisclosureData) EventType() EventType            { return RiskDisclosureRaised }
func (FamilyContactData) EventType() EventType             { return FamilyContactRecorded }
func (TransitionPlanData) EventType() EventType            { return TransitionPlanAgreed }
func (MentorAssignedData) EventType() EventType            { return MentorAssigned }
func (ReleaseScheduledData) EventType() EventType          { return ReleaseScheduled }
func (ReleasedData) EventType() EventType                  { return Released }
func (ProbationHandoverData) EventType() EventType         { return ProbationHandoverCompleted }
func (OutcomeData) EventType() EventType                   { return OutcomeRecorded }
func (CaseClosedData) EventType() EventType                { return CaseClosed }
func (CaseErasedData) EventType() EventType                { return CaseErased }
func (BreakGlassData) EventType() EventType                { return BreakGlassInvoked }
func (ErasureRequestedData) EventType() EventType          { return ErasureRequested }
func (ErasureCancelledData) EventType() EventType          { return ErasureCancelled }

// sections is shorthand for the sections a type feeds.
func sections(s ...Section) []Section { return s }

// registry registers every event type, in the contract's order. Each decoder
// reads and validates the data of its type and returns a value (not a
// pointer), so that Data values compare and copy simply; run in describe mode
// it gives the type's DataSchema.
var registry = newRegistry(
	register(CaseOpened, spec{Sections: sections(SectionProfile), Stage: StageIntake, Endpoint: "open a case with POST /v1/cases", Example: `{"subject_ref":"P-2026-0001","target_group":"islamist","gender":"male","facility":"JVA Nord","regime":"dispersion","programme":"exit-pathway","sentence_end":"2027-09-30","participation":"voluntary"}`},
		func(r *fieldReader) CaseOpenedData {
			d := CaseOpenedData{
				SubjectRef:  r.ref("subject_ref", true),
				TargetGroup: r.enum("target_group", true, TargetGroups),
				Gender:      r.enum("gender", false, Genders),
				Facility:    r.line("facility", false),
				Regime:      r.enum("regime", false, Regimes),
				Programme:   r.line("programme", false),
				SentenceEnd: r.date("sentence_end", false),
				// Participation at intake; ParticipationChanged records a change.
				Participation: r.enum("participation", false, Participations),
			}
			r.check(d.SubjectRef == "" || looksPseudonymous(d.SubjectRef), "subject_ref", "must be a pseudonymous reference holding at least one digit, never a name")
			return d
		}),
	register(ConsentGiven, spec{Sections: sections(SectionConsent), Example: `{"organisations":["exit-ngo","municipality"],"expires_at":"2027-01-31","form_ref":"F-1"}`},
		func(r *fieldReader) ConsentGivenData {
			return ConsentGivenData{
				Organisations: r.orgs("organisations", true, true),
				ExpiresAt:     r.date("expires_at", false),
				FormRef:       r.ref("form_ref", false),
			}
		}),
	register(ConsentWithdrawn, spec{Sections: sections(SectionConsent), Example: `{"organisations":["exit-ngo"]}`},
		func(r *fieldReader) ConsentWithdrawnData {
			d := ConsentWithdrawnData{Organisations: r.orgs("organisations", false, false)}
			if all := r.boolean("all"); all != nil {
				d.All = *all
			}
			r.check(d.All || len(d.Organisations) > 0, "organisations", "must name at least one organisation, or all must be true")
			r.check(!d.All || len(d.Organisations) == 0, "all", "must not be given together with organisations")
			return d
		}),
	register(ParticipationChanged, spec{Sections: sections(SectionProfile), Example: `{"participation":"mandated","date":"2026-04-01","reason":"made a condition of the licence"}`},
		func(r *fieldReader) ParticipationChangedData {
			return ParticipationChangedData{
				Participation: r.enum("participation", true, Participations),
				Date:          r.date("date", true),
				Reason:        r.line("reason", false),
			}
		}),
	register(Transferred, spec{Sections: sections(SectionProfile), Example: `{"date":"2026-05-04","facility":"JVA Süd","regime":"mixed","reason":"separation order ended"}`},
		func(r *fieldReader) TransferredData {
			return TransferredData{
				Date:     r.date("date", true),
				Facility: r.line("facility", true),
				Regime:   r.enum("regime", false, Regimes),
				Reason:   r.line("reason", false),
			}
		}),
	register(RiskAssessmentRecorded, spec{Sections: sections(SectionRisk), Stage: StageAssessment, Example: `{"tool":"VERA-2R","assessed_at":"2026-02-01","overall_judgement":"moderate","domains":{"beliefs-attitudes":"high"},"protective_factors":["family contact"],"notes":"n","next_review_due":"2026-08-01","indicators":[{"domain":"beliefs-attitudes","indicator":"BA1","rating":"high","note":"n"},{"domain":"protective-resilience","indicator":"P2","rating":"moderate"}],"judgement_rationale":"firm beliefs, but no intent shown and family ties hold","change_since_previous":"unchanged","gender_considerations":"role of the partner in the milieu"}`},
		func(r *fieldReader) RiskAssessmentData {
			d := RiskAssessmentData{
				// The tool is a line, not a ref, so that ERG22+ is a tool.
				Tool:              r.text("tool", true, textLine, MaxRefLen),
				AssessedAt:        r.date("assessed_at", true),
				OverallJudgement:  r.enum("overall_judgement", true, Judgements),
				Domains:           r.enumMap("domains", false, "domain name", Judgements),
				ProtectiveFactors: r.stringsOf("protective_factors", false, false, textLine, MaxShortTextLen),
				Notes:             r.free("notes", false),
				NextReviewDue:     r.date("next_review_due", false),
			}
			tool := RiskToolOf(d.Tool)
			r.array("indicators", false, false, func(path string, v json.RawMessage) {
				r.elem(path, v, func(o *fieldReader) {
					in := Indicator{
						Domain:    o.ref("domain", true),
						Indicator: o.ref("indicator", true),
						Rating:    o.enum("rating", true, riskRatings()),
						Note:      o.free("note", false),
					}
					o.check(in.Domain == "" || tool.Domains == nil || slices.Contains(tool.Domains, in.Domain), "domain", "must be a domain of the assessment's tool ("+riskToolFrames(func(t RiskTool) []string { return t.Domains })+")")
					o.check(in.Rating == "" || slices.Contains(tool.Scale, in.Rating), "rating", "must be on the scale of the assessment's tool ("+riskToolFrames(func(t RiskTool) []string { return t.Scale })+")")
					d.Indicators = append(d.Indicators, in)
				})
			})
			d.JudgementRationale = r.free("judgement_rationale", false)
			d.ChangeSincePrevious = r.enum("change_since_previous", false, RiskChanges)
			d.GenderConsiderations = r.free("gender_considerations", false)
			return d
		}),
	register(NeedsAssessmentRecorded, spec{Sections: sections(SectionNeeds), Stage: StageAssessment, Example: `{"needs":[{"area":"housing","level":"high","note":"no address"}]}`},
		func(r *fieldReader) NeedsAssessmentData {
			d := NeedsAssessmentData{Needs: []Need{}}
			r.array("needs", true, false, func(path string, v json.RawMessage) {
				r.elem(path, v, func(o *fieldReader) {
					d.Needs = append(d.Needs, Need{
						Area:  o.enum("area", true, NeedAreas),
						Level: o.enum("level", true, NeedLevels),
						Note:  o.free("note", false),
					})
				})
			})
			return d
		}),
	register(TreatmentPlanAdopted, spec{Sections: sections(SectionPlan), Stage: StageIntervention, Example: `{"goals":[{"stage":"basic-needs","description":"stable housing","responsible":"municipality","due":"2027-01-01","id":"G1","needs":["housing"],"risk_domains":["context-intent"],"status":"planned"}],"next_review_due":"2026-09-01"}`},
		func(r *fieldReader) TreatmentPlanData {
			d := TreatmentPlanData{Goals: []Goal{}}
			ids := map[string]bool{}
			r.array("goals", true, true, func(path string, v json.RawMessage) {
				r.elem(path, v, func(o *fieldReader) {
					g := Goal{
						Stage:       o.enum("stage", true, PlanStages),
						Description: o.free("description", true),
						Responsible: o.org("responsible", true),
						Due:         o.date("due", false),
						ID:          o.ref("id", false),
						Needs:       o.enumList("needs", false, false, NeedAreas),
						RiskDomains: o.stringsOf("risk_domains", false, false, textRef, MaxRefLen),
						Status:      o.enum("status", false, GoalStatuses),
					}
					o.check(g.ID == "" || !ids[g.ID], "id", "must be unique within the plan")
					ids[g.ID] = true
					d.Goals = append(d.Goals, g)
				})
			})
			d.NextReviewDue = r.date("next_review_due", false)
			return d
		}),
	register(GoalUpdated, spec{Sections: sections(SectionPlan), Example: `{"goal_id":"G1","status":"in-progress","date":"2026-04-15","note":"flat viewings arranged"}`},
		func(r *fieldReader) GoalUpdatedData {
			return GoalUpdatedData{
				GoalID: r.ref("goal_id", true),
				Status: r.enum("status", true, GoalStatuses),
				Date:   r.date("date", true),
				Note:   r.free("note", false),
			}
		}),
	register(PlanReviewed, spec{Sections: sections(SectionPlan), Example: `{"date":"2026-06-01","note":"housing goal on track; identity work to start","next_review_due":"2026-12-01"}`},
		func(r *fieldReader) PlanReviewedData {
			return PlanReviewedData{Date: r.date("date", true), Note: r.free("note", false), NextReviewDue: r.date("next_review_due", false)}
		}),
	register(InterventionRecorded, spec{Sections: sections(SectionInterventions), Example: `{"practice_code":"08","date":"2026-03-01","format":"group","duration_minutes":90,"summary":"s","group_size":12,"programme":"empathy and media literacy","series_ref":"EML-2026-1","session_number":3,"series_length":20}`},
		func(r *fieldReader) InterventionData {
			codes, names := practiceCodes()
			d := InterventionData{
				PracticeCode:    r.named("practice_code", true, codes, names),
				Date:            r.date("date", true),
				Format:          r.enum("format", false, Formats),
				DurationMinutes: r.integer("duration_minutes", false, 1, 24*60),
				Summary:         r.free("summary", false),
				GroupSize:       r.integer("group_size", false, 2, MaxGroupSize),
				Programme:       r.line("programme", false),
				SeriesRef:       r.ref("series_ref", false),
				SessionNumber:   r.integer("session_number", false, 1, MaxSeriesLength),
				SeriesLength:    r.integer("series_length", false, 1, MaxSeriesLength),
			}
			r.check(d.SessionNumber == nil || d.SeriesRef != "", "session_number", "needs series_ref, the series the session belongs to")
			r.check(d.SessionNumber == nil || d.SeriesLength == nil || *d.SessionNumber <= *d.SeriesLength, "session_number", "must not exceed series_length")
			return d
		}),
	register(CounsellingNoteAdded, spec{Sections: sections(SectionCounselling), Example: `{"date":"2026-03-01","note":"line one\nline two"}`},
		func(r *fieldReader) CounsellingNoteData {
			return CounsellingNoteData{Date: r.date("date", true), Note: r.free("note", true)}
		}),
	register(CaseConferenceHeld, spec{Sections: sections(SectionConferences), Example: `{"date":"2026-03-01","participants":["prison-service","municipality"],"decisions":["d"],"actions":[{"owner":"municipality","description":"find a flat","due":"2026-05-01","id":"A1"}]}`},
		func(r *fieldReader) CaseConferenceData {
			d := CaseConferenceData{
				Date:         r.date("date", true),
				Participants: r.orgs("participants", true, true),
				Decisions:    r.stringsOf("decisions", false, false, textFree, MaxShortTextLen),
			}
			ids := map[string]bool{}
			r.array("actions", false, false, func(path string, v json.RawMessage) {
				r.elem(path, v, func(o *fieldReader) {
					a := Action{
						Owner:       o.org("owner", true),
						Description: o.free("description", true),
						Due:         o.date("due", false),
						ID:          o.ref("id", false),
					}
					o.check(a.ID == "" || !ids[a.ID], "id", "must be unique within the conference")
					ids[a.ID] = true
					d.Actions = append(d.Actions, a)
				})
			})
			return d
		}),
	register(ConferenceActionCompleted, spec{Sections: sections(SectionConferences), Example: `{"action_id":"A1","date":"2026-04-20","note":"tenancy signed"}`},
		func(r *fieldReader) ConferenceActionCompletedData {
			return ConferenceActionCompletedData{ActionID: r.ref("action_id", true), Date: r.date("date", true), Note: r.free("note", false)}
		}),
	register(IntelligenceNoteAdded, spec{Sections: sections(SectionSecurity), Example: `{"note":"n","source_grading":"B2","assessed_at":"2026-03-01"}`},
		func(r *fieldReader) IntelligenceNoteData {
			return IntelligenceNoteData{
				Note:          r.free("note", true),
				SourceGrading: r.ref("source_grading", false),
				AssessedAt:    r.date("assessed_at", false),
			}
		}),
	register(RiskDisclosureRaised, spec{Sections: sections(SectionSecurity), Example: `{"concern":"talks of travelling","urgency":"urgent"}`},
		func(r *fieldReader) RiskDisclosureData {
			return RiskDisclosureData{Concern: r.free("concern", true), Urgency: r.enum("urgency", true, Urgencies)}
		}),
	register(FamilyContactRecorded, spec{Sections: sections(SectionFamily), Example: `{"date":"2026-03-01","contact_type":"visit","note":"n"}`},
		func(r *fieldReader) FamilyContactData {
			return FamilyContactData{Date: r.date("date", true), ContactType: r.line("contact_type", false), Note: r.free("note", false)}
		}),
	register(TransitionPlanAgreed, spec{Sections: sections(SectionTransition), Stage: StageTransition, Example: `{"planned_release":"2027-09-30","housing":"supported flat","employment":"workshop","mentor_org":"exit-ngo","arrangements":["weekly meeting"]}`},
		func(r *fieldReader) TransitionPlanData {
			return TransitionPlanData{
				PlannedRelease: r.date("planned_release", true),
				Housing:        r.line("housing", false),
				Employment:     r.line("employment", false),
				MentorOrg:      r.org("mentor_org", false),
				Arrangements:   r.stringsOf("arrangements", false, false, textFree, MaxShortTextLen),
			}
		}),
	register(MentorAssigned, spec{Sections: sections(SectionTransition), Example: `{"mentor_org":"exit-ngo","mentor_ref":"M-12","started_at":"2027-06-01"}`},
		func(r *fieldReader) MentorAssignedData {
			return MentorAssignedData{MentorOrg: r.org("mentor_org", true), MentorRef: r.ref("mentor_ref", false), StartedAt: r.date("started_at", false)}
		}),
	register(MentoringEnded, spec{Sections: sections(SectionTransition), Example: `{"mentor_org":"exit-ngo","ended_at":"2028-06-01","reason":"completed","note":"n"}`},
		func(r *fieldReader) MentoringEndedData {
			return MentoringEndedData{
				MentorOrg: r.org("mentor_org", true),
				EndedAt:   r.date("ended_at", true),
				Reason:    r.enum("reason", false, MentoringEndings),
				Note:      r.free("note", false),
			}
		}),
	register(ReleaseScheduled, spec{Sections: sections(SectionProfile, SectionTransition), Stage: StageTransition, Example: `{"release_date":"2027-09-30"}`},
		func(r *fieldReader) ReleaseScheduledData {
			return ReleaseScheduledData{ReleaseDate: r.date("release_date", true)}
		}),
	register(Released, spec{Sections: sections(SectionProfile), Stage: StageReleased, Example: `{"released_at":"2027-09-30"}`},
		func(r *fieldReader) ReleasedData {
			return ReleasedData{ReleasedAt: r.date("released_at", true)}
		}),
	register(ProbationHandoverCompleted, spec{Sections: sections(SectionTransition), Stage: StageTransition, Example: `{"date":"2027-10-01","officer_ref":"PO-7"}`},
		func(r *fieldReader) ProbationHandoverData {
			return ProbationHandoverData{Date: r.date("date", true), OfficerRef: r.ref("officer_ref", false)}
		}),
	register(OutcomeRecorded, spec{Sections: sections(SectionOutcomes), Example: `{"follow_up_at":"2028-03-30","months_since_release":6,"reintegration":{"housing":true,"employment":false,"social_network":true,"education":true,"family":true},"recidivism":"none","note":"n","heavy_psychological_support":false,"citizenship_lost":false,"no_support_after_release":false,"deceased":false,"lost_to_follow_up":false}`},
		func(r *fieldReader) OutcomeData {
			d := OutcomeData{
				FollowUpAt:         r.date("follow_up_at", true),
				MonthsSinceRelease: r.integer("months_since_release", false, 0, 1200),
			}
			r.object("reintegration", false, func(o *fieldReader) {
				d.Reintegration = &Reintegration{
					Housing: o.boolean("housing"), Employment: o.boolean("employment"), SocialNetwork: o.boolean("social_network"),
					Education: o.boolean("education"), Family: o.boolean("family"),
				}
			})
			d.Recidivism = r.enum("recidivism", false, RecidivismKind)
			d.Note = r.free("note", false)
			d.HeavyPsychologicalSupport = r.boolean("heavy_psychological_support")
			d.CitizenshipLost = r.boolean("citizenship_lost")
			d.NoSupportAfterRelease = r.boolean("no_support_after_release")
			d.Deceased = r.boolean("deceased")
			d.LostToFollowUp = r.boolean("lost_to_follow_up")
			lost := d.LostToFollowUp != nil && *d.LostToFollowUp
			r.check(!lost || d.Reintegration == nil, "reintegration", "must be left out when lost_to_follow_up is true: nothing was observed")
			r.check(!lost || d.Recidivism == "", "recidivism", "must be left out when lost_to_follow_up is true: nothing was observed")
			return d
		}),
	register(CaseClosed, spec{Sections: sections(SectionProfile), Stage: StageClosed, Example: `{"reason":"programme completed"}`},
		func(r *fieldReader) CaseClosedData {
			return CaseClosedData{Reason: r.line("reason", true)}
		}),
	// The erasure's events and break-glass feed no section: no reader reads
	// them. The erasure's data holds codes and references, never content.
	register(CaseErased, spec{Unsealed: true, AfterClose: true, Endpoint: "erase a case with POST /v1/cases/{id}/erase, confirmed by a second officer", Example: `{"legal_basis":"court-order","reference":"COURT-2026-17","request_id":"0b8e9f4c-2f8e-4e4e-9d51-4a3c9c3f1a2b"}`},
		func(r *fieldReader) CaseErasedData {
			d := CaseErasedData{}
			d.LegalBasis, d.Reference = r.erasureBasis()
			d.RequestID = r.ref("request_id", false)
			return d
		}),
	register(BreakGlassInvoked, spec{Endpoint: "invoke break-glass with POST /v1/cases/{id}/break-glass", Example: `{"justification":"imminent threat reported","expires_at":"2026-11-26T21:00:00Z"}`},
		func(r *fieldReader) BreakGlassData {
			return BreakGlassData{Justification: r.free("justification", true), ExpiresAt: r.instant("expires_at", true)}
		}),
	register(ErasureRequested, spec{Unsealed: true, AfterClose: true, Endpoint: "request an erasure with POST /v1/cases/{id}/erase", Example: `{"legal_basis":"other","reference":"DPA decision 12/2026","expires_at":"2026-12-03T10:00:00Z"}`},
		func(r *fieldReader) ErasureRequestedData {
			d := ErasureRequestedData{}
			d.LegalBasis, d.Reference = r.erasureBasis()
			d.ExpiresAt = r.instant("expires_at", true)
			return d
		}),
	register(ErasureCancelled, spec{Unsealed: true, AfterClose: true, Endpoint: "cancel an erasure request with POST /v1/erasures/{request_id}/cancel", Example: `{"request_id":"0b8e9f4c-2f8e-4e4e-9d51-4a3c9c3f1a2b"}`},
		func(r *fieldReader) ErasureCancelledData {
			return ErasureCancelledData{RequestID: r.ref("request_id", true)}
		}),
)

// erasureBasis reads the legal basis of an erasure (one of LegalBases) and
// its reference (a line of at most MaxErasureReference characters, required
// when the basis is "other").
func (r *fieldReader) erasureBasis() (basis, reference string) {
	basis = r.enum("legal_basis", true, LegalBases)
	reference = r.text("reference", false, textLine, MaxErasureReference)
	r.check(basis != LegalBasisOther || reference != "", "reference", "is required when legal_basis is other: say what the basis is")
	return basis, reference
}

// looksPseudonymous is the hub's guard against names in subject_ref: a reference
// is letters, digits and . _ : / - (no spaces) and holds at least one digit.
func looksPseudonymous(ref string) bool {
	for _, c := range ref {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// Bounds of an intervention's group and series.
const (
	MaxGroupSize    = 200
	MaxSeriesLength = 1000
)

// riskToolFrames writes, for a rule's message, what each known tool allows
// (its domains, or its scale: part), e.g. "VERA-2R: low, moderate, high;
// …; any other tool: …".
func riskToolFrames(part func(RiskTool) []string) string {
	var b strings.Builder
	for i, t := range RiskTools {
		if i > 0 {
			b.WriteString("; ")
		}
		name := t.Name
		if name == RiskToolOther.Name {
			name = "any other tool"
		}
		b.WriteString(name)
		b.WriteString(": ")
		if vals := part(t); vals != nil {
			b.WriteString(strings.Join(vals, ", "))
		} else {
			b.WriteString("any domain")
		}
	}
	return b.String()
}
