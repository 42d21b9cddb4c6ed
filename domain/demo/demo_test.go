package demo_test

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
)

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := encode(t, demo.Generate(42, 300)), encode(t, demo.Generate(42, 300))
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed and n gave different data sets")
	}
	if c := encode(t, demo.Generate(43, 300)); bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same data set")
	}
	if got := len(demo.Generate(42, 37)); got != 37 {
		t.Fatalf("got %d cases, want 37", got)
	}
	if got := demo.Generate(42, 0); got != nil {
		t.Fatalf("got %d cases for n=0, want none", len(got))
	}
}

// effective returns the classification the hub applies to a step.
func effective(s demo.Step) domain.TLP {
	if s.Classification != "" {
		return s.Classification
	}
	switch s.Type {
	case domain.CounsellingNoteAdded:
		return domain.TLPAmberStrict
	case domain.IntelligenceNoteAdded, domain.RiskDisclosureRaised:
		return domain.TLPAmber
	}
	return domain.TLPGreen
}

func TestEveryStepValidates(t *testing.T) {
	dir := demo.Directory()
	for _, seed := range []uint64{1, 2} {
		for i, cs := range demo.Generate(seed, 300) {
			if len(cs.Steps) == 0 || cs.Steps[0].Type != domain.CaseOpened {
				t.Fatalf("case %d does not start with CaseOpened", i)
			}
			for k, s := range cs.Steps {
				switch s.Type {
				case domain.BreakGlassInvoked:
					body := encode(t, map[string]string{"justification": s.Justification})
					if _, err := domain.ParseSingleText(body, "justification"); err != nil || s.Data != nil {
						t.Fatalf("case %d step %d: break-glass body: %v", i, k, err)
					}
				case domain.CaseOpened:
					if _, _, err := domain.ParseOpenRequest(s.Data, dir); err != nil || s.Classification != "" || s.ShareWith != nil {
						t.Fatalf("case %d: CaseOpened body: %v", i, err)
					}
				default:
					if _, _, err := domain.DecodeData(s.Type, s.Data, dir, "data"); err != nil {
						t.Fatalf("case %d step %d %s: %v\n%s", i, k, s.Type, err, s.Data)
					}
				}
				if _, err := domain.ParseClassification(string(s.Classification), "classification"); err != nil {
					t.Fatalf("case %d step %d: %v", i, k, err)
				}
				if err := domain.CheckShareWith(s.ShareWith, dir, "share_with"); err != nil {
					t.Fatalf("case %d step %d: %v", i, k, err)
				}
			}
		}
	}
}

// summary tallies one generated data set.
type summary struct {
	groups, genders, regimes, stages map[string]int
	intelTLP                         map[string]int // label, "+share" when a share list is given
	tlps                             map[domain.TLP]int
	types                            map[domain.EventType]int
	writers                          map[string]int // type/agency/role
	codeCases, codeSessions          map[string]int
	consent                          map[string]int // expiring, withdraw-one, withdraw-all
	recidivism                       map[string]int // worst per released case
}

func summarise(t *testing.T, cases []demo.Case) summary {
	t.Helper()
	s := summary{map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{},
		map[domain.TLP]int{}, map[domain.EventType]int{}, map[string]int{}, map[string]int{}, map[string]int{},
		map[string]int{}, map[string]int{}}
	dir := demo.Directory()
	for _, cs := range cases {
		var c domain.Case
		codes := map[string]bool{}
		worst := ""
		for k, st := range cs.Steps {
			s.types[st.Type]++
			s.tlps[effective(st)]++
			s.writers[string(st.Type)+"/"+st.As.Agency+"/"+st.As.Roles[0]]++
			var data domain.Data
			if st.Data != nil {
				var err error
				if data, _, err = domain.DecodeData(st.Type, st.Data, dir, "data"); err != nil {
					t.Fatal(err)
				}
			}
			c.Apply(domain.Event{CaseID: "c", Type: st.Type, Version: uint64(k + 1), Originator: st.As.Agency, Data: data})
			switch d := data.(type) {
			case domain.CaseOpenedData:
				s.groups[d.TargetGroup]++
				s.genders[d.Gender]++
				s.regimes[d.Regime]++
			case domain.IntelligenceNoteData:
				label := string(effective(st))
				if len(st.ShareWith) > 0 {
					label += "+share"
				}
				s.intelTLP[label]++
			case domain.InterventionData:
				codes[d.PracticeCode] = true
				s.codeSessions[d.PracticeCode]++
			case domain.ConsentGivenData:
				if d.ExpiresAt != "" {
					s.consent["expiring"]++
				}
			case domain.ConsentWithdrawnData:
				if d.All {
					s.consent["withdraw-all"]++
				} else {
					s.consent["withdraw-one"]++
				}
			case domain.OutcomeData:
				rank := slices.Index(domain.RecidivismKind, d.Recidivism)
				if rank > slices.Index(domain.RecidivismKind, worst) {
					worst = d.Recidivism
				}
			}
		}
		s.stages[string(c.Stage)]++
		for code := range codes {
			s.codeCases[code]++
		}
		if worst != "" {
			s.recidivism[worst]++
		}
	}
	return s
}

