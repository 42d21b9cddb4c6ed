package domain

import (
	"encoding/json"
	"fmt"
)

// Data is the typed content of one event (the "data" object of CONTRACT.md).
type Data interface {
	// EventType returns the type of event this data belongs to.
	EventType() EventType
}

// Event data, one type per event type of CONTRACT.md. Field names are the JSON
// names of the contract; optional fields are omitted when empty. A field added
// here later is withheld from every reader until a policy rule grants it.
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
	// RiskAssessmentData is a structured professional judgement of risk.
	RiskAssessmentData struct {
		Tool              string            `json:"tool"`
		AssessedAt        string            `json:"assessed_at"`
		OverallJudgement  string            `json:"overall_judgement"`
		Domains           map[string]string `json:"domains,omitempty"`
		ProtectiveFactors []string          `json:"protective_factors,omitempty"`
		Notes             string            `json:"notes,omitempty"`
		NextReviewDue     string            `json:"next_review_due,omitempty"`
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
		Goals []Goal `json:"goals"`
	}
	// Goal is one goal of a treatment plan.
	Goal struct {
		Stage       string `json:"stage"`
		Description string `json:"description"`
		Responsible string `json:"responsible"`
		Due         string `json:"due,omitempty"`
	}
	// InterventionData records one intervention session.
	InterventionData struct {
		PracticeCode    string `json:"practice_code"`
		Date            string `json:"date"`
		Format          string `json:"format,omitempty"`
		DurationMinutes *int   `json:"duration_minutes,omitempty"`
		Summary         string `json:"summary,omitempty"`
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
	// Action is one action assigned by a case conference.
	Action struct {
		Owner       string `json:"owner"`
		Description string `json:"description"`
		Due         string `json:"due,omitempty"`
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
	// MentorAssignedData assigns a mentoring organisation.
	MentorAssignedData struct {
		MentorOrg string `json:"mentor_org"`
		MentorRef string `json:"mentor_ref,omitempty"`
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
	// OutcomeData records a follow-up outcome.
	OutcomeData struct {
		FollowUpAt         string         `json:"follow_up_at"`
		MonthsSinceRelease *int           `json:"months_since_release,omitempty"`
		Reintegration      *Reintegration `json:"reintegration,omitempty"`
		Recidivism         string         `json:"recidivism,omitempty"`
		Note               string         `json:"note,omitempty"`
	}
	// Reintegration says which parts of reintegration succeeded.
	Reintegration struct {
		Housing       *bool `json:"housing,omitempty"`
		Employment    *bool `json:"employment,omitempty"`
		SocialNetwork *bool `json:"social_network,omitempty"`
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
func (CaseOpenedData) EventType() EventType        { return CaseOpened }
func (ConsentGivenData) EventType() EventType      { return ConsentGiven }
func (ConsentWithdrawnData) EventType() EventType  { return ConsentWithdrawn }
func (RiskAssessmentData) EventType() EventType    { return RiskAssessmentRecorded }
func (NeedsAssessmentData) EventType() EventType   { return NeedsAssessmentRecorded }
func (TreatmentPlanData) EventType() EventType     { return TreatmentPlanAdopted }
func (InterventionData) EventType() EventType      { return InterventionRecorded }
func (CounsellingNoteData) EventType() EventType   { return CounsellingNoteAdded }
func (CaseConferenceData) EventType() EventType    { return CaseConferenceHeld }
func (IntelligenceNoteData) EventType() EventType  { return IntelligenceNoteAdded }
func (RiskDisclosureData) EventType() EventType    { return RiskDisclosureRaised }
func (FamilyContactData) EventType() EventType     { return FamilyContactRecorded }
func (TransitionPlanData) EventType() EventType    { return TransitionPlanAgreed }
func (MentorAssignedData) EventType() EventType    { return MentorAssigned }
func (ReleaseScheduledData) EventType() EventType  { return ReleaseScheduled }
func (ReleasedData) EventType() EventType          { return Released }
func (ProbationHandoverData) EventType() EventType { return ProbationHandoverCompleted }
func (OutcomeData) EventType() EventType           { return OutcomeRecorded }
func (CaseClosedData) EventType() EventType        { return CaseClosed }
func (CaseErasedData) EventType() EventType        { return CaseErased }
func (BreakGlassData) EventType() EventType        { return BreakGlassInvoked }
func (ErasureRequestedData) EventType() EventType  { return ErasureRequested }
func (ErasureCancelledData) EventType() EventType  { return ErasureCancelled }

// decoders read and validate the data of each event type; each returns a value
// (not a pointer) so that Data values compare and copy simply.
var decoders = map[EventType]func(r *fieldReader) Data{
	CaseOpened: func(r *fieldReader) Data {
		d := CaseOpenedData{
			SubjectRef:  r.ref("subject_ref", true),
			TargetGroup: r.enum("target_group", true, TargetGroups),
			Gender:      r.enum("gender", false, Genders),
			Facility:    r.line("facility", false),
			Regime:      r.enum("regime", false, Regimes),
			Programme:   r.line("programme", false),
			SentenceEnd: r.date("sentence_end", false),
		}
		if d.SubjectRef != "" && !looksPseudonymous(d.SubjectRef) {
			r.fail("subject_ref", "must be a pseudonymous reference holding at least one digit, never a name")
		}
		return d
	},
	ConsentGiven: func(r *fieldReader) Data {
		return ConsentGivenData{
			Organisations: r.orgs("organisations", true, true),
			ExpiresAt:     r.date("expires_at", false),
			FormRef:       r.ref("form_ref", false),
		}
	},
	ConsentWithdrawn: func(r *fieldReader) Data {
		d := ConsentWithdrawnData{Organisations: r.orgs("organisations", false, false)}
		if all := r.boolean("all"); all != nil {
			d.All = *all
		}
		if !d.All && len(d.Organisations) == 0 {
			r.fail("organisations", "must name at least one organisation, or all must be true")
		}
		if d.All && len(d.Organisations) > 0 {
			r.fail("all", "must not be given together with organisations")
		}
		return d
	},
	RiskAssessmentRecorded: func(r *fieldReader) Data {
		d := RiskAssessmentData{
			Tool:             r.ref("tool", true),
			AssessedAt:       r.date("assessed_at", true),
			OverallJudgement: r.enum("overall_judgement", true, Judgements),
		}
		r.object("domains", false, func(o *fieldReader) {
			d.Domains = map[string]string{}
			for _, k := range o.keys {
				if msg := checkText(k, textRef, MaxRefLen); msg != "" || k == "" {
					o.fail(k, "is not a valid domain name")
					o.used[k] = true
					continue
				}
				if v := o.enum(k, true, Judgements); v != "" {
					d.Domains[k] = v
				}
			}
			if len(o.keys) > MaxListLen {
				r.fail("domains", fmt.Sprintf("must have at most %d entries", MaxListLen))
			}
		})
		d.ProtectiveFactors = r.stringsOf("protective_factors", false, false, textLine, MaxShortTextLen)
		d.Notes = r.free("notes", false)
		d.NextReviewDue = r.date("next_review_due", false)
		return d
	},
	NeedsAssessmentRecorded: func(r *fieldReader) Data {
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
	},
	TreatmentPlanAdopted: func(r *fieldReader) Data {
		d := TreatmentPlanData{Goals: []Goal{}}
		r.array("goals", true, true, func(path string, v json.RawMessage) {
			r.elem(path, v, func(o *fieldReader) {
				d.Goals = append(d.Goals, Goal{
					Stage:       o.enum("stage", true, PlanStages),
					Description: o.free("description", true),
					Responsible: o.org("responsible", true),
					Due:         o.date("due", false),
				})
			})
		})
		return d
	},
	InterventionRecorded: func(r *fieldReader) Data {
		codes := make([]string, len(Practices))
		for i, p := range Practices {
			codes[i] = string(p.Code)
		}
		return InterventionData{
			PracticeCode:    r.enum("practice_code", true, codes),
			Date:            r.date("date", true),
			Format:          r.enum("format", false, Formats),
			DurationMinutes: r.integer("duration_minutes", false, 1, 24*60),
			Summary:         r.free("summary", false),
		}
	},
	CounsellingNoteAdded: func(r *fieldReader) Data {
		return CounsellingNoteData{Date: r.date("date", true), Note: r.free("note", true)}
	},
	CaseConferenceHeld: func(r *fieldReader) Data {
		d := CaseConferenceData{
			Date:         r.date("date", true),
			Participants: r.orgs("participants", true, true),
			Decisions:    r.stringsOf("decisions", false, false, textFree, MaxShortTextLen),
		}
		r.array("actions", false, false, func(path string, v json.RawMessage) {
			r.elem(path, v, func(o *fieldReader) {
				d.Actions = append(d.Actions, Action{
					Owner:       o.org("owner", true),
					Description: o.free("description", true),
					Due:         o.date("due", false),
				})
			})
		})
		return d
	},
	IntelligenceNoteAdded: func(r *fieldReader) Data {
		return IntelligenceNoteData{
			Note:          r.free("note", true),
			SourceGrading: r.ref("source_grading", false),
			AssessedAt:    r.date("assessed_at", false),
		}
	},
	RiskDisclosureRaised: func(r *fieldReader) Data {
		return RiskDisclosureData{Concern: r.free("concern", true), Urgency: r.enum("urgency", true, Urgencies)}
	},
	FamilyContactRecorded: func(r *fieldReader) Data {
		return FamilyContactData{Date: r.date("date", true), ContactType: r.line("contact_type", false), Note: r.free("note", false)}
	},
	TransitionPlanAgreed: func(r *fieldReader) Data {
		return TransitionPlanData{
			PlannedRelease: r.date("planned_release", true),
			Housing:        r.line("housing", false),
			Employment:     r.line("employment", false),
			MentorOrg:      r.org("mentor_org", false),
			Arrangements:   r.stringsOf("arrangements", false, false, textFree, MaxShortTextLen),
		}
	},
	MentorAssigned: func(r *fieldReader) Data {
		return MentorAssignedData{MentorOrg: r.org("mentor_org", true), MentorRef: r.ref("mentor_ref", false)}
	},
	ReleaseScheduled: func(r *fieldReader) Data {
		return ReleaseScheduledData{ReleaseDate: r.date("release_date", true)}
	},
	Released: func(r *fieldReader) Data {
		return ReleasedData{ReleasedAt: r.date("released_at", true)}
	},
	ProbationHandoverCompleted: func(r *fieldReader) Data {
		return ProbationHandoverData{Date: r.date("date", true), OfficerRef: r.ref("officer_ref", false)}
	},
	OutcomeRecorded: func(r *fieldReader) Data {
		d := OutcomeData{
			FollowUpAt:         r.date("follow_up_at", true),
			MonthsSinceRelease: r.integer("months_since_release", false, 0, 1200),
		}
		r.object("reintegration", false, func(o *fieldReader) {
			d.Reintegration = &Reintegration{Housing: o.boolean("housing"), Employment: o.boolean("employment"), SocialNetwork: o.boolean("social_network")}
		})
		d.Recidivism = r.enum("recidivism", false, RecidivismKind)
		d.Note = r.free("note", false)
		return d
	},
	CaseClosed: func(r *fieldReader) Data {
		return CaseClosedData{Reason: r.line("reason", true)}
	},
	CaseErased: func(r *fieldReader) Data {
		d := CaseErasedData{}
		d.LegalBasis, d.Reference = r.erasureBasis()
		d.RequestID = r.ref("request_id", false)
		return d
	},
	ErasureRequested: func(r *fieldReader) Data {
		d := ErasureRequestedData{}
		d.LegalBasis, d.Reference = r.erasureBasis()
		d.ExpiresAt = r.ref("expires_at", true)
		if d.ExpiresAt != "" && !isTime(d.ExpiresAt) {
			r.fail("expires_at", "must be an RFC 3339 UTC time")
		}
		return d
	},
	ErasureCancelled: func(r *fieldReader) Data {
		return ErasureCancelledData{RequestID: r.ref("request_id", true)}
	},
	BreakGlassInvoked: func(r *fieldReader) Data {
		d := BreakGlassData{Justification: r.free("justification", true), ExpiresAt: r.ref("expires_at", true)}
		if d.ExpiresAt != "" && !isTime(d.ExpiresAt) {
			r.fail("expires_at", "must be an RFC 3339 UTC time")
		}
		return d
	},
}

// erasureBasis reads the legal basis of an erasure (one of LegalBases) and
// its reference (a line of at most MaxErasureReference characters, required
// when the basis is "other").
func (r *fieldReader) erasureBasis() (basis, reference string) {
	basis = r.enum("legal_basis", true, LegalBases)
	reference = r.text("reference", false, textLine, MaxErasureReference)
	if basis == LegalBasisOther && reference == "" {
		r.fail("reference", "is required when legal_basis is other: say what the basis is")
	}
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

// Sealed reports whether the data of events of type t is case content, sealed
// under the case's key and erased with it. The erasure's own events hold codes
// and references only (the legal basis, the reference, the request id): they
// are stored unsealed, so that the register of erasures outlives the content.
func Sealed(t EventType) bool {
	switch t {
	case ErasureRequested, ErasureCancelled, CaseErased:
		return false
	}
	return true
}

// KnownEventType reports whether t is an event type of the contract.
func KnownEventType(t EventType) bool {
	_, ok := decoders[t]
	return ok
}

// EventTypes lists every event type, in the contract's order.
var EventTypes = []EventType{CaseOpened, ConsentGiven, ConsentWithdrawn, RiskAssessmentRecorded, NeedsAssessmentRecorded, TreatmentPlanAdopted, InterventionRecorded, CounsellingNoteAdded, CaseConferenceHeld, IntelligenceNoteAdded, RiskDisclosureRaised, FamilyContactRecorded, TransitionPlanAgreed, MentorAssigned, ReleaseScheduled, Released, ProbationHandoverCompleted, OutcomeRecorded, CaseClosed, CaseErased, BreakGlassInvoked, ErasureRequested, ErasureCancelled}

// DecodeData validates raw as the data of an event of type t, strictly: unknown
// and duplicate fields, missing required fields, wrong types, bad enum values,
// bad dates, unknown organisations and oversize values are refused. It returns
// the typed data and its canonical JSON encoding (the bytes to store), or a
// KindInvalid *Error whose Fields name every field at fault under path (e.g.
// "data.needs[0].level").
func DecodeData(t EventType, raw json.RawMessage, dir Directory, path string) (Data, []byte, error) {
	dec, ok := decoders[t]
	if !ok {
		return nil, nil, Invalid("unknown event type", FieldError{Field: "type", Message: "is not an event type of the contract"})
	}
	var errs []FieldError
	r := readObject(raw, path, dir, &errs)
	if r == nil {
		return nil, nil, Invalid("invalid event data", errs...)
	}
	d := dec(r)
	r.done()
	if len(errs) > 0 {
		return nil, nil, Invalid("invalid event data", errs...)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, nil, Internal(err)
	}
	return d, b, nil
}

// RehydrateData decodes stored data of an event of type t without validating it:
// the log holds what was valid when it was written, and fields that later
// versions of the hub added are ignored. Use DecodeData for anything new. It
// returns a KindInternal error when the bytes do not decode.
func RehydrateData(t EventType, stored []byte) (Data, error) {
	var d Data
	switch t {
	case CaseOpened:
		d = rehydrate[CaseOpenedData](stored)
	case ConsentGiven:
		d = rehydrate[ConsentGivenData](stored)
	case ConsentWithdrawn:
		d = rehydrate[ConsentWithdrawnData](stored)
	case RiskAssessmentRecorded:
		d = rehydrate[RiskAssessmentData](stored)
	case NeedsAssessmentRecorded:
		d = rehydrate[NeedsAssessmentData](stored)
	case TreatmentPlanAdopted:
		d = rehydrate[TreatmentPlanData](stored)
	case InterventionRecorded:
		d = rehydrate[InterventionData](stored)
	case CounsellingNoteAdded:
		d = rehydrate[CounsellingNoteData](stored)
	case CaseConferenceHeld:
		d = rehydrate[CaseConferenceData](stored)
	case IntelligenceNoteAdded:
		d = rehydrate[IntelligenceNoteData](stored)
	case RiskDisclosureRaised:
		d = rehydrate[RiskDisclosureData](stored)
	case FamilyContactRecorded:
		d = rehydrate[FamilyContactData](stored)
	case TransitionPlanAgreed:
		d = rehydrate[TransitionPlanData](stored)
	case MentorAssigned:
		d = rehydrate[MentorAssignedData](stored)
	case ReleaseScheduled:
		d = rehydrate[ReleaseScheduledData](stored)
	case Released:
		d = rehydrate[ReleasedData](stored)
	case ProbationHandoverCompleted:
		d = rehydrate[ProbationHandoverData](stored)
	case OutcomeRecorded:
		d = rehydrate[OutcomeData](stored)
	case CaseClosed:
		d = rehydrate[CaseClosedData](stored)
	case CaseErased:
		d = rehydrate[CaseErasedData](stored)
	case BreakGlassInvoked:
		d = rehydrate[BreakGlassData](stored)
	case ErasureRequested:
		d = rehydrate[ErasureRequestedData](stored)
	case ErasureCancelled:
		d = rehydrate[ErasureCancelledData](stored)
	default:
		return nil, Internal(fmt.Errorf("stored event of unknown type %q", t))
	}
	if d == nil {
		return nil, Internal(fmt.Errorf("stored %s data does not decode", t))
	}
	return d, nil
}

func rehydrate[T Data](b []byte) Data {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil
	}
	return v
}
