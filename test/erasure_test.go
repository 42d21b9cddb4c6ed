package liaison_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	prisonCaseworker = identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-anna"}
	prisonPsych      = identity{Agency: "prison-service", Roles: []string{"psychologist"}, Sub: "pp-ben"}
	prisonManager    = identity{Agency: "prison-service", Roles: []string{"manager"}, Sub: "pm-dora"}
	exitMentor       = identity{Agency: "exit-ngo", Roles: []string{"mentor"}, Sub: "ng-hana"}
	intelAnalyst     = identity{Agency: "intelligence-service", Roles: []string{"analyst"}, Sub: "ia-fay"}
	auditor          = identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "au-jon"}
	dpo              = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "dp-kim"}
	secondDPO        = identity{Agency: "oversight-board", Roles: []string{"dpo"}, Sub: "dp-lou"}
)

// openCase opens a case as id with a subject reference and returns its id.
func openCase(t *testing.T, h *hub, as identity, subjectRef string) string {
	t.Helper()
	r := h.do("POST", "/v1/cases", &as, "", map[string]any{"subject_ref": subjectRef, "target_group": "islamist", "gender": "male", "regime": "dispersion"})
	if r.Status != 201 {
		t.Fatalf("open case: %d %s", r.Status, r.Body)
	}
	return r.json(t)["case_id"].(string)
}

// appendOK appends an event and fails the test unless it is accepted.
// eraseCase erases a case with four eyes: dpo requests, secondDPO confirms.
func eraseCase(t *testing.T, h *hub, caseID string) {
	t.Helper()
	r := h.do("POST", "/v1/cases/"+caseID+"/erase", &dpo, "", map[string]string{"legal_basis": "subject-request", "reference": "DPO-2026-0042"})
	if r.Status != 202 {
		t.Fatalf("erasure request: %d %s", r.Status, r.Body)
	}
	request, _ := r.json(t)["request_id"].(string)
	if r := h.do("POST", "/v1/erasures/"+request+"/confirm", &secondDPO, "", map[string]string{}); r.Status != 200 {
		t.Fatalf("erasure confirmation: %d %s", r.Status, r.Body)
	}
}

func appendOK(t *testing.T, h *hub, caseID string, as identity, typ string, data any, extra map[string]any) {
	t.Helper()
	body := map[string]any{"type": typ, "data": data}
	for k, v := range extra {
		body[k] = v
	}
	if r := h.do("POST", "/v1/cases/"+caseID+"/events", &as, "", body); r.Status != 201 {
		t.Fatalf("append %s as %s: %d %s", typ, as.Sub, r.Status, r.Body)
	}
}

// filesHolding returns the files under dir whose bytes contain any of markers.
func filesHolding(t *testing.T, dir string, markers []string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				hits = append(hits, path+" holds "+m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestErasureLeavesNoContentOnDisk is docs/targets.md, R7: after CaseErased,
// none of the case's content is found in any file under the data directory;
// reads answer 410 before and after a restart; the logs still verify.
func TestErasureLeavesNoContentOnDisk(t *testing.T) {
	data := t.TempDir()
	h := startHub(t, data)
	markers := []string{"ERASEME-2026-0001", "MARKER-ERASE-NEEDS", "MARKER-ERASE-RISK", "MARKER-ERASE-COUNSEL", "MARKER-ERASE-INTEL"}
	id := openCase(t, h, prisonCaseworker, markers[0])
	appendOK(t, h, id, prisonCaseworker, "NeedsAssessmentRecorded", map[string]any{"needs": []any{map[string]any{"area": "housing", "level": "high", "note": markers[1]}}}, nil)
	appendOK(t, h, id, prisonPsych, "RiskAssessmentRecorded", map[string]any{"tool": "VERA-2R", "assessed_at": "2026-02-01", "overall_judgement": "high", "notes": markers[2]}, nil)
	appendOK(t, h, id, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"exit-ngo"}}, nil)
	appendOK(t, h, id, exitMentor, "CounsellingNoteAdded", map[string]any{"date": "2026-03-01", "note": markers[3]}, nil)
	appendOK(t, h, id, intelAnalyst, "IntelligenceNoteAdded", map[string]any{"note": markers[4]}, nil)
	// A second case that stays: its content must still read after the erasure.
	keep := openCase(t, h, prisonCaseworker, "KEEP-2026-0002")

	// Before erasure the content is there, for those allowed to read it.
	if r := h.do("GET", "/v1/cases/"+id+"/events", &prisonCaseworker, "case-management", nil); r.Status != 200 || !strings.Contains(string(r.Body), markers[1]) {
		t.Fatalf("before erasure: %d %s", r.Status, r.Body)
	}
	eraseCase(t, h, id)
	for _, path := range []string{"", "/events", "/sections/needs"} {
		if r := h.do("GET", "/v1/cases/"+id+path, &prisonCaseworker, "case-management", nil); r.Status != 410 {
			t.Errorf("GET %s after erasure: %d, want 410", path, r.Status)
		}
	}
	if r := h.do("GET", "/v1/cases", &prisonCaseworker, "case-management", nil); strings.Contains(string(r.Body), id) {
		t.Error("the erased case is still listed")
	}
	h.Stop()

	if hits := filesHolding(t, data, markers); len(hits) > 0 {
		t.Errorf("content of the erased case found on disk:\n%s", strings.Join(hits, "\n"))
	}
	out, err := exec.Command(binary, "audit", "verify", "--data", data).CombinedOutput()
	if err != nil {
		t.Errorf("audit verify after erasure: %v\n%s", err, out)
	}

	h2 := startHub(t, data)
	if r := h2.do("GET", "/v1/cases/"+id, &prisonCaseworker, "case-management", nil); r.Status != 410 {
		t.Errorf("after restart: %d, want 410", r.Status)
	}
	if r := h2.do("GET", "/v1/cases/"+keep+"/sections/profile", &prisonCaseworker, "case-management", nil); r.Status != 200 || !strings.Contains(string(r.Body), "KEEP-2026-0002") {
		t.Errorf("the kept case after restart: %d %s", r.Status, r.Body)
	}
	if r := h2.do("GET", "/v1/audit/records?case_id="+id+"&decision=allow", &auditor, "oversight", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"action":"case.erase"`) {
		t.Errorf("the erasure is not in the access log: %d %s", r.Status, r.Body)
	}
}
