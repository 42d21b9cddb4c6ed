package liaison_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenAttacksAreRefusedAndRecorded makes the RFC 8725 attacks of
// docs/targets.md, R5, on a running hub: each one is a 401 problem with a
// WWW-Authenticate header and nothing more said, writes nothing, and is in the
// access log as a denial with status 401 and the identity the token claimed,
// when it could be read.
func TestTokenAttacksAreRefusedAndRecorded(t *testing.T) {
	h := startHub(t, "")
	pc := identity{Agency: "prison-service", Roles: []string{"caseworker"}, Sub: "pc-tokens"}
	auditor := identity{Agency: "oversight-board", Roles: []string{"auditor"}, Sub: "ob-tokens"}
	key := readDevKey(t, h.data)
	kid := kidOf(t, h.token(pc))
	now := time.Now()
	claims := func(sub string, mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "liaison-dev", "aud": []string{"liaison"}, "sub": sub, "agency": "prison-service",
			"roles": []string{"caseworker"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, signKey any, keyID string, c jwt.MapClaims) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, c)
		if keyID != "" {
			tok.Header["kid"] = keyID
		}
		s, err := tok.SignedString(signKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b64 := base64.RawURLEncoding.EncodeToString

	// The control: a token signed here with the hub's key is accepted, so the
	// refusals below are the attacks', not the test's.
	control := sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-control", nil))
	if a := sendWire(t, h, wireRequest{method: "GET", target: "/v1/cases", header: bearer(control, "case-management")}); a.status != http.StatusOK {
		t.Fatalf("a valid token signed by the test is refused: %d %s", a.status, a.body)
	}

	valid := sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-tampered", nil))
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[10] ^= 0x01
	forged := strings.Split(sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-swapped", nil)), ".")
	payload, _ := base64.RawURLEncoding.DecodeString(forged[1])
	payload = bytes.Replace(payload, []byte(`"prison-service"`), []byte(`"intelligence-service"`), 1)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Public().(ed25519.PublicKey)

	type attack struct {
		name          string
		authorization []string // header values; none: no header
		sub, agency   string   // the identity the access record must show
	}
	withToken := func(name, tok, sub, agency string) attack {
		return attack{name, []string{"Bearer " + tok}, sub, agency}
	}
	attacks := []attack{
		withToken("alg none", b64([]byte(`{"alg":"none","typ":"JWT"}`))+"."+b64(mustJSON(t, claims("atk-none", nil)))+".", "atk-none", "prison-service"),
		withToken("alg None without signature segment", b64([]byte(`{"alg":"None"}`))+"."+b64(mustJSON(t, claims("atk-none2", nil))), "", ""),
		withToken("HMAC keyed with the public key", sign(jwt.SigningMethodHS256, []byte(pub), kid, claims("atk-hmac", nil)), "atk-hmac", "prison-service"),
		withToken("HMAC keyed with the public key in PEM", sign(jwt.SigningMethodHS256, pemOf(t, pub), kid, claims("atk-hmac-pem", nil)), "atk-hmac-pem", "prison-service"),
		withToken("expired", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-expired", func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Minute).Unix() })), "atk-expired", "prison-service"),
		withToken("not yet valid", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-nbf", func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Minute).Unix() })), "atk-nbf", "prison-service"),
		withToken("no expiry", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-noexp", func(c jwt.MapClaims) { delete(c, "exp") })), "atk-noexp", "prison-service"),
		withToken("wrong issuer", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-iss", func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "atk-iss", "prison-service"),
		withToken("wrong audience", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-aud", func(c jwt.MapClaims) { c["aud"] = []string{"other-service"} })), "atk-aud", "prison-service"),
		withToken("unknown organisation", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-nobody", func(c jwt.MapClaims) { c["agency"] = "nobody" })), "atk-nobody", "nobody"),
		withToken("homoglyph organisation", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-homoglyph", func(c jwt.MapClaims) { c["agency"] = "prіson-service" })), "atk-homoglyph", "prіson-service"),
		withToken("tampered signature", parts[0]+"."+parts[1]+"."+b64(sig), "atk-tampered", "prison-service"),
		withToken("claims changed under a valid signature", forged[0]+"."+b64(payload)+"."+forged[2], "atk-swapped", "intelligence-service"),
		withToken("signed by another key", sign(jwt.SigningMethodEdDSA, otherKey, kid, claims("atk-otherkey", nil)), "atk-otherkey", "prison-service"),
		withToken("RS256 under the dev key's kid", sign(jwt.SigningMethodRS256, rsaKey, kid, claims("atk-rs256", nil)), "atk-rs256", "prison-service"),
		withToken("ES256 under the dev key's kid", sign(jwt.SigningMethodES256, ecKey, kid, claims("atk-es256", nil)), "atk-es256", "prison-service"),
		withToken("oversized token", sign(jwt.SigningMethodEdDSA, key, kid, claims("atk-oversized", func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 9<<10) })), "", ""),
		withToken("garbage", "not.a.token", "", ""),
		withToken("empty segments", "..", "", ""),
		{"missing header", nil, "", ""},
		{"Basic scheme", []string{"Basic " + b64([]byte("pc-anna:secret"))}, "", ""},
		{"bearer without token", []string{"Bearer "}, "", ""},
		{"token without scheme", []string{control}, "", ""},
		{"garbage before a valid token in a second header", []string{"Bearer garbage", "Bearer " + control}, "", ""},
	}

	trail := newAccessTrail(t, h, auditor)
	cases := trail.countCases(t, pc)
	mark := trail.mark(t)
	var sent []wireAnswer
	var bodies = map[string]bool{}
	for _, a := range attacks {
		for _, req := range []wireRequest{
			{method: "GET", target: "/v1/cases", header: http.Header{"Liaison-Purpose": {"case-management"}}},
			{method: "POST", target: "/v1/cases", header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"subject_ref":"P-ATK-1","target_group":"islamist"}`)},
		} {
			if a.authorization != nil {
				req.header["Authorization"] = a.authorization
			}
			req.name = a.name + " (" + req.method + ")"
			ans := sendWire(t, h, req)
			sent = append(sent, ans)
			t.Run(req.name+" is a bare 401", func(t *testing.T) {
				if ans.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", ans.status, ans.body)
				}
				checkProblem(t, ans, "")
				if ans.header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				var p map[string]any
				json.Unmarshal(ans.body, &p)
				if _, ok := p["errors"]; ok || len(p) > 4 {
					t.Errorf("the refusal says more than that a token is needed: %s", ans.body)
				}
			})
			bodies[string(ans.body)] = true
		}
	}
	t.Run("every refusal says the same", func(t *testing.T) {
		if len(bodies) != 1 {
			t.Errorf("%d different bodies: %v", len(bodies), slices.Collect(maps.Keys(bodies)))
		}
	})
	t.Run("no case is opened", func(t *testing.T) {
		if got := trail.countCases(t, pc); got != cases {
			t.Errorf("%d cases, %d before", got, cases)
		}
	})
	t.Run("each attack is in the access log as a denial with its claimed identity", func(t *testing.T) {
		recs := trail.since(t, mark)
		checkTrail(t, recs, sent, trail)
		byID := map[string]accessRecord{}
		for _, r := range recs {
			byID[r.RequestID] = r
		}
		for i, ans := range sent {
			a := attacks[i/2]
			r, ok := byID[ans.requestID]
			if !ok {
				continue // reported by checkTrail
			}
			if r.Status != http.StatusUnauthorized || r.Decision != "deny" {
				t.Errorf("%s: record says %s %d", ans.name, r.Decision, r.Status)
			}
			if r.Sub != a.sub || r.Agency != a.agency {
				t.Errorf("%s: record names %q of %q, want %q of %q", ans.name, r.Sub, r.Agency, a.sub, a.agency)
			}
			if len(r.Reasons) == 0 {
				t.Errorf("%s: record gives no reason", ans.name)
			}
		}
	})
}

// ---- helpers shared with the malformed-request test

// wireRequest is one request sent exactly as given: target is the raw
// request target (path and query), header may repeat a name.
type wireRequest struct {
	name   string
	method string
	target string
	header http.Header
	body   []byte
	// chunked sends the body without a Content-Length.
	chunked bool
	// want lists the acceptable statuses; empty means any 4xx.
	want []int
	// field, when set, must be named by the problem's errors ("*": any).
	field string
	// beforeHub marks a request that net/http refuses before the hub's
	// handler: it has no access record.
	beforeHub bool
}

// wireAnswer is the hub's answer to a wireRequest.
type wireAnswer struct {
	wireRequest
	status    int
	header    http.Header
	body      []byte
	requestID string
}

var wireClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}

func sendWire(t testing.TB, h *hub, r wireRequest) wireAnswer {
	t.Helper()
	a, err := trySendWire(h, r)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	return a
}

// trySendWire sends r; safe for concurrent use.
func trySendWire(h *hub, r wireRequest) (wireAnswer, error) {
	u, err := url.Parse(h.Base)
	if err != nil {
		return wireAnswer{}, err
	}
	u.Opaque, u.RawQuery, _ = strings.Cut(r.target, "?")
	req := &http.Request{Method: r.method, URL: u, Header: http.Header{}, Host: u.Host}
	for k, vs := range r.header {
		req.Header[k] = slices.Clone(vs)
	}
	if r.body != nil {
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(r.body)), nil }
		req.Body, _ = req.GetBody()
		if req.ContentLength = int64(len(r.body)); r.chunked {
			req.ContentLength = -1
		}
	}
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		resp, err = wireClient.Do(req)
		if err == nil || attempt == 2 {
			break
		}
		// A hub that refuses a large body unread may reset the connection
		// before the client reads the answer; ask again on a new one.
		wireClient.CloseIdleConnections()
		if r.body != nil {
			req.Body, _ = req.GetBody()
		}
	}
	if err != nil {
		return wireAnswer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return wireAnswer{wireRequest: r, status: resp.StatusCode, header: resp.Header, body: b, requestID: resp.Header.Get("X-Request-Id")}, nil
}

func bearer(token, purpose string) http.Header {
	h := http.Header{"Authorization": {"Bearer " + token}}
	if purpose != "" {
		h.Set("Liaison-Purpose", purpose)
	}
	return h
}

// checkProblem checks that an answer is an RFC 9457 problem of its status,
// naming field (or a part of it: "needs[0]" of "needs") in its errors when
// field is set ("*": any field).
func checkProblem(t *testing.T, a wireAnswer, field string) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: %d answered as %q, not application/problem+json: %.200s", a.name, a.status, ct, a.body)
		return
	}
	if a.method == http.MethodHead {
		return
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(a.body, &p); err != nil || p.Type == "" || p.Title == "" || p.Status != a.status {
		t.Errorf("%s: not a problem of status %d: %.300s", a.name, a.status, a.body)
		return
	}
	if field == "" {
		return
	}
	var names []string
	for _, e := range p.Errors {
		names = append(names, e.Field)
	}
	named := slices.ContainsFunc(names, func(n string) bool {
		return field == "*" || n == field || strings.HasPrefix(n, field+"[") || strings.HasPrefix(n, field+".")
	})
	if !named {
		t.Errorf("%s: the problem names the fields %q, want %q: %.300s", a.name, names, field, a.body)
	}
}

// accessRecord is an access record as GET /v1/audit/records shows it.
type accessRecord struct {
	Index     uint64   `json:"index"`
	RequestID string   `json:"request_id"`
	Sub       string   `json:"sub"`
	Agency    string   `json:"agency"`
	Action    string   `json:"action"`
	CaseID    string   `json:"case_id"`
	Decision  string   `json:"decision"`
	Status    int      `json:"status"`
	Reasons   []string `json:"reasons"`
}

// accessTrail reads the access log as an oversight auditor and keeps the
// request ids of the calls the test makes for itself (its reads), so that
// they can be told from the requests under test.
type accessTrail struct {
	h       *hub
	auditor identity
	own     map[string]bool
}

func newAccessTrail(t *testing.T, h *hub, auditor identity) *accessTrail {
	t.Helper()
	return &accessTrail{h: h, auditor: auditor, own: map[string]bool{}}
}

// note sends a request of the test's own and remembers its request id.
func (a *accessTrail) note(t testing.TB, r wireRequest) wireAnswer {
	t.Helper()
	ans := sendWire(t, a.h, r)
	if ans.requestID != "" {
		a.own[ans.requestID] = true
	}
	return ans
}

// all returns every access record, paging through the log.
func (a *accessTrail) all(t *testing.T) []accessRecord {
	t.Helper()
	var out []accessRecord
	cursor := ""
	for {
		target := "/v1/audit/records?limit=1000"
		if cursor != "" {
			target += "&cursor=" + url.QueryEscape(cursor)
		}
		ans := a.note(t, wireRequest{name: "audit read", method: "GET", target: target, header: bearer(a.h.token(a.auditor), "oversight")})
		var page struct {
			Items      []accessRecord `json:"items"`
			NextCursor *string        `json:"next_cursor"`
		}
		if ans.status != http.StatusOK || json.Unmarshal(ans.body, &page) != nil {
			t.Fatalf("reading the access log: %d %.300s", ans.status, ans.body)
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		cursor = *page.NextCursor
	}
}

// mark returns the index of the last record now in the log.
func (a *accessTrail) mark(t *testing.T) uint64 {
	t.Helper()
	recs := a.all(t)
	if len(recs) == 0 {
		t.Fatal("the access log is empty")
	}
	return recs[len(recs)-1].Index
}

// since returns the records after index mark.
func (a *accessTrail) since(t *testing.T, mark uint64) []accessRecord {
	t.Helper()
	var out []accessRecord
	for _, r := range a.all(t) {
		if r.Index > mark {
			out = append(out, r)
		}
	}
	return out
}

// checkTrail checks that recs (the records after the mark) hold exactly one
// record per request sent, with its status, a denial for each refusal, and
// nothing else but the test's own reads.
func checkTrail(t *testing.T, recs []accessRecord, sent []wireAnswer, trail *accessTrail) {
	t.Helper()
	byID := map[string][]accessRecord{}
	for _, r := range recs {
		byID[r.RequestID] = append(byID[r.RequestID], r)
	}
	expected := 0
	for _, a := range sent {
		if a.beforeHub && a.requestID == "" {
			continue
		}
		if a.requestID == "" {
			t.Errorf("%s: %s %.80q answered %d with no request id: it is not in the access log", a.name, a.method, a.target, a.status)
			continue
		}
		expected++
		rs := byID[a.requestID]
		if len(rs) != 1 {
			t.Errorf("%s: %d access records, want 1", a.name, len(rs))
			continue
		}
		if rs[0].Status != a.status {
			t.Errorf("%s: record says status %d, answer was %d", a.name, rs[0].Status, a.status)
		}
		if a.status >= 400 && rs[0].Decision != "deny" {
			t.Errorf("%s: refused with %d but recorded as %q", a.name, a.status, rs[0].Decision)
		}
		delete(byID, a.requestID)
	}
	own := 0
	for id, rs := range byID {
		if trail.own[id] {
			own += len(rs)
			continue
		}
		for _, r := range rs {
			t.Errorf("access record %d (%s %s by %q) belongs to no request of the test", r.Index, r.Action, r.Decision, r.Sub)
		}
	}
	if len(recs) != expected+own {
		t.Errorf("%d access records after the mark, want %d (requests) + %d (the test's own reads)", len(recs), expected, own)
	}
}

// countCases counts the cases id can list.
func (a *accessTrail) countCases(t *testing.T, id identity) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		target := "/v1/cases?limit=500"
		if cursor != "" {
			target += "&cursor=" + url.QueryEscape(cursor)
		}
		r := a.note(t, wireRequest{name: "list cases", method: "GET", target: target, header: bearer(a.h.token(id), "case-management")})
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
			t.Fatalf("listing cases: %d %s", r.status, r.body)
		}
		n += len(page.Items)
		if page.NextCursor == nil {
			return n
		}
		cursor = *page.NextCursor
	}
}

// readDevKey reads the hub's development signing key from its data directory.
func readDevKey(t testing.TB, data string) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "dev-token-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("the dev key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("the dev key is a %T", k)
	}
	return key
}

// kidOf returns the key id in a token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("token header %q", head)
	}
	return h.Kid
}

func pemOf(t *testing.T, pub ed25519.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
