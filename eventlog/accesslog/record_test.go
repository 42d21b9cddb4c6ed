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
		"an empty record":             {Time: time.Time{}.UTC(), Roles: []string{}, Reasons: []string{}},
		"strings that need escaping":  {Time: at, Sub: "eve\"\\\n<script>", Roles: []string{"a\tb"}, Reasons: []string{"token refused: \"x\""}},
		"strings beyond ASCII":        {Time: at, Sub: "jürgen", Agency: "société", Roles: []string{"ü"}, Reasons: []string{"—"}},
		"a refused anonymous request": {Time: at, Action: "case.read", Decision: accesslog.Deny, Status: 401, Roles: []string{}, Reasons: []string{"token: missing"}},
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
