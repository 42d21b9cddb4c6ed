package liaison_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// TestListCursorsAreOpaqueAndTellNothing: a page of GET /v1/cases has a
// next_cursor only when a further case the caller may list exists (a case it
// cannot see opened meanwhile changes nothing), and a cursor is an opaque
// token that only the caller it was given to can use: another caller's, a
// forged, a truncated or an altered one is refused with 400 naming "cursor".
func TestListCursorsAreOpaqueAndTellNothing(t *testing.T) {
	h := startHub(t, "")
	coordinator := identity{Agency: "municipality", Roles: []string{"coordinator"}, Sub: "mc-gus"}
	shared := openCase(t, h, prisonCaseworker, "CUR-2026-0001")
	appendOK(t, h, shared, prisonCaseworker, "ConsentGiven", map[string]any{"organisations": []string{"municipality"}}, nil)
	page := func(as identity, purpose, cursor string) (int, map[string]any) {
		t.Helper()
		q := url.Values{"limit": {"1"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r := h.do("GET", "/v1/cases?"+q.Encode(), &as, purpose, nil)
		if r.Status != 200 {
			return r.Status, map[string]any{"body": string(r.Body)}
		}
		return r.Status, r.json(t)
	}
	_, before := page(coordinator, "reintegration", "")
	if before["next_cursor"] != nil {
		t.Fatalf("one visible case, limit 1: next_cursor %v, want none", before["next_cursor"])
	}
	// The prison opens cases the municipality cannot see.
	for _, ref := range []string{"CUR-2026-0002", "CUR-2026-0003"} {
		openCase(t, h, prisonCaseworker, ref)
	}
	if _, after := page(coordinator, "reintegration", ""); after["next_cursor"] != nil {
		t.Errorf("after cases the municipality cannot see were opened: next_cursor %v, want none (the last page stays the last)", after["next_cursor"])
	}
	// The prison sees three cases: its first page has a cursor.
	_, first := page(prisonCaseworker, "case-management", "")
	cursor, _ := first["next_cursor"].(string)
	if cursor == "" {
		t.Fatalf("three cases, limit 1: no next_cursor: %v", first)
	}
	if b, err := base64.RawURLEncoding.DecodeString(cursor); err == nil && len(b) <= 8 {
		t.Errorf("the cursor decodes to %d bytes: a bare position, not an opaque token", len(b))
	}
	if status, next := page(prisonCaseworker, "case-management", cursor); status != 200 || len(next["items"].([]any)) != 1 {
		t.Errorf("the next page: %d %v", status, next)
	}
	altered := []byte(cursor)
	altered[len(altered)/2] ^= 1
	for name, c := range map[string]string{
		"another caller's cursor": cursor,
		"a forged cursor":         base64.RawURLEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 1}),
		"a truncated cursor":      cursor[:len(cursor)-4],
		"an altered cursor":       string(altered),
	} {
		as, purpose := prisonCaseworker, "case-management"
		if name == "another caller's cursor" {
			as, purpose = intelAnalyst, "risk-management"
		}
		status, body := page(as, purpose, c)
		if status != 400 || !strings.Contains(body["body"].(string), `"field":"cursor"`) {
			t.Errorf("%s: %d %v, want 400 naming the cursor", name, status, body)
		}
	}
}