// demoTypes are the event types the demo data set uses.
var demoTypes = []domain.EventType{
	domain.CaseOpened, domain.ConsentGiven, domain.ConsentWithdrawn, domain.RiskAssessmentRecorded,
	domain.NeedsAssessmentRecorded, domain.TreatmentPlanAdopted, domain.InterventionRecorded,
	domain.CounsellingNoteAdded, domain.CaseConferenceHeld, domain.IntelligenceNoteAdded,
	domain.RiskDisclosureRaised, domain.FamilyContactRecorded, domain.TransitionPlanAgreed,
	domain.MentorAssigned, domain.ReleaseScheduled, domain.Released, domain.ProbationHandoverCompleted,
	domain.OutcomeRecorded, domain.CaseClosed, domain.BreakGlassInvoked,
	// The stories of issue 18: the detention path, plans that move,
	// conference actions done, mentoring that ends.
	domain.ParticipationChanged, domain.Transferred, domain.GoalUpdated, domain.PlanReviewed,
	domain.ConferenceActionCompleted, domain.MentoringEnded,
}

func TestEveryCategoryOccurs(t *testing.T) {
	s := summarise(t, demo.Generate(1, 300))
	need := func(what string, got map[string]int, want []string) {
		t.Helper()
		for _, w := range want {
			if got[w] == 0 {
				t.Errorf("no case with %s %q (got %v)", what, w, got)
			}
		}
	}
	need("target group", s.groups, domain.TargetGroups)
	need("gender", s.genders, domain.Genders)
	need("regime", s.regimes, domain.Regimes)
	var stages []string
	for _, st := range domain.Stages {
		stages = append(stages, string(st))
	}
	need("final stage", s.stages, stages)
	need("intelligence note label", s.intelTLP, []string{"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+share", "TLP:AMBER+STRICT", "TLP:RED+share"})
	need("writer", s.writers, []string{
		"RiskDisclosureRaised/exit-ngo/mentor", "RiskDisclosureRaised/family-support/counsellor",
		"CounsellingNoteAdded/exit-ngo/mentor", "CounsellingNoteAdded/family-support/counsellor", "CounsellingNoteAdded/prison-service/psychologist",
		"BreakGlassInvoked/intelligence-service/analyst", "BreakGlassInvoked/prison-service/manager",
		"CaseConferenceHeld/municipality/coordinator", "OutcomeRecorded/municipality/coordinator", "OutcomeRecorded/exit-ngo/mentor",
		"MentorAssigned/exit-ngo/mentor", "ConsentWithdrawn/exit-ngo/mentor", "NeedsAssessmentRecorded/exit-ngo/mentor",
		"InterventionRecorded/family-support/counsellor",
	})
	for _, tlp := range domain.TLPs {
		if s.tlps[tlp] == 0 {
			t.Errorf("no step labelled %s", tlp)
		}
	}
	// The event types the demo's stories tell (a new type joins the demo when
	// a story needs it: the demo data set is not the contract's inventory).
	for _, typ := range demoTypes {
		if s.types[typ] == 0 {
			t.Errorf("no %s step", typ)
		}
	}
	for _, code := range domain.Practices {
		if s.codeCases[string(code.Code)] == 0 {
			t.Errorf("practice code %s never used", code.Code)
		}
	}
}

