// Command upgrade makes the upgrade fixture (docs/operations.md, "Upgrades"):
// a hub's data directory and key directory, written by this release, packed
// with what they hold into a small tar.gz under test/testdata/upgrade. The
// test TestUpgradeFromAnEarlierRelease (test/upgrade_test.go) opens every
// fixture kept there with the current build and checks every event, access
// record and checkpoint against the fixture's expected.json, so that a change
// of a format that would leave earlier data unreadable fails it.
//
// Make a fixture when a release changes a format (keep the old ones):
//
//	go run ./test/upgrade -out test/testdata/upgrade/release-N.tar.gz
//
// It builds liaison from this tree, starts it on two fresh directories
// (--data, --keys), writes cases through the API (events of several types,
// consent, a read, a break-glass read, a four-eyes erasure), rotates the
// master key and the checkpoint key once, stops the hub (signing its final
// checkpoints), reads everything back offline and writes expected.json: every
// event (its data as the hub opened it, null for the erased case), every
// access record, the latest checkpoints, the formats.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/liaison-hub/liaison/test/upgrade/fixture"
)

func main() {
	out := flag.String("out", "", "tar.gz to write (test/testdata/upgrade/release-N.tar.gz)")
	bin := flag.String("binary", "", "liaison binary to run (default: build ./cmd/liaison)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: go run ./test/upgrade -out test/testdata/upgrade/release-N.tar.gz")
		os.Exit(2)
	}
	if err := run(*out, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "upgrade fixture:", err)
		os.Exit(1)
	}
}

func run(out, bin string) error {
	tmp, err := os.MkdirTemp("", "liaison-fixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "liaison")
		build := exec.Command("go", "build", "-o", bin, "./cmd/liaison")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building liaison: %w", err)
		}
	}
	data, keys := filepath.Join(tmp, "data"), filepath.Join(tmp, "keys")
	exp, err := write(bin, data, keys)
	if err != nil {
		return err
	}
	if err := fixture.Read(data, keys, exp); err != nil {
		return err
	}
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	exp.MadeBy = "go run ./test/upgrade at " + strings.TrimSpace(string(rev))
	exp.MadeAt = time.Now().UTC().Truncate(time.Second)
	b, _ := json.MarshalIndent(exp, "", " ")
	if err := os.WriteFile(filepath.Join(tmp, "expected.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := fixture.Pack(out, tmp, []string{"expected.json", "data", "keys"}); err != nil {
		return err
	}
	fi, _ := os.Stat(out)
	fmt.Printf("%s: %d events, %d access records, %d bytes\n", out, len(exp.Events), len(exp.Records), fi.Size())
	return nil
}

// hubProc is the running hub.
type hubProc struct {
	cmd  *exec.Cmd
	base string
	bin  string
	keys string
}

var listening = regexp.MustCompile(`listening"? addr=(\S+)`)

func start(bin, data, keys string) (*hubProc, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data", data, "--keys", keys, "--rate-limit", "0", "--disk-reserve-mb", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			h := &hubProc{cmd: cmd, base: "http://" + m[1], bin: bin, keys: keys}
			for range 200 {
				if resp, err := http.Get(h.base + "/readyz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						return h, nil
					}
				}
				time.Sleep(25 * time.Millisecond)
			}
			return nil, errors.New("the hub did not get ready")
		}
	}
	cmd.Wait()
	return nil, errors.New("the hub exited before it listened")
}

func (h *hubProc) stop() error {
	h.cmd.Process.Signal(os.Interrupt)
	return h.cmd.Wait()
}

func (h *hubProc) token(agency, roles, sub string) (string, error) {
	out, err := exec.Command(h.bin, "token", "--keys", h.keys, "--agency", agency, "--roles", roles, "--sub", sub).Output()
	return strings.TrimSpace(string(out)), err
}

