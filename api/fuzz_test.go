package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/follow"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
	"github.com/liaison-hub/liaison/test/testlog"
)

// Fuzz targets of docs/targets.md, R4, for token parsing and query parameters.
// Seed corpora are in testdata/fuzz/<target>/ (written by
// TestWriteAPIFuzzSeeds) and run as plain tests; test/fuzz_test.go runs each
// target for a few seconds in CI.

// fuzzKey signs the tokens of the Verify corpus; fuzzNow is the verifier's
// clock, so that the corpus's valid tokens stay valid.
var (
	fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	fuzzNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
)

// FuzzVerify feeds arbitrary strings to Verifier.Verify: it never panics, and
// whatever it accepts is an EdDSA token whose signature verifies with the key
// over its first two segments, with the contract's claims, unexpired.
func FuzzVerify(f *testing.F) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	v := api.NewVerifier(api.DevKeys(fuzzKey), api.DevIssuer, api.DevAudience, func() time.Time { return fuzzNow })
	valid, err := api.MintDevToken(fuzzKey, api.TokenRequest{Subject: "pc-anna", Agency: "prison-service", Roles: []string{"caseworker"}, TTL: time.Hour, Now: fuzzNow})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), valid); err != nil {
		f.Fatalf("a valid token is refused: %v", err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, token string) {
		api.UnverifiedClaims(token)
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if c != nil {
				t.Errorf("refused token came with claims %+v", c)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d segments: %q", len(parts), token)
		}
		var header struct {
			Alg string `json:"alg"`
		}
		hb, herr := base64.RawURLEncoding.DecodeString(parts[0])
		sig, serr := base64.RawURLEncoding.DecodeString(parts[2])
		if herr != nil || serr != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "EdDSA" {
			t.Fatalf("accepted a token whose header or signature does not decode as EdDSA: %q", token)
		}
		if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token not signed by the key: %q", token)
		}
		switch {
		case c.Issuer != api.DevIssuer || !slices.Contains(c.Audience, api.DevAudience):
			t.Errorf("accepted issuer %q, audience %q", c.Issuer, c.Audience)
		case c.ExpiresAt == nil || !fuzzNow.Before(c.ExpiresAt.Add(api.Leeway)):
			t.Errorf("accepted an expired token (exp %v)", c.ExpiresAt)
		case c.NotBefore != nil && fuzzNow.Add(api.Leeway).Before(c.NotBefore.Time):
			t.Errorf("accepted a token not yet valid (nbf %v)", c.NotBefore)
		case c.Subject == "" || c.Agency == "" || c.Roles == nil:
			t.Errorf("accepted claims without sub, agency or roles: %+v", c)
		}
	})
}

// FuzzCasesQuery sends GET /v1/cases?limit=&cursor=&stage= with a valid token.
func FuzzCasesQuery(f *testing.F) {
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, limit, cursor, stage string) {
		q := url.Values{}
		for k, v := range map[string]string{"limit": limit, "cursor": cursor, "stage": stage} {
			if v != "" {
				q.Set(k, v)
			}
		}
		r := s.get(t, "/v1/cases?"+q.Encode(), s.caseworker, "case-management")
		if r == nil {
			return
		}
		s.checkAnswer(t, r, http.StatusOK, http.StatusBadRequest)
		if r.Code == http.StatusBadRequest {
			checkFieldErrors(t, r, "limit", "cursor", "stage")
		}
		if r.Code == http.StatusOK {
			var page struct {
				Items []struct {
					CaseID string `json:"case_id"`
				} `json:"items"`
			}
			if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
				t.Fatalf("200 without a page: %s", r.Body)
			}
			if n, err := strconv.Atoi(limit); err == nil && len(page.Items) > n {
				t.Errorf("limit %d gave %d items", n, len(page.Items))
			}
		}
	})
}

