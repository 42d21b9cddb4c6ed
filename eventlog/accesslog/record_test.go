package accesslog_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

func TestDecodeReadsWhatEncodeWrote(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	for name, r := range map[string]accesslog.Record{
		"a plain record": {Time: at, RequestID: "r1", Sub: "pc-anna", Agency: "prison-service", Roles: []string{"caseworker", "manager"},
			Purpose: "case-management", Action: "section.read", CaseID: "c1", Section: "risk", Decision: accesslog.Partial,
			Status: 200, Reasons: []string{"a", "b"}, PolicyRevision: "rev", BreakGlass: true, Withheld: 3},
		"an empty record":               {Time: time.Time{}.UTC(), Roles: []string{}, Reasons: []string{}},
		"strings that need escaping":    {Time: at, Sub: "eve\"\\\n<script>", Roles: []string{"a\tb"}, Reasons: []string{"token refused: \"x\""}},
		"strings beyond ASCII":          {Time: at, Sub: "jürgen", Agency: "société", Roles: []string{"ü"}, Reasons: []string{"—"}},
		"a refused anonymous request":   {Time: at, Action: "case.read", Decision: accesslog.Deny, Status: 401, Roles: []string{}, Reasons: []string{"token: missing"}},
		"with an issuer":                {Time: at, Sub: "pc-anna", Issuer: "liaison-dev", Roles: []string{"caseworker"}, Reasons: []string{}},
		"a break-glass":                 {Time: at, Issuer: "https://idp.example", Justification: "imminent risk to life", Roles: []string{}, Reasons: []string{}, BreakGlass: true},
		"an erasure request":            {Time: at, Issuer: "liaison-dev", LegalBasis: "gdpr-17-1-a", Reference: "DPO-2026-0042", Roles: []string{"dpo"}, Reasons: []string{}},
		"a justification alone":         {Time: at, Justification: "j", Roles: []string{}, Reasons: []string{}},
		"a legal basis alone":           {Time: at, LegalBasis: "gdpr-17-1-a", Roles: []string{}, Reasons: []string{}},
		"a reference alone":             {Time: at, Reference: "r", Roles: []string{}, Reasons: []string{}},
		"every field":                   {Time: at, RequestID: "r1", Sub: "s", Agency: "a", Roles: []string{"x"}, Purpose: "p", Action: "case.erase", CaseID: "c", Section: "s", Decision: accesslog.Allow, Status: 202, Reasons: []string{"y"}, PolicyRevision: "rev", BreakGlass: true, Withheld: -1, Issuer: "i", Justification: "j", LegalBasis: "l", Reference: "ref"},
		"new fields that need escaping": {Time: at, Roles: []string{}, Reasons: []string{}, Issuer: "a\"b", Justification: "line 1\nline 2 <b>\\", LegalBasis: "\u2028", Reference: "ref\t\"x\""},
		"new fields beyond ASCII":       {Time: at, Roles: []string{}, Reasons: []string{}, Issuer: "https://idp.例え.jp", Justification: "Gefahr für Leib und Leben", Reference: "Aktenzeichen §17"},
	} {
		t.Run(name+" round-trips", func(t *testing.T) {
			b := r.Encode()
			got, err := accesslog.Decode(7, b)
			if err != nil {
				t.Fatal(err)
			}
			var viaJSON accesslog.Record
			if err := json.Unmarshal(b, &viaJSON); err != nil {
				t.Fatal(err)
			}
			viaJSON.Index = 7
			r.Index = 7
			if !reflect.DeepEqual(got, r) || !reflect.DeepEqual(got, viaJSON) {
				t.Errorf("decoded\n%+v\nwant\n%+v\nencoding/json reads\n%+v", got, r, viaJSON)
			}
		})
	}
	t.Run("a record in another layout is read through encoding/json", func(t *testing.T) {
		got, err := accesslog.Decode(1, []byte(`{"sub":"x","decision":"deny","time":"2026-03-01T09:00:00Z"}`))
		if err != nil || got.Sub != "x" || got.Decision != "deny" || got.Index != 1 {
			t.Errorf("%+v, %v", got, err)
		}
	})
	t.Run("bytes that are not a record are an error", func(t *testing.T) {
		if _, err := accesslog.Decode(1, []byte(`{"time":`)); err == nil {
			t.Error("no error")
		}
	})
}

