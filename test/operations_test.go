package liaison_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/test/proc"
)

// copyBundle copies the default policy bundle of the repository to a directory.
func copyBundle(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "bundle")
	err := filepath.WalkDir("../policies/bundle", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../policies/bundle", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestPolicyReloadOnSIGHUP: a deployment's bundle (--policies DIR) is reloaded on
// SIGHUP and takes effect on the next call; a bundle that fails to compile is
// refused and the one in force stays.
func TestPolicyReloadOnSIGHUP(t *testing.T) {
	bundle := copyBundle(t)
	h := startHub(t, "", "--policies", bundle)
	newcomer := identity{Agency: "exit-ngo-north", Roles: []string{"mentor"}, Sub: "nn-1"}
	if r := h.do("GET", "/v1/cases", &newcomer, "reintegration", nil); r.Status != 401 {
		t.Fatalf("an organisation outside the directory: %d, want 401", r.Status)
	}
	// Add an organisation to the directory (data only) and reload.
	orgs := filepath.Join(bundle, "protocol", "organisations", "data.json")
	b, _ := os.ReadFile(orgs)
	grown := strings.Replace(string(b), `"exit-ngo": "civil-society",`, `"exit-ngo": "civil-society",
  "exit-ngo-north": "civil-society",`, 1)
	if err := os.WriteFile(orgs, []byte(grown), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(h.Output(), "policy reloaded") }, "the reload")
	if r := h.do("GET", "/v1/cases", &newcomer, "reintegration", nil); r.Status != 200 {
		t.Errorf("after the reload: %d %s, want 200", r.Status, r.Body)
	}
	// Break the bundle: the reload is refused and the grown directory stays.
	read := filepath.Join(bundle, "liaison", "read.rego")
	if err := os.WriteFile(read, []byte("package liaison.read\n\ncase_decision := {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(h.Output(), "policy reload refused") }, "the refusal")
	if r := h.do("GET", "/v1/cases", &newcomer, "reintegration", nil); r.Status != 200 {
		t.Errorf("after a refused reload: %d, want 200 (the policy in force stays)", r.Status)
	}
	// A hub does not start on a broken bundle, and says why.
	out, err := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--policies", bundle).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "read.rego") {
		t.Errorf("a broken bundle: err %v, output naming the file expected:\n%s", err, out)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCORSOnlyWhenConfigured: no cross-origin access by default; the listed
// origins only when --cors-origins is given.
func TestCORSOnlyWhenConfigured(t *testing.T) {
	preflight := func(h *hub, origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, h.Base+"/v1/cases", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight(startHub(t, ""), "https://console.example"); got != "" {
		t.Errorf("default hub allows origin %q", got)
	}
	h := startHub(t, "", "--cors-origins", "https://console.example")
	if got := preflight(h, "https://console.example"); got != "https://console.example" {
		t.Errorf("configured origin: %q", got)
	}
	if got := preflight(h, "https://evil.example"); got != "" {
		t.Errorf("another origin allowed: %q", got)
	}
}

// TestTLS: with --tls-cert and --tls-key the hub speaks HTTPS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	p, err := proc.Start("TLS hub", binary, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	a := p.Addr
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, func() bool {
		resp, err := https.Get("https://" + a + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, "the TLS hub")
	if resp, err := http.Get("http://" + a + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("the TLS hub answered plain HTTP")
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "liaison test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, pool
}

// TestMetricsCountPolicyDecisions: /metrics says how many decisions of each
// kind the hub gave and how many of them needed an evaluation of the Rego, so
// that an operator sees the caches at work. Two cases alike in what the
// decision depends on share one evaluation (the decision cache); reading the
// same case version again takes no decision at all (the answer cache).
func TestMetricsCountPolicyDecisions(t *testing.T) {
	h := startHub(t, "")
	first := openCase(t, h, prisonCaseworker, "P-METRICS-1")
	second := openCase(t, h, prisonCaseworker, "P-METRICS-2")
	before := policyMetrics(t, h)
	for _, id := range []string{first, second, first} {
		if r := h.do("GET", "/v1/cases/"+id+"/sections/profile", &prisonCaseworker, "case-management", nil); r.Status != 200 {
			t.Fatalf("read: %d %s", r.Status, r.Body)
		}
	}
	after := policyMetrics(t, h)
	decided := after[`liaison_policy_decisions_total{kind="section"}`] - before[`liaison_policy_decisions_total{kind="section"}`]
	evaluated := after[`liaison_policy_evaluations_total{kind="section"}`] - before[`liaison_policy_evaluations_total{kind="section"}`]
	if decided != 2 || evaluated != 1 {
		t.Errorf("reads of two alike cases and one again: %v section decisions, %v evaluations; want 2 and 1", decided, evaluated)
	}
	if after[`liaison_policy_evaluations_total{kind="append"}`] < 2 || after[`liaison_policy_evaluation_seconds_total{kind="append"}`] <= 0 {
		t.Errorf("the appends that opened the cases are not counted: %v", after)
	}
}

// policyMetrics returns the hub's liaison_policy_* series by name and labels.
func policyMetrics(t *testing.T, h *hub) map[string]float64 {
	t.Helper()
	resp, err := client.Get(h.AdminBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "liaison_policy_") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric %s: %v", sc.Text(), err)
		}
		out[name] = v
	}
	if len(out) == 0 {
		t.Fatal("no liaison_policy_* metrics")
	}
	return out
}
