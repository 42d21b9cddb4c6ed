package liaison_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's automated accessibility check: axe-core, fetched once from
// the npm registry (a pinned version, its tarball checked against the
// registry's sha512 integrity, cached under the user's cache directory, the
// script taken out of the tarball in Go: no node), injected into each page
// of the browser tests and run with the WCAG 2.0 and 2.1 A and AA rules. A
// violation of impact serious or critical fails the test; every page logs
// one summary line.

// axeVersion is the axe-core release the tests run, and axeIntegrity the
// registry's dist.integrity of its tarball: a registry that answers
// otherwise is not believed.
const (
	axeVersion   = "4.14.1"
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

var (
	axeOnce   sync.Once
	axeScript string
	axeErr    error
)

// axeSource returns axe.min.js, from the cache or the registry. When it
// cannot be had it skips the accessibility check (ok is false), unless CI is
// "true": then the test fails.
func axeSource(t *testing.T) (string, bool) {
	t.Helper()
	axeOnce.Do(func() { axeScript, axeErr = loadAxe() })
	if axeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core %s could not be had, and CI=true: %v", axeVersion, axeErr)
		}
		t.Logf("SKIPPING the accessibility check: axe-core %s could not be had from the npm registry (%v); with CI=true this fails", axeVersion, axeErr)
		return "", false
	}
	return axeScript, true
}

// loadAxe reads axe.min.js from the cache, else fetches, checks and caches it.
func loadAxe() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	cached := filepath.Join(dir, "liaison-test", "axe-core-"+axeVersion, "axe.min.js")
	if b, err := os.ReadFile(cached); err == nil && len(b) > 100_000 {
		return string(b), nil
	}
	client := &http.Client{Timeout: 60 * time.Second}
	get := func(url string) ([]byte, error) {
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	meta, err := get("https://registry.npmjs.org/axe-core/" + axeVersion)
	if err != nil {
		return "", err
	}
	var m struct {
		Dist struct {
			Integrity string `json:"integrity"`
			Tarball   string `json:"tarball"`
		} `json:"dist"`
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		return "", fmt.Errorf("registry metadata: %w", err)
	}
	if m.Dist.Integrity != axeIntegrity {
		return "", fmt.Errorf("the registry states integrity %q for axe-core %s, the tests pinned %q", m.Dist.Integrity, axeVersion, axeIntegrity)
	}
	if !strings.HasPrefix(m.Dist.Tarball, "https://registry.npmjs.org/") {
		return "", fmt.Errorf("unexpected tarball address %q", m.Dist.Tarball)
	}
	tgz, err := get(m.Dist.Tarball)
	if err != nil {
		return "", err
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != m.Dist.Integrity {
		return "", fmt.Errorf("the tarball's sha512 is %s, the registry states %s", got, m.Dist.Integrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", errors.New("the tarball holds no package/axe.min.js")
		}
		if err != nil {
			return "", err
		}
		if hdr.Name != "package/axe.min.js" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err == nil {
			tmp := cached + ".tmp"
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cached)
			}
		}
		return string(b), nil
	}
}

// axeResult is what the page answers: the violations by rule.
type axeResult struct {
	Passes     int `json:"passes"`
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target  []any  `json:"target"`
			Summary string `json:"failureSummary"`
		} `json:"nodes"`
	} `json:"violations"`
}

// axeLog collects the per-page summary lines of a test run.
var axeLog struct {
	sync.Mutex
	lines []string
}

// axe runs axe-core on the page as it is now, logs one summary line for
// page, and fails the test on a serious or critical violation.
func (tb *tab) axe(page string) {
	tb.t.Helper()
	src, ok := axeSource(tb.t)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	// The script is evaluated through the DevTools protocol, which the page's
	// Content-Security-Policy does not govern; axe itself adds no script.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;typeof axe === 'object'")); err != nil {
		tb.t.Fatalf("injecting axe-core: %v", err)
	}
	tags, _ := json.Marshal(axeTags)
	run := fmt.Sprintf(`axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']}).then((r) => JSON.stringify({violations: r.violations, passes: r.passes.length}))`, tags)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("running axe-core on %s: %v", page, err)
	}
	var res axeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		tb.t.Fatalf("axe-core's answer: %v", err)
	}
	count := map[string]int{}
	for _, v := range res.Violations {
		count[v.Impact] += len(v.Nodes)
	}
	n := count["critical"] + count["serious"] + count["moderate"] + count["minor"]
	line := fmt.Sprintf("axe %s: %d violations (critical %d, serious %d, moderate %d, minor %d)",
		page, n, count["critical"], count["serious"], count["moderate"], count["minor"])
	tb.t.Log(line)
	if res.Passes == 0 {
		tb.t.Errorf("axe %s: no rule passed: axe-core checked nothing", page)
	}
	axeLog.Lock()
	axeLog.lines = append(axeLog.lines, line)
	axeLog.Unlock()
	for _, v := range res.Violations {
		for _, node := range v.Nodes {
			msg := fmt.Sprintf("axe %s: %s (%s): %s at %v\n%s", page, v.ID, v.Impact, v.Help, node.Target, node.Summary)
			if v.Impact == "serious" || v.Impact == "critical" {
				tb.t.Error(msg)
			} else {
				tb.t.Log(msg)
			}
		}
	}
}