// storedBefore are records as Encode stored them before the issuer, the
// justification, the legal basis and the reference existed (written by that
// version of Encode).
var storedBefore = []string{
	`{"time":"2026-03-01T08:00:00.12Z","request_id":"r1","sub":"pc-anna","agency":"prison-service","roles":["caseworker","manager"],"purpose":"case-management","action":"section.read","case_id":"c1","section":"risk","decision":"partial","status":200,"reasons":["a \"quoted\" reason","<b>"],"policy_revision":"rev","break_glass":true,"withheld":3}`,
	`{"time":"0001-01-01T00:00:00Z","request_id":"","sub":"","agency":"","roles":[],"purpose":"","action":"","case_id":"","section":"","decision":"","status":0,"reasons":[],"policy_revision":"","break_glass":false,"withheld":0}`,
}

func TestRecordsStoredBeforeTheNewFieldsKeepTheirBytes(t *testing.T) {
	for i, stored := range storedBefore {
		r, err := accesslog.Decode(uint64(i), []byte(stored))
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.Issuer != "" || r.Justification != "" || r.LegalBasis != "" || r.Reference != "" {
			t.Errorf("record %d: new fields read from the old layout: %+v", i, r)
		}
		if got := r.Encode(); string(got) != stored {
			t.Errorf("record %d is encoded again as\n%s\nit was stored as\n%s", i, got, stored)
		}
	}
}

func TestEncodeAppendsTheNewFieldsAfterWithheld(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const head = `{"time":"2026-03-01T09:00:00Z","request_id":"r1","sub":"s","agency":"a","roles":["dpo"],"purpose":"p","action":"case.erase",` +
		`"case_id":"c1","section":"","decision":"allow","status":202,"reasons":[],"policy_revision":"rev","break_glass":false,"withheld":0`
	for _, c := range []struct {
		issuer, justification, legalBasis, reference string
		tail                                         string
	}{
		{"", "", "", "", `}`},
		{"liaison-dev", "", "", "", `,"issuer":"liaison-dev"}`},
		{"", "why", "", "", `,"justification":"why"}`},
		{"", "", "gdpr-17-1-a", "", `,"legal_basis":"gdpr-17-1-a"}`},
		{"", "", "", "DPO-1", `,"reference":"DPO-1"}`},
		{"liaison-dev", "", "gdpr-17-1-a", "DPO-1", `,"issuer":"liaison-dev","legal_basis":"gdpr-17-1-a","reference":"DPO-1"}`},
		{"i", "j", "l", "r", `,"issuer":"i","justification":"j","legal_basis":"l","reference":"r"}`},
		{"", "say \"now\"\n", "", "", `,"justification":"say \"now\"\n"}`},
	} {
		r := accesslog.Record{Time: at, RequestID: "r1", Sub: "s", Agency: "a", Roles: []string{"dpo"}, Purpose: "p", Action: "case.erase",
			CaseID: "c1", Decision: accesslog.Allow, Status: 202, Reasons: []string{}, PolicyRevision: "rev",
			Issuer: c.issuer, Justification: c.justification, LegalBasis: c.legalBasis, Reference: c.reference}
		if got, want := string(r.Encode()), head+c.tail; got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}
}

func TestTheAPIShowsTheIssuerAlways(t *testing.T) {
	b, err := json.Marshal(accesslog.Record{})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if string(fields["issuer"]) != `""` {
		t.Errorf(`"issuer" is %s in %s, want ""`, fields["issuer"], b)
	}
	for _, name := range []string{"justification", "legal_basis", "reference"} {
		if v, ok := fields[name]; ok {
			t.Errorf("%q is %s in the JSON of a record without it", name, v)
		}
	}
	b, _ = json.Marshal(accesslog.Record{Justification: "j", LegalBasis: "l", Reference: "r"})
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"justification": `"j"`, "legal_basis": `"l"`, "reference": `"r"`} {
		if string(fields[name]) != want {
			t.Errorf("%q is %s, want %s", name, fields[name], want)
		}
	}
}

func TestEncodeAllocatesOnce(t *testing.T) {
	r := accesslog.Record{Time: time.Now(), RequestID: "0123456789abcdef01234567", Sub: "pc-anna", Agency: "prison-service",
		Roles: []string{"caseworker"}, Purpose: "case-management", Action: "case.break-glass", CaseID: "c0ffee00-0000-4000-8000-000000000042",
		Decision: accesslog.Allow, Status: 201, Reasons: []string{}, PolicyRevision: "rev", BreakGlass: true,
		Issuer: "https://idp.example/realms/liaison", Justification: "imminent risk to life, the supervisor agreed by telephone"}
	if n := testing.AllocsPerRun(100, func() { r.Encode() }); n != 1 {
		t.Errorf("Encode allocates %v times, want 1", n)
	}
}