// call makes one API call and decodes its JSON answer into out (if not nil);
// it fails on a status other than want.
func (h *hubProc) call(method, path, token, purpose string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if purpose != "" {
		req.Header.Set("Liaison-Purpose", purpose)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// write runs a hub on the fresh directories and makes its history.
func write(bin, data, keys string) (*fixture.Expected, error) {
	h, err := start(bin, data, keys)
	if err != nil {
		return nil, err
	}
	defer h.cmd.Process.Kill()
	tok := map[string]string{}
	for name, id := range map[string][3]string{
		"prison": {"prison-service", "caseworker", "fx-caseworker"}, "manager": {"prison-service", "manager", "fx-manager"},
		"ngo": {"exit-ngo", "mentor", "fx-mentor"}, "dpo1": {"oversight-board", "dpo", "fx-dpo-1"}, "dpo2": {"oversight-board", "dpo", "fx-dpo-2"},
	} {
		if tok[name], err = h.token(id[0], id[1], id[2]); err != nil {
			return nil, fmt.Errorf("liaison token: %w", err)
		}
	}
	exp := &fixture.Expected{Readable: map[string]string{}}
	var ids []string
	for i, ref := range []string{"FX-2026-0001", "FX-2026-0002", "FX-2026-0003"} {
		var opened struct {
			CaseID string `json:"case_id"`
		}
		if err := h.call("POST", "/v1/cases", tok["prison"], "", map[string]string{"subject_ref": ref, "target_group": "returnee", "gender": "female", "regime": "separation"}, 201, &opened); err != nil {
			return nil, err
		}
		id := opened.CaseID
		ids = append(ids, id)
		marker := fmt.Sprintf("fixture marker %d", i+1)
		for _, ev := range []map[string]any{
			{"type": "NeedsAssessmentRecorded", "data": map[string]any{"needs": []map[string]any{{"area": "housing", "level": "high", "note": marker + ": no address after release"}}}},
			{"type": "InterventionRecorded", "data": map[string]any{"practice_code": "08", "date": "2026-01-15", "summary": marker}},
			{"type": "ConsentGiven", "data": map[string]any{"organisations": []string{"exit-ngo"}}},
		} {
			if err := h.call("POST", "/v1/cases/"+id+"/events", tok["prison"], "", ev, 201, nil); err != nil {
				return nil, err
			}
		}
		if err := h.call("GET", "/v1/cases/"+id+"/sections/needs", tok["ngo"], "reintegration", nil, 200, nil); err != nil {
			return nil, err
		}
		exp.Readable[id] = marker
	}
	if err := h.call("POST", "/v1/cases/"+ids[0]+"/break-glass", tok["manager"], "", map[string]string{"justification": "fixture: an emergency read, recorded"}, 201, nil); err != nil {
		return nil, err
	}
	// The third case is erased, four eyes.
	var req struct {
		RequestID string `json:"request_id"`
	}
	if err := h.call("POST", "/v1/cases/"+ids[2]+"/erase", tok["dpo1"], "", map[string]string{"legal_basis": "subject-request", "reference": "FX-DSR-1"}, 202, &req); err != nil {
		return nil, err
	}
	if err := h.call("POST", "/v1/erasures/"+req.RequestID+"/confirm", tok["dpo2"], "", nil, 200, nil); err != nil {
		return nil, err
	}
	exp.Erased = ids[2]
	delete(exp.Readable, ids[2])
	for _, args := range [][]string{{"keys", "rotate-master"}, {"keys", "rotate-checkpoint"}, {"backup"}} {
		args = append(args, "--data", data, "--keys", keys)
		if args[0] == "backup" {
			args = append(args, "--to", filepath.Join(filepath.Dir(data), "backup-made-for-the-checkpoints"))
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("liaison %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	os.RemoveAll(filepath.Join(filepath.Dir(data), "backup-made-for-the-checkpoints"))
	if err := h.call("GET", "/v1/cases/"+ids[1]+"/events", tok["prison"], "case-management", nil, 200, nil); err != nil {
		return nil, err
	}
	if err := h.stop(); err != nil {
		return nil, fmt.Errorf("stopping the hub: %w", err)
	}
	for _, f := range []string{"admin.json", "log/liaison.lock"} {
		os.Remove(filepath.Join(data, f))
	}
	return exp, nil
}