// FuzzCaseRoutes sends GET requests on a case's routes with a fuzzed id,
// section and query: "{case}" in the id stands for a case of the hub, "{CASE}"
// for its id in upper case.
func FuzzCaseRoutes(f *testing.F) {
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, sel uint8, id, section, query string) {
		id = strings.NewReplacer("{case}", s.cases[0], "{CASE}", strings.ToUpper(s.cases[0])).Replace(id)
		target := "/v1/cases/" + id
		switch sel % 4 {
		case 1:
			target += "/sections/" + section
		case 2:
			target += "/events"
		case 3:
			target = "/v1/" + id + "/" + section
		}
		if query != "" {
			target += "?" + query
		}
		r := s.get(t, target, s.caseworker, "case-management")
		if r == nil {
			return
		}
		s.checkAnswer(t, r, http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusGone)
		if r.Code == http.StatusOK {
			var out struct {
				CaseID  *string `json:"case_id"`
				Section *string `json:"section"`
			}
			json.Unmarshal(r.Body.Bytes(), &out)
			if out.CaseID != nil && !slices.Contains(s.cases, *out.CaseID) {
				t.Errorf("GET %q answered case %q", target, *out.CaseID)
			}
			if out.Section != nil && !slices.Contains(domain.Sections, domain.Section(*out.Section)) {
				t.Errorf("GET %q answered section %q", target, *out.Section)
			}
		}
	})
}