func TestProportionsAreSensible(t *testing.T) {
	const n = 300
	s := summarise(t, demo.Generate(5, n))
	if mid := s.stages["assessment"] + s.stages["intervention"] + s.stages["transition"]; mid < n/2 {
		t.Errorf("only %d of %d cases in assessment, intervention or transition: %v", mid, n, s.stages)
	}
	if s.stages["closed"] > n/8 || s.stages["intake"] > n/10 || s.stages["released"] < s.stages["closed"] {
		t.Errorf("stage mix %v: want a few closed, few at intake, more released than closed", s.stages)
	}
	if s.consent["expiring"] == 0 || s.consent["withdraw-one"] == 0 || s.consent["withdraw-all"] == 0 || s.consent["withdraw-all"] > n/10 {
		t.Errorf("consent patterns %v: want some expiring, some withdrawn, a few withdrawn in full", s.consent)
	}
	if glass := s.types[domain.BreakGlassInvoked]; glass == 0 || glass > n/20 {
		t.Errorf("%d break-glass invocations, want a handful", glass)
	}
	released := 0
	for _, c := range s.recidivism {
		released += c
	}
	grave := s.recidivism["violent"] + s.recidivism["extremist"]
	if s.recidivism["none"]*10 < released*7 || s.recidivism["non-violent"] == 0 || grave == 0 || grave*10 > released {
		t.Errorf("recidivism %v over %d followed-up cases: want mostly none, some non-violent, rare violent or extremist", s.recidivism, released)
	}
}

func TestPracticeCodesFollowTheSurvey(t *testing.T) {
	survey := map[string]int{"01": 6, "02": 16, "03": 6, "04": 5, "05": 2, "06": 4, "07": 2, "08": 22, "09": 7, "10": 7, "11": 3, "12": 4, "13": 11, "14": 9, "99": 7}
	for _, seed := range []uint64{1, 2, 3, 4} {
		s := countCodes(demo.Generate(seed, 300))
		codes := make([]string, 0, len(survey))
		for code := range survey {
			codes = append(codes, code)
		}
		slices.SortFunc(codes, func(a, b string) int { return s.codeCases[b] - s.codeCases[a] })
		if top := []string{codes[0], codes[1]}; !slices.Contains(top, "08") || !slices.Contains(top, "02") {
			t.Errorf("seed %d: top codes by cases %v, want 08 and 02 (%v)", seed, top, s.codeCases)
		}
		var xs, ys, zs []float64
		for code, freq := range survey {
			if freq >= 5 && s.codeCases[code] < 5 {
				t.Errorf("seed %d: code %s in %d cases, want ≥ 5", seed, code, s.codeCases[code])
			}
			xs, ys, zs = append(xs, float64(freq)), append(ys, float64(s.codeCases[code])), append(zs, float64(s.codeSessions[code]))
		}
		if r := pearson(xs, ys); r < 0.9 {
			t.Errorf("seed %d: cases per code correlate %.2f with the survey, want ≥ 0.9", seed, r)
		}
		if r := pearson(xs, zs); r < 0.9 {
			t.Errorf("seed %d: sessions per code correlate %.2f with the survey, want ≥ 0.9", seed, r)
		}
	}
}

// countCodes counts, per practice code, the cases and the sessions using it.
func countCodes(cases []demo.Case) (s summary) {
	s.codeCases, s.codeSessions = map[string]int{}, map[string]int{}
	for _, cs := range cases {
		seen := map[string]bool{}
		for _, st := range cs.Steps {
			if st.Type == domain.InterventionRecorded {
				var d struct {
					Code string `json:"practice_code"`
				}
				mustUnmarshal(st.Data, &d)
				s.codeSessions[d.Code]++
				if !seen[d.Code] {
					seen[d.Code] = true
					s.codeCases[d.Code]++
				}
			}
		}
	}
	return s
}

