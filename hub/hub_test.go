package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// fixture is a hub on an embedded store in a temporary directory, its views
// following the log.
type fixture struct {
	svc    *hub.Service
	access *accesslog.Log
}

// option changes the configuration of a fixture's hub.
type option func(*hub.Config)

// withKV gives the hub the store's key-value space (webhooks).
func withKV() option { return func(c *hub.Config) { c.KV = c.Log.(*embedded.Store) } }

// withWebhookBackoff shortens the waits between failed deliveries.
func withWebhookBackoff(d time.Duration) option { return func(c *hub.Config) { c.WebhookBackoff = d } }

func errorsAs(err error, target **domain.Error) bool { return errors.As(err, target) }

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	st, err := embedded.Open(filepath.Join(dir, "log"), embedded.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "casekeys"), make([]byte, keystore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	policy, err := policies.New(context.Background(), policies.Default(), policies.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cdc := codec.New(keys)
	proj := projections.New(st, cdc, logger)
	proj.OnErased = func(ctx context.Context, caseID string) error { return keys.Destroy(ctx, caseID) }
	access := accesslog.New(st)
	cfg := hub.Config{Log: st, Projector: proj, Codec: cdc, Keys: keys, Policy: policy, Access: access, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); proj.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	for !proj.Ready() {
		time.Sleep(time.Millisecond)
	}
	return &fixture{svc: svc, access: access}
}

var (
	caseworker = domain.Identity{Issuer: "test", Subject: "pc-anna", Agency: "prison-service", Roles: []string{"caseworker"}}
	analyst    = domain.Identity{Issuer: "test", Subject: "ia-fay", Agency: "intelligence-service", Roles: []string{"analyst"}}
)

// call runs one use case as id and closes its record as the API would.
func (f *fixture) call(t *testing.T, id domain.Identity, purpose, action string, use func(context.Context, *hub.Call) error) error {
	t.Helper()
	c := hub.NewCall(id, purpose, time.Now(), "test", action)
	err := use(context.Background(), c)
	if rerr := f.svc.Close(context.Background(), c, 200, err); rerr != nil {
		t.Fatal(rerr)
	}
	return err
}

// TestUseCasesWithoutHTTP: the use cases are whole without the API — a case
// opened and written to, read in each reader's own view, each call leaving
// its access record (the write's committed with it).
func TestUseCasesWithoutHTTP(t *testing.T) {
	f := newFixture(t)
	var opened hub.Appended
	if err := f.call(t, caseworker, "", "case.open", func(ctx context.Context, c *hub.Call) (err error) {
		opened, err = f.svc.OpenCase(ctx, c, []byte(`{"subject_ref":"P-2026-0100","target_group":"returnee"}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if opened.Version != 1 || opened.Position == "" {
		t.Errorf("opened %+v: want version 1 and a position", opened)
	}
	// A needs assessment: in the prison's view, not in the analyst's.
	if err := f.call(t, caseworker, "", "event.append", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.Append(ctx, c, opened.CaseID, []byte(`{"type":"NeedsAssessmentRecorded","data":{"needs":[{"area":"housing","level":"high"}]}}`))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		who     domain.Identity
		purpose string
		version uint64
		stage   domain.Stage
	}{
		{caseworker, "case-management", 2, domain.StageAssessment},
		{analyst, "risk-management", 1, domain.StageIntake},
	} {
		var got hub.CaseSummary
		if err := f.call(t, r.who, r.purpose, "case.read", func(ctx context.Context, c *hub.Call) error {
			a, err := f.svc.Case(ctx, c, opened.CaseID)
			if err == nil {
				err = json.Unmarshal(a.JSON, &got)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got.Version != r.version || got.Stage != r.stage {
			t.Errorf("%s reads version %d at %s, want %d at %s (its own view)", r.who.Subject, got.Version, got.Stage, r.version, r.stage)
		}
	}
	// A refusal is a domain error of the right kind.
	err := f.call(t, analyst, "risk-management", "section.read", func(ctx context.Context, c *hub.Call) error {
		_, err := f.svc.Section(ctx, c, opened.CaseID, "needs")
		return err
	})
	if domain.KindOf(err) != domain.KindForbidden {
		t.Errorf("the analyst reading needs: %v, want forbidden", err)
	}
	if n, err := f.access.Len(context.Background()); err != nil || n != 5 {
		t.Errorf("%d access records, %v; want 5, one per call", n, err)
	}
}
