package policies_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/policies"
)

// benchQuery is a realistic section read: civil society, with consent, reads
// the risk summary of a case in assessment.
func benchQuery() (policies.ReadQuery, domain.Section) {
	c := caseOf(opened, consentUntil("2027-01-31", "exit-ngo", "municipality"), riskAssessment, ev(mentor, domain.CounsellingNoteData{Date: "2026-03-01", Note: "n"}))
	return policies.ReadQuery{Identity: mentor, Purpose: "reintegration", Case: c, Now: now}, domain.SectionRisk
}

var benchItem = policies.Item{Type: domain.RiskAssessmentRecorded, Originator: "prison-service", Classification: domain.TLPAmber, ShareWith: []string{"exit-ngo"}}

func BenchmarkSectionDecisionUncached(b *testing.B) {
	a := newAuthorizer(b, policies.Options{CacheEntries: -1})
	q, s := benchQuery()
	for b.Loop() {
		if _, err := a.ReadSection(context.Background(), q, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSectionDecisionCached(b *testing.B) {
	a := newAuthorizer(b, policies.Options{})
	q, s := benchQuery()
	for b.Loop() {
		if _, err := a.ReadSection(context.Background(), q, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItemDecisionUncached(b *testing.B) {
	a := newAuthorizer(b, policies.Options{CacheEntries: -1})
	q, s := benchQuery()
	for b.Loop() {
		if _, err := a.ReadItem(context.Background(), q, s, benchItem); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItemDecisionCached(b *testing.B) {
	a := newAuthorizer(b, policies.Options{})
	q, s := benchQuery()
	for b.Loop() {
		if _, err := a.ReadItem(context.Background(), q, s, benchItem); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCaseDecisionUncached(b *testing.B) {
	a := newAuthorizer(b, policies.Options{CacheEntries: -1})
	q, _ := benchQuery()
	for b.Loop() {
		if _, err := a.ReadCase(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSectionDecisionCachedParallel(b *testing.B) {
	a := newAuthorizer(b, policies.Options{})
	q, s := benchQuery()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.ReadSection(context.Background(), q, s); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// listingCases builds n cases with the variety of a real caseload: every
// stage, consent for zero to three organisations (some until the end of a
// month), writers from the usual organisations, and a few break-glass grants.
func listingCases(n int) []*domain.Case {
	r := rand.New(rand.NewPCG(7, 11))
	orgs := []string{"exit-ngo", "municipality", "family-support"}
	months := []string{"2026-12-31", "2027-01-31", "2027-02-28", "2027-03-31", "2027-06-30", ""}
	stages := [][]domain.Event{
		nil,
		{needsAssessment},
		{riskAssessment, needsAssessment, ev(prisonCaseworker, domain.TreatmentPlanData{Goals: []domain.Goal{{Stage: "basic-needs", Description: "d", Responsible: "municipality"}}})},
		{riskAssessment, ev(prisonCaseworker, domain.TransitionPlanData{PlannedRelease: "2027-09-30"})},
		{riskAssessment, ev(prisonCaseworker, domain.ReleasedData{ReleasedAt: "2026-10-01"})},
	}
	cases := make([]*domain.Case, n)
	for i := range cases {
		events := append([]domain.Event{opened}, stages[r.IntN(len(stages))]...)
		var given []string
		for _, org := range orgs {
			if r.IntN(2) == 0 {
				given = append(given, org)
			}
		}
		if len(given) > 0 {
			events = append(events, consentUntil(months[r.IntN(len(months))], given...))
		}
		if slices.Contains(given, "exit-ngo") && r.IntN(3) == 0 {
			events = append(events, ev(mentor, domain.CounsellingNoteData{Date: "2026-03-01", Note: "n"}))
		}
		if r.IntN(10) == 0 {
			events = append(events, ev(analyst, domain.IntelligenceNoteData{Note: "n"}))
		}
		if r.IntN(200) == 0 {
			events = append(events, breakGlass(analyst, now.Add(time.Duration(r.IntN(60))*time.Minute)))
		}
		cases[i] = caseOf(events...)
	}
	return cases
}

// BenchmarkListing50kCases times one listing (ReadCase over 50,000 cases) by
// a civil-society reader and by a prison caseworker, with a warm cache.
func BenchmarkListing50kCases(b *testing.B) {
	cases := listingCases(50_000)
	keys := map[string]bool{}
	for _, c := range cases {
		keys[c.PolicyKey()] = true
	}
	for _, r := range []struct {
		name    string
		id      domain.Identity
		purpose string
	}{{"civil-society", mentor, "reintegration"}, {"prison", prisonCaseworker, "case-management"}} {
		b.Run(r.name, func(b *testing.B) {
			a := newAuthorizer(b, policies.Options{})
			listing := func() int {
				visible := 0
				for _, c := range cases {
					d, err := a.ReadCase(context.Background(), policies.ReadQuery{Identity: r.id, Purpose: r.purpose, Case: c, Now: now})
					if err != nil {
						b.Fatal(err)
					}
					if d.Allow {
						visible++
					}
				}
				return visible
			}
			start := time.Now()
			visible := listing() // the first listing fills the cache
			cold := time.Since(start)
			b.ResetTimer()
			for b.Loop() {
				listing()
			}
			b.ReportMetric(float64(len(keys)), "policy-keys")
			b.ReportMetric(float64(visible), "visible")
			b.ReportMetric(cold.Seconds(), "cold-s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cases)), "ns/case")
		})
	}
}

// BenchmarkSidecarOPA asks the same section decision of `opa run --server`
// (the OPA of go.mod, on the same bundle) over loopback HTTP with a keep-alive
// client, and reports how many times faster the in-hub decision is,
// uncached and cached, in the same run.
func BenchmarkSidecarOPA(b *testing.B) {
	url := sidecar(b)
	q, s := benchQuery()
	body, err := json.Marshal(map[string]any{"input": jsonInput(q, s)})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ask := func() sidecarDecision {
		resp, err := client.Post(url+"/v1/data/liaison/read/section_decision", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Result sidecarDecision }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("sidecar answered %d: %v", resp.StatusCode, err)
		}
		return out.Result
	}

	// Both must decide the same.
	uncached := newAuthorizer(b, policies.Options{CacheEntries: -1})
	cached := newAuthorizer(b, policies.Options{})
	in, err := uncached.ReadSection(context.Background(), q, s)
	if err != nil {
		b.Fatal(err)
	}
	if got := ask(); got.Status != status(in.Decision, 200) || got.BreakGlass != in.BreakGlass || !slices.Equal(got.Reasons, in.Reasons) {
		b.Fatalf("sidecar decided %+v, the hub %+v", got, in)
	}

	for b.Loop() {
		ask()
	}
	sidecarNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	// The in-hub figures of the same run (testing.Benchmark cannot nest).
	hub := func(a *policies.Authorizer) float64 {
		n, start := 0, time.Now()
		for ; n < 100 || time.Since(start) < 500*time.Millisecond; n++ {
			if _, err := a.ReadSection(context.Background(), q, s); err != nil {
				b.Fatal(err)
			}
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	uncachedNs, cachedNs := hub(uncached), hub(cached)
	b.ReportMetric(uncachedNs, "hub-uncached-ns")
	b.ReportMetric(cachedNs, "hub-cached-ns")
	b.ReportMetric(sidecarNs/uncachedNs, "x-vs-uncached")
	b.ReportMetric(sidecarNs/cachedNs, "x-vs-cached")
}

type sidecarDecision struct {
	Status     int      `json:"status"`
	BreakGlass bool     `json:"break_glass"`
	Reasons    []string `json:"reasons"`
}

// jsonInput is the input document of a section decision, as JSON for OPA's
// REST API (the shape the policy is written against).
func jsonInput(q policies.ReadQuery, s domain.Section) map[string]any {
	consent := map[string]any{}
	for org, g := range q.Case.Consent {
		grant := map[string]any{}
		if g.ExpiresAt != "" {
			grant["expires_at"] = g.ExpiresAt
		}
		consent[org] = grant
	}
	grants := []any{}
	for _, g := range q.Case.BreakGlass {
		grants = append(grants, map[string]any{"sub": g.Subject, "agency": g.Agency, "expires_at": domain.FormatTime(g.ExpiresAt)})
	}
	return map[string]any{
		"subject": map[string]any{"sub": q.Identity.Subject, "agency": q.Identity.Agency, "roles": q.Identity.Roles},
		"purpose": q.Purpose,
		"now":     domain.FormatTime(q.Now),
		"today":   q.Now.UTC().Format(time.DateOnly),
		"case": map[string]any{
			"stage": q.Case.Stage, "closed": q.Case.Closed, "erased": q.Case.Erased,
			"consent": consent, "break_glass": grants, "writers": q.Case.Writers,
		},
		"section": s,
	}
}

var (
	opaOnce sync.Once
	opaPath string
	opaErr  error
)

// opaBinary builds the opa command of the OPA module version in go.mod, once
// per version (kept in the temporary directory): from this module when its
// go.sum allows, else from the module's own directory in the module cache (the
// same version, with its own go.sum).
func opaBinary() (string, error) {
	opaOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}\t{{.Dir}}", "github.com/open-policy-agent/opa").Output()
		if err != nil {
			opaErr = fmt.Errorf("go list: %w", err)
			return
		}
		version, modDir, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
		opaPath = filepath.Join(os.TempDir(), "liaison-opa-"+version, "opa")
		if _, err := os.Stat(opaPath); err == nil {
			return
		}
		if err := exec.Command("go", "build", "-o", opaPath, "github.com/open-policy-agent/opa").Run(); err == nil {
			return
		}
		build := exec.Command("go", "build", "-o", opaPath, ".")
		build.Dir = modDir
		if out, err := build.CombinedOutput(); err != nil {
			opaErr = fmt.Errorf("go build in %s: %v: %s", build.Dir, err, out)
		}
	})
	return opaPath, opaErr
}

// sidecar starts `opa run --server` on the default bundle and returns its URL;
// it skips the benchmark when the opa command cannot be built or started.
func sidecar(b *testing.B) string {
	b.Helper()
	bin, err := opaBinary()
	if err != nil {
		b.Skipf("cannot build the opa command of go.mod's version: %v", err)
	}
	dir := b.TempDir()
	if err := policies.Default().WriteDir(dir); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "run", "--server", "--addr", addr, "--log-level", "error", "--bundle", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		b.Skipf("cannot start opa: %v", err)
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/health?bundles"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
	}
	b.Fatalf("opa did not become healthy at %s: %s", url, stderr.String())
	return ""
}