func pearson(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i] / float64(len(xs))
		my += ys[i] / float64(len(ys))
	}
	var sxy, sxx, syy float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
		syy += (ys[i] - my) * (ys[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// properWords are the only capitalised words allowed inside a sentence: tool
// and programme acronyms and the invented facility names.
var properWords = []string{"VERA-2R", "DDR", "JVA", "Nord", "Süd", "Centre", "Ouest", "Est"}

var pseudonym = regexp.MustCompile(`^DEMO-20\d\d-\d{4}$`)

func TestTextsHoldNoNames(t *testing.T) {
	var names []string
	for _, p := range demo.Identities() {
		first, _, _ := strings.Cut(p.Label, " ")
		names = append(names, strings.ToLower(first))
	}
	for i, cs := range demo.Generate(1, 300) {
		for k, s := range cs.Steps {
			var texts []string
			if s.Data != nil {
				var v any
				mustUnmarshal(s.Data, &v)
				texts = stringsIn(v)
			}
			texts = append(texts, s.Justification)
			for _, text := range texts {
				words := strings.Fields(text)
				for w, word := range words {
					bare := strings.TrimFunc(word, func(r rune) bool { return unicode.IsPunct(r) && r != '-' })
					if slices.Contains(names, strings.ToLower(bare)) {
						t.Fatalf("case %d step %d: %q names a demo user", i, k, text)
					}
					initial := w == 0 || strings.ContainsAny(words[w-1][len(words[w-1])-1:], ".:;?!")
					if r := []rune(bare); len(r) > 0 && unicode.IsUpper(r[0]) && !initial && !slices.Contains(properWords, bare) {
						t.Fatalf("case %d step %d: %q holds the capitalised word %q", i, k, text, bare)
					}
				}
			}
			if s.Type == domain.CaseOpened {
				var d domain.CaseOpenedData
				mustUnmarshal(s.Data, &d)
				if !pseudonym.MatchString(d.SubjectRef) {
					t.Fatalf("case %d: subject_ref %q is not a DEMO pseudonym", i, d.SubjectRef)
				}
			}
		}
	}
}

func stringsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

func TestIdentitiesCoverTheDirectory(t *testing.T) {
	roles := map[string][]string{
		"prison-service": {"caseworker", "psychologist", "security-officer", "manager"}, "probation-service": {"officer"},
		"intelligence-service": {"analyst"}, "municipality": {"coordinator"}, "exit-ngo": {"mentor"},
		"family-support": {"counsellor"}, "oversight-board": {"auditor", "dpo"}, "research-institute": {"researcher"},
	}
	purposes := map[domain.OrgType][]domain.Purpose{
		domain.OrgPrison:        {"case-management", "risk-management", "reintegration", "case-conference"},
		domain.OrgProbation:     {"case-management", "risk-management", "reintegration", "case-conference"},
		domain.OrgIntelligence:  {"risk-management", "case-conference"},
		domain.OrgMunicipality:  {"reintegration", "case-conference"},
		domain.OrgCivilSociety:  {"reintegration", "case-conference"},
		domain.OrgFamilySupport: {"reintegration", "case-conference"},
		domain.OrgOversight:     {"oversight"},
		domain.OrgResearch:      {"research"},
	}
	dir := demo.Directory()
	if len(dir) != len(roles) {
		t.Fatalf("directory has %d organisations, want %d", len(dir), len(roles))
	}
	ps := demo.Identities()
	seen, subs, labels := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range ps {
		id := p.Identity
		orgType, ok := dir[id.Agency]
		if !ok || len(id.Roles) != 1 || !slices.Contains(roles[id.Agency], id.Roles[0]) {
			t.Errorf("%+v is not an organisation and role of the directory", id)
			continue
		}
		if !slices.Contains(purposes[orgType], p.Purpose) {
			t.Errorf("%s: purpose %s is not allowed for %s", p.Label, p.Purpose, orgType)
		}
		if subs[id.Subject] || labels[p.Label] || id.Subject == "" || p.Label == "" {
			t.Errorf("%s: empty or duplicate subject or label", p.Label)
		}
		subs[id.Subject], labels[p.Label], seen[id.Agency+"/"+id.Roles[0]] = true, true, true
	}
	for org, rs := range roles {
		for _, r := range rs {
			if !seen[org+"/"+r] {
				t.Errorf("no demo identity for %s %s", org, r)
			}
		}
	}
	ps[0].Identity.Roles[0] = "changed"
	if demo.Identities()[0].Identity.Roles[0] == "changed" {
		t.Error("Identities shares its roles with callers")
	}
}
