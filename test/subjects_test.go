package liaison_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestSameNameAtTwoProvidersIsTwoPeople runs a hub trusting two providers
// (JWKS files: no OpenID provider needed) that may both assert the oversight
// body, each with a data-protection officer called "kim". The four-eyes rule
// of erasure compares who requested with who confirms: the same "kim" cannot
// confirm her own request, and the other provider's "kim" can, because the
// hub keeps the subjects of two providers apart ("<alias>:<sub>").
func TestSameNameAtTwoProvidersIsTwoPeople(t *testing.T) {
	dir := t.TempDir()
	keys := map[string]ed25519.PrivateKey{}
	var issuers string
	for _, alias := range []string{"east", "west"} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		keys[alias] = priv
		jwks := filepath.Join(dir, alias+".json")
		writeFile(t, jwks, fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":%q,"x":%q}]}`, alias, base64.RawURLEncoding.EncodeToString(pub)))
		issuers += fmt.Sprintf(`  - alias: %[1]s
    issuer: https://%[1]s.example
    jwks_file: %[2]s
    audience: liaison-hub
    organisations: [oversight-board, prison-service]
    organisation_claim: agency
`, alias, jwks)
	}
	trust := filepath.Join(dir, "trust.yaml")
	writeFile(t, trust, "issuers:\n"+issuers)
	h := startHub(t, "", "--trust", trust)
	token := func(alias, sub, agency string, roles ...string) string {
		c := jwt.MapClaims{"iss": "https://" + alias + ".example", "aud": "liaison-hub", "sub": sub, "agency": agency,
			"roles": roles, "exp": time.Now().Add(time.Hour).Unix()}
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["kid"] = alias
		s, err := tok.SignedString(keys[alias])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	send := func(method, path, tok string, body any) wireAnswer {
		r := wireRequest{name: method + " " + path, method: method, target: path, header: bearer(tok, "")}
		if body != nil {
			r.body = mustJSON(t, body)
			r.header.Set("Content-Type", "application/json")
		}
		return sendWire(t, h, r)
	}
	a := send("POST", "/v1/cases", token("east", "pat", "prison-service", "caseworker"), map[string]any{"subject_ref": "P-2026-0930", "target_group": "islamist"})
	if a.status != http.StatusCreated {
		t.Fatalf("opening a case: %d %s", a.status, a.body)
	}
	var opened struct {
		CaseID string `json:"case_id"`
	}
	json.Unmarshal(a.body, &opened)
	eastKim, westKim := token("east", "kim", "oversight-board", "dpo"), token("west", "kim", "oversight-board", "dpo")
	a = send("POST", "/v1/cases/"+opened.CaseID+"/erase", eastKim, map[string]string{"legal_basis": "court-order", "reference": "AZ 9/2026"})
	if a.status != http.StatusAccepted {
		t.Fatalf("east's kim requests the erasure: %d %s", a.status, a.body)
	}
	var req struct {
		RequestID   string `json:"request_id"`
		RequestedBy struct {
			Sub string `json:"sub"`
		} `json:"requested_by"`
	}
	json.Unmarshal(a.body, &req)
	if req.RequestedBy.Sub != "east:kim" {
		t.Errorf("the request names %q as requester, want east:kim", req.RequestedBy.Sub)
	}
	t.Run("the requester cannot confirm", func(t *testing.T) {
		if a := send("POST", "/v1/erasures/"+req.RequestID+"/confirm", eastKim, nil); a.status != http.StatusForbidden {
			t.Errorf("east's kim confirms her own request: %d %s, want 403", a.status, a.body)
		}
	})
	t.Run("the other provider's kim is another officer and confirms", func(t *testing.T) {
		a := send("POST", "/v1/erasures/"+req.RequestID+"/confirm", westKim, nil)
		if a.status != http.StatusOK {
			t.Fatalf("west's kim confirms: %d %s, want 200", a.status, a.body)
		}
		var entry struct {
			DecidedBy struct {
				Sub string `json:"sub"`
			} `json:"decided_by"`
		}
		json.Unmarshal(a.body, &entry)
		if entry.DecidedBy.Sub != "west:kim" {
			t.Errorf("decided by %q, want west:kim", entry.DecidedBy.Sub)
		}
	})
}