// FuzzAuditQuery sends GET /v1/audit/records (and the proofs) with a fuzzed
// query as an oversight auditor.
func FuzzAuditQuery(f *testing.F) {
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, sel uint8, query string) {
		path := []string{"/v1/audit/records", "/v1/audit/proofs/inclusion", "/v1/audit/proofs/consistency"}[int(sel)%3]
		query = strings.ReplaceAll(query, "{case}", s.cases[0])
		r := s.get(t, path+"?"+query, s.auditor, "oversight")
		if r == nil {
			return
		}
		s.checkAnswer(t, r, http.StatusOK, http.StatusBadRequest)
		if r.Code == http.StatusBadRequest {
			checkFieldErrors(t, r, "decision", "order", "break_glass", "from", "to", "limit", "cursor", "index", "size")
		}
		if r.Code != http.StatusOK || sel%3 != 0 {
			return
		}
		q, _ := url.ParseQuery(query)
		var page struct {
			Items []accesslog.Record `json:"items"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &page); err != nil {
			t.Fatalf("200 without a page: %s", r.Body)
		}
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			limit = 100
		}
		if len(page.Items) > limit {
			t.Errorf("limit %d gave %d records", limit, len(page.Items))
		}
		for _, rec := range page.Items {
			if d := q.Get("decision"); d != "" && rec.Decision != d || q.Get("sub") != "" && rec.Sub != q.Get("sub") || q.Get("case_id") != "" && rec.CaseID != q.Get("case_id") {
				t.Errorf("query %q answered record %+v", query, rec)
			}
		}
	})
}

// checkFieldErrors checks that a 400 problem names at least one field, each
// one of names.
func checkFieldErrors(t *testing.T, r *httptest.ResponseRecorder, names ...string) {
	t.Helper()
	var p api.Problem
	json.Unmarshal(r.Body.Bytes(), &p)
	if len(p.Errors) == 0 {
		t.Fatalf("400 naming no field: %s", r.Body)
	}
	for _, e := range p.Errors {
		if !slices.Contains(names, e.Field) {
			t.Errorf("400 names the field %q: %s", e.Field, r.Body)
		}
	}
}

// fuzzServer is an api.Server wired in-process as "liaison serve" wires it
// (embedded store in a temporary directory, the default policy, projections,
// codec, keystore, access log and its audit service), with two cases.
type fuzzServer struct {
	handler    http.Handler
	access     *accesslog.Log
	logs       *testlog.Buffer
	caseworker string // prison-service caseworker
	auditor    string // oversight-board auditor
	cases      []string
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	dir := tb.TempDir()
	ctx := context.Background()
	s := &fuzzServer{logs: &testlog.Buffer{}}
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: logger})
	must(err)
	master, err := keystore.LoadMasterKey("", "", filepath.Join(dir, "master.key"))
	must(err)
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "casekeys"), master)
	must(err)
	cdc := codec.New(keys)
	policy, err := policies.New(ctx, policies.Default(), policies.Options{})
	must(err)
	devKey, err := api.LoadOrCreateDevKey(dir)
	must(err)
	proj := projections.New(st, cdc, logger)
	proj.OnErased = func(ctx context.Context, caseID string) error { return keys.Destroy(ctx, caseID) }
	s.access = accesslog.New(st)
	ckey, err := transparency.LoadOrCreateKey(dir)
	must(err)
	trees, err := transparency.Open(ctx, transparency.Config{KV: st, Journal: st, Events: st, Key: ckey, JournalConsumers: []follow.Consumer{new(accesslog.QueryIndex)}, Logger: logger})
	must(err)
	h, err := hub.New(hub.Config{
		Log: st, Projector: proj, Codec: cdc, Keys: keys, Policy: policy, Access: s.access,
		Audit: accesslog.NewService(s.access, st, trees), Logger: logger, StatusOf: api.StatusOf,
	})
	must(err)
	srv := api.New(api.Config{
		Hub: h, Verifier: api.NewVerifier(api.DevKeys(devKey), api.DevIssuer, api.DevAudience, nil), Logger: logger,
	})
	s.handler = srv.Handler()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); proj.Run(runCtx) }()
	go func() { defer wg.Done(); trees.Run(runCtx) }()
	tb.Cleanup(func() {
		cancel()
		wg.Wait()
		trees.Close(ctx)
		st.Close()
	})
	for deadline := time.Now().Add(30 * time.Second); !proj.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the projections did not catch up")
		}
	}
	mint := func(agency, role, sub string) string {
		tok, err := api.MintDevToken(devKey, api.TokenRequest{Subject: sub, Agency: agency, Roles: []string{role}, TTL: 24 * time.Hour})
		must(err)
		return tok
	}
	s.caseworker = mint("prison-service", "caseworker", "pc-fuzz")
	s.auditor = mint("oversight-board", "auditor", "ob-fuzz")
	for i := range 2 {
		r := s.post(tb, "/v1/cases", fmt.Sprintf(`{"subject_ref":"P-FUZZ-%d","target_group":"islamist"}`, i))
		var out struct {
			CaseID string `json:"case_id"`
		}
		if r.Code != http.StatusCreated || json.Unmarshal(r.Body.Bytes(), &out) != nil {
			tb.Fatalf("opening a case: %d %s", r.Code, r.Body)
		}
		s.cases = append(s.cases, out.CaseID)
		for _, body := range []string{
			`{"type":"ConsentGiven","data":{"organisations":["exit-ngo"]}}`,
			`{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`,
		} {
			if r := s.post(tb, "/v1/cases/"+out.CaseID+"/events", body); r.Code != http.StatusCreated {
				tb.Fatalf("appending: %d %s", r.Code, r.Body)
			}
		}
	}
	return s
}

func (s *fuzzServer) post(tb testing.TB, path, body string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.caseworker)
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	return w
}

// get sends GET target as it reaches the handler from a real server: nil
// when net/http itself would refuse the request line. It checks that the call
// left exactly one access record.
func (s *fuzzServer) get(t *testing.T, target, token, purpose string) *httptest.ResponseRecorder {
	t.Helper()
	if strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL, req.RequestURI = u, target
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.PurposeHeader, purpose)
	before, err := s.access.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	after, err := s.access.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	routed := u.RawPath
	if routed == "" {
		routed = u.Path
	}
	want := uint64(1)
	if routed == "/v1/openapi.json" {
		want = 0 // public, not an access
	}
	if after-before != want {
		t.Errorf("GET %q (%d) left %d access records, want %d", target, w.Code, after-before, want)
	}
	return w
}

// checkAnswer checks a status against the expected ones (never 5xx) and that a
// refusal is a problem document.
func (s *fuzzServer) checkAnswer(t *testing.T, r *httptest.ResponseRecorder, want ...int) {
	t.Helper()
	if r.Code >= 500 {
		t.Fatalf("status %d: %s\nhub log:\n%s", r.Code, r.Body, s.logs.String())
	}
	if !slices.Contains(want, r.Code) {
		t.Errorf("status %d, want one of %v: %s", r.Code, want, r.Body)
	}
	if r.Code < 400 {
		return
	}
	var p api.Problem
	if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(r.Body.Bytes(), &p) != nil || p.Type == "" || p.Title == "" || p.Status != r.Code {
		t.Errorf("refusal is not a problem document: %s %s", r.Header().Get("Content-Type"), r.Body)
	}
}

// TestWriteAPIFuzzSeeds writes the seed corpora of this package's fuzz targets
// into testdata/fuzz when LIAISON_WRITE_FUZZ_SEEDS=1; the files are committed.
func TestWriteAPIFuzzSeeds(t *testing.T) {
	if os.Getenv("LIAISON_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set LIAISON_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(target, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case uint8:
				fmt.Fprintf(&b, "uint8(%d)\n", v)
			case string:
				fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, tok := range verifySeeds(t) {
		write("FuzzVerify", name, tok)
	}
	for name, q := range map[string][3]string{
		"none": {}, "limit-1": {"1"}, "limit-500": {"500"}, "limit-0": {"0"}, "limit-501": {"501"},
		"limit-negative": {"-1"}, "limit-float": {"1.5"}, "limit-exponent": {"1e2"}, "limit-huge": {"99999999999999999999"},
		"limit-spaces": {" 5 "}, "limit-hex": {"0x10"}, "limit-plus": {"+5"}, "limit-nul": {"5\x00"},
		"cursor-valid": {"", "AAAAAAAAAAE"}, "cursor-max": {"", "__________8"}, "cursor-short": {"", "AAAA"},
		"cursor-padded": {"", "AAAAAAAAAAE="}, "cursor-std-alphabet": {"", "+/+/+/+/+/8"}, "cursor-garbage": {"", "!!!"},
		"cursor-long": {"", strings.Repeat("A", 4096)}, "stage-valid": {"", "", "intake"}, "stage-case": {"", "", "Intake"},
		"stage-unknown": {"", "", "prison"}, "stage-homoglyph": {"", "", "іntake"}, "stage-nul": {"", "", "intake\x00"},
		"all": {"2", "AAAAAAAAAAA", "assessment"},
	} {
		write("FuzzCasesQuery", name, q[0], q[1], q[2])
	}
	ids := map[string]string{
		"known": "{case}", "upper": "{CASE}", "no-case": "00000000-0000-4000-8000-000000000000", "dotdot": "..",
		"traversal": "../../../etc/passwd", "encoded-dots": "%2e%2e", "encoded-slash": "..%2f..%2fhealthz",
		"nul": "{case}%00", "space": "{case}%20", "long": strings.Repeat("a", 10000), "braces": "{{case}}",
		"urn": "urn:uuid:{case}", "unicode": "{case}\u202e", "invalid-utf8": "{case}%ff", "percent": "%", "semicolon": "{case};x",
	}
	sections := []string{"needs", "profile", "NEEDS", "..", "%2e%2e", "needs%00", "", "needs/extra", "nееds"}
	i := 0
	for name, id := range ids {
		for sel := range uint8(4) {
			write("FuzzCaseRoutes", fmt.Sprintf("%s-%d", name, sel), sel, id, sections[i%len(sections)], []string{"", "after_version=1", "after_version=-1", "after_version=18446744073709551616", "after_version=%zz"}[i%5])
			i++
		}
	}
	for name, q := range map[string]string{
		"none": "", "decision": "decision=deny", "bad-decision": "decision=DENY", "break-glass": "break_glass=true",
		"bad-break-glass": "break_glass=yes", "from-to": "from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
		"bad-from": "from=2026-02-30T00:00:00Z", "bad-to": "to=2026-01-01", "limit": "limit=1", "bad-limit": "limit=1001",
		"cursor": "cursor=AAAAAAAAAAE", "bad-cursor": "cursor=%%%", "case": "case_id={case}", "sub": "sub=pc-fuzz&agency=prison-service",
		"all-bad": "decision=x&break_glass=x&from=x&to=x&limit=x&cursor=x", "repeated": "limit=abc&limit=5",
		"bad-encoding": "limit=%zz&decision=%", "semicolon": "limit=1;decision=deny",
	} {
		write("FuzzAuditQuery", "records-"+name, uint8(0), q)
	}
	for name, q := range map[string]string{
		"valid": "index=0&size=1", "index-at-size": "index=1&size=1", "zero": "index=0&size=0", "huge": "index=0&size=9223372036854775807",
		"negative": "index=-1&size=1", "missing": "", "overflow": "index=18446744073709551615&size=18446744073709551615",
	} {
		write("FuzzAuditQuery", "inclusion-"+name, uint8(1), q)
	}
	for name, q := range map[string]string{
		"valid": "from=1&to=2", "reversed": "from=2&to=1", "zero": "from=0&to=0", "huge": "from=1&to=9223372036854775807", "missing": "from=1",
	} {
		write("FuzzAuditQuery", "consistency-"+name, uint8(2), q)
	}
}

// verifySeeds returns valid tokens under fuzzKey and the RFC 8725 attacks on
// them, by name.
func verifySeeds(t *testing.T) map[string]string {
	t.Helper()
	kid := api.KeyID(fuzzKey.Public())
	mk := func(method jwt.SigningMethod, key any, mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": api.DevIssuer, "aud": []string{api.DevAudience}, "sub": "pc-anna", "agency": "prison-service",
			"roles": []string{"caseworker"}, "iat": fuzzNow.Unix(), "nbf": fuzzNow.Unix(), "exp": fuzzNow.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := mk(jwt.SigningMethodEdDSA, fuzzKey, nil)
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding.EncodeToString
	seeds := map[string]string{
		"valid":          valid,
		"valid-purpose":  mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["purpose"] = "case-management" }),
		"alg-none":       enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"alg-none-case":  enc([]byte(`{"alg":"NONE"}`)) + "." + parts[1] + ".",
		"hmac-pubkey":    mk(jwt.SigningMethodHS256, []byte(fuzzKey.Public().(ed25519.PublicKey)), nil),
		"expired":        mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["exp"] = fuzzNow.Add(-time.Hour).Unix() }),
		"not-yet-valid":  mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["nbf"] = fuzzNow.Add(time.Hour).Unix() }),
		"no-exp":         mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { delete(c, "exp") }),
		"exp-string":     mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["exp"] = "9999999999" }),
		"exp-float":      mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["exp"] = 1e300 }),
		"wrong-issuer":   mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["iss"] = "evil" }),
		"wrong-audience": mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["aud"] = "other" }),
		"roles-string":   mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["roles"] = "caseworker" }),
		"roles-null":     mk(jwt.SigningMethodEdDSA, fuzzKey, func(c jwt.MapClaims) { c["roles"] = nil }),
		"other-key":      mk(jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(make([]byte, 32)), nil),
		"tampered":       parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
		"swapped":        parts[0] + "." + enc([]byte(`{"iss":"liaison-dev","aud":"liaison","sub":"x","agency":"intelligence-service","roles":["analyst"],"exp":9999999999}`)) + "." + parts[2],
		"padded":         parts[0] + "." + parts[1] + "." + parts[2] + "==",
		"four-segments":  valid + ".x",
		"two-segments":   parts[0] + "." + parts[1],
		"empty":          "",
		"dots":           "..",
		"garbage":        "not.a.token",
		"oversized":      parts[0] + "." + enc(bytes.Repeat([]byte("x"), api.MaxTokenLen)) + "." + parts[2],
		"header-array":   enc([]byte(`[]`)) + "." + parts[1] + "." + parts[2],
		"kid-object":     enc([]byte(`{"alg":"EdDSA","kid":{"x":1}}`)) + "." + parts[1] + "." + parts[2],
	}
	return seeds
}

func flipFirst(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
