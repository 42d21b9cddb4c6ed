package accesslog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// oldLayout is a record stored before the optional fields existed; withOld
// returns it with tail in place of its closing brace.
const oldLayout = `{"time":"2026-03-01T09:00:00Z","request_id":"r1","sub":"s","agency":"a","roles":["x"],"purpose":"p","action":"case.read",` +
	`"case_id":"c1","section":"","decision":"allow","status":200,"reasons":[],"policy_revision":"rev","break_glass":false,"withheld":0}`

func withOld(tail string) []byte { return []byte(strings.TrimSuffix(oldLayout, "}") + tail) }

func TestTheFastPathReadsBothLayoutsOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		fast bool
	}{
		{"the layout before the optional fields", []byte(oldLayout), true},
		{"an issuer", withOld(`,"issuer":"liaison-dev"}`), true},
		{"each optional field", withOld(`,"issuer":"i","justification":"j","legal_basis":"l","reference":"r"}`), true},
		{"some optional fields", withOld(`,"justification":"j","reference":"r"}`), true},
		{"an escaped optional field", withOld(`,"justification":"a\"b"}`), false},
		{"an escaped optional field after a plain one", withOld(`,"issuer":"i","reference":"\u00e9"}`), false},
		{"an empty optional field", withOld(`,"issuer":""}`), false},
		{"optional fields out of order", withOld(`,"reference":"r","issuer":"i"}`), false},
		{"an optional field twice", withOld(`,"issuer":"i","issuer":"j"}`), false},
		{"an unknown field after the optional ones", withOld(`,"issuer":"i","x":1}`), false},
		{"an unknown field in place of them", withOld(`,"comment":"c"}`), false},
		{"an optional field that is not a string", withOld(`,"issuer":1}`), false},
		{"a missing brace", withOld(`,"issuer":"i"`), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, fast := decodeEncoded(c.b, false)
			if fast != c.fast {
				t.Fatalf("read by the fast path: %v, want %v", fast, c.fast)
			}
			if v, vfast := decodeEncoded(c.b, true); vfast != fast || !reflect.DeepEqual(v, r) {
				t.Fatalf("the fast path's views read\n%+v (%v)\nits copies\n%+v (%v)", v, vfast, r, fast)
			}
			var want Record
			jsonErr := json.Unmarshal(c.b, &want)
			got, err := Decode(0, c.b)
			if (err != nil) != (jsonErr != nil) {
				t.Fatalf("Decode: %v; encoding/json: %v", err, jsonErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("Decode reads\n%+v\nencoding/json reads\n%+v", got, want)
			}
			if fast && !reflect.DeepEqual(r, want) {
				t.Errorf("the fast path reads\n%+v\nencoding/json reads\n%+v", r, want)
			}
		})
	}
}

// FuzzEncodeDecode checks that Decode reads what Encode writes, whatever the
// strings, as encoding/json reads it.
func FuzzEncodeDecode(f *testing.F) {
	f.Add("pc-anna", "caseworker", "liaison-dev", "", "", "", 0, false)
	f.Add("eve\"", "a\tb", "https://idp.example", "imminent risk\n", "gdpr-17-1-a", "DPO-2026-42", 3, true)
	f.Add("", "", "", "\u2028<>&", "\\", "\xff", -1, false)
	f.Fuzz(func(t *testing.T, sub, role, issuer, justification, legalBasis, reference string, withheld int, breakGlass bool) {
		r := Record{Time: time.Date(2026, 3, 1, 9, 0, 0, int(uint32(withheld))%1e9, time.UTC), Sub: sub, Roles: []string{role}, Reasons: []string{},
			Withheld: withheld, BreakGlass: breakGlass,
			Issuer: issuer, Justification: justification, LegalBasis: legalBasis, Reference: reference}
		b := r.Encode()
		got, err := Decode(0, b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		var viaJSON Record
		if err := json.Unmarshal(b, &viaJSON); err != nil {
			t.Fatalf("encoding/json cannot read %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, viaJSON) {
			t.Fatalf("Decode reads\n%+v\nencoding/json reads\n%+v\nfrom %s", got, viaJSON, b)
		}
		valid := true
		for _, s := range []string{sub, role, issuer, justification, legalBasis, reference} {
			valid = valid && utf8.ValidString(s)
		}
		if valid && !reflect.DeepEqual(got, r) { // Encode replaces invalid UTF-8
			t.Fatalf("Decode reads\n%+v\nEncode was given\n%+v", got, r)
		}
		if again := got.Encode(); string(again) != string(b) {
			t.Fatalf("encoded again as\n%s\nfirst as\n%s", again, b)
		}
	})
}

// FuzzDecode checks that the fast path reads any JSON it takes as
// encoding/json does. It trusts its bytes to come from Encode, which writes
// valid UTF-8 JSON, and is lenient about what is not (bytes encoding/json
// refuses or repairs), so the check skips those.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(oldLayout))
	f.Add(withOld(`,"issuer":"i","justification":"j","legal_basis":"l","reference":"r"}`))
	f.Add(withOld(`,"legal_basis":"gdpr-17-1-a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, fast := decodeEncoded(b, false)
		if v, vfast := decodeEncoded(b, true); vfast != fast || !reflect.DeepEqual(v, r) {
			t.Fatalf("the fast path's views read\n%+v (%v)\nits copies\n%+v (%v)\nfrom %s", v, vfast, r, fast, b)
		}
		if _, err := Decode(0, b); fast && err != nil {
			t.Fatalf("the fast path read %s, Decode fails: %v", b, err)
		}
		var want Record
		if !fast || !utf8.Valid(b) || json.Unmarshal(b, &want) != nil {
			return
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("the fast path reads\n%+v\nencoding/json reads\n%+v\nfrom %s", r, want, b)
		}
	})
}
