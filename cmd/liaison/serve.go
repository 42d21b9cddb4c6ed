package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/liaison-hub/liaison/api"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/esdb"
	"github.com/liaison-hub/liaison/eventlog/follow"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/eventlog/transparency"
	"github.com/liaison-hub/liaison/hub"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Config is the configuration of a hub (the flags of "liaison serve").
type Config struct {
	Addr      string
	AdminAddr string
	DataDir   string
	// KeysDir is the key directory (--keys): every secret the hub keeps, and
	// the register of erasures; "" is the data directory (masters.go).
	KeysDir       string
	Store         string // embedded | esdb
	ESDBURL       string
	Demo          bool
	DemoSeed      int64
	DemoCases     int
	Policies      string
	MasterKeyFile string
	// PKCS11Module, PKCS11Token, PKCS11PINFile and PKCS11Label name the
	// token holding the master key (masters.go).
	PKCS11Module  string
	PKCS11Token   string
	PKCS11PINFile string
	PKCS11Label   string
	// DiskReserveMB is the reserve the store keeps against a full disk
	// (eventlog/embedded/space.go), MiB; 0: none.
	DiskReserveMB int
	JWKSFile      string
	JWKSURL       string
	Issuer        string
	Audience      string
	// Trust is the trust file (--trust): the identity providers the hub
	// trusts, each bound to the organisations it may assert.
	Trust         string
	TLSCert       string
	TLSKey        string
	RateLimit     float64
	RateBurst     int
	CORSOrigins   string
	RetentionDays int
	// AccessRetention is how long access records keep their content
	// (--access-retention; 0: for ever): older ones are pruned, their leaf
	// hashes kept (eventlog/accesslog/retention.go).
	AccessRetention time.Duration
	// ESDBUsername is the cluster user (--esdb-username; its password in
	// LIAISON_ESDB_PASSWORD).
	ESDBUsername string
	// ClusterTimeout is how long the hub waits for its cluster, at start
	// and when it is away (--cluster-timeout; cluster.go).
	ClusterTimeout time.Duration
	// IdempotencyTTL is how long the answers to Idempotency-Key calls are
	// remembered (--idempotency-ttl; hub/idempotency.go).
	IdempotencyTTL time.Duration
	// WebhookBackoff is the wait after a webhook's first failed delivery,
	// doubled at each failure in a row (--webhook-backoff; hub/webhooks.go).
	WebhookBackoff time.Duration
	// Monitor configures the privacy monitor of the access log (monitor.go).
	Monitor MonitorConfig
	// Witnesses are the witnesses that cosign the access log's checkpoints,
	// each "URL=VKEY" (--witness, repeatable, and --witness-file;
	// docs/audit.md);
	// WitnessInterval is how often a checkpoint is offered to one that has
	// not cosigned it (--witness-interval).
	Witnesses       []string
	WitnessInterval time.Duration
	// CheckpointInterval is how often a checkpoint is signed when the tree
	// grew (--checkpoint-interval; also every 1,000 leaves).
	CheckpointInterval time.Duration
}

// Main is one running hub: Run opens and wires everything, Close shuts it down.
// Tests start hubs in-process through it.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Clock is the hub's clock (time.Now when nil).
	Clock func() time.Time

	store     *embedded.Store
	fileKeys  *keystore.FileStore // the case keys, on the embedded store
	masters   *masterSource       // where the master keys come from
	codec     *codec.Codec
	ops       *adminOps // the admin operations (admin.go)
	journal   eventlog.Journal
	esdbLog   *esdb.Log
	local     *embedded.Store // the KV beside --store esdb
	trees     *transparency.Trees
	Log       eventlog.Log
	Projector *projections.Projector
	Policy    *policies.Authorizer
	Hub       *hub.Service
	Server    *api.Server

	listener  net.Listener
	http      *http.Server
	admin     *http.Server
	adminAddr string
	cancel    context.CancelFunc
	stopKeys  context.CancelFunc // ends the refresh of the providers' keys
	wg        sync.WaitGroup
	runErr    chan error
}

// Run starts the hub and returns once it accepts connections; the projections
// may still be catching up (readyz says when they are). It returns an error,
// having released what it opened, if anything cannot start.
func (m *Main) Run(ctx context.Context) (err error) {
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.Clock == nil {
		m.Clock = time.Now
	}
	cfg := m.Config
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	var journal eventlog.Journal
	var kv eventlog.KV
	switch cfg.Store {
	case "", "embedded":
		st, err := embedded.Open(filepath.Join(cfg.DataDir, "log"), embedded.Options{
			Clock: m.Clock, Logger: m.Logger, DiskReserve: int64(cfg.DiskReserveMB) << 20, KVSpans: transparency.TableSpan,
		})
		if err != nil {
			return err
		}
		m.store, m.Log, journal, kv = st, st, st, st
	case "esdb":
		l, err := m.openESDB(ctx) // cluster.go
		if err != nil {
			return err
		}
		m.esdbLog, m.Log, journal = l, l, l
		if m.local, err = embedded.Open(filepath.Join(cfg.DataDir, "local"), embedded.Options{Clock: m.Clock, Logger: m.Logger, KVSpans: transparency.TableSpan}); err != nil {
			return err
		}
		kv = m.local
	default:
		return fmt.Errorf("--store must be embedded or esdb, not %q", cfg.Store)
	}

	// Case keys: files in the key directory on one machine; in the cluster on
	// EventStoreDB, so that every hub replica reads the same keys.
	var keys keystore.Store
	if m.esdbLog != nil {
		master, err := keystore.LoadMasterKey("LIAISON_MASTER_KEY", cfg.MasterKeyFile, filepath.Join(cfg.keysDir(), "master.key"))
		if err != nil {
			return err
		}
		w, err := keystore.NewWrapper(master)
		if err != nil {
			return err
		}
		keys = m.esdbLog.KeyStore(w)
	} else {
		if keys, err = m.openKeys(ctx); err != nil {
			return err
		}
	}
	cdc := codec.New(keys)
	m.codec = cdc

	bundle := policies.Default()
	if cfg.Policies != "" {
		if bundle, err = policies.Load(ctx, cfg.Policies); err != nil {
			return fmt.Errorf("policy bundle %s refused: %w", cfg.Policies, err)
		}
	}
	m.Policy, err = policies.New(ctx, bundle, policies.Options{})
	if err != nil {
		return fmt.Errorf("policy bundle refused: %w", err)
	}

	verifier, providers, err := m.verifier(ctx, bundle)
	if err != nil {
		return err
	}

	m.Projector = projections.New(m.Log, cdc, m.Logger)
	m.Projector.OnErased = func(ctx context.Context, caseID string) error { return m.destroyKey(ctx, keys, caseID) }
	m.journal = journal
	access := accesslog.New(journal)
	if m.fileKeys != nil {
		if _, err := m.reapplyErasures(ctx, m.fileKeys, access); err != nil {
			return err
		}
	}
	ckey, err := transparency.LoadOrCreateKey(cfg.keysDir())
	if err != nil {
		return err
	}
	m.trees, err = transparency.Open(ctx, transparency.Config{KV: kv, Journal: journal, Events: m.Log, Key: ckey,
		JournalConsumers: []follow.Consumer{new(accesslog.QueryIndex)}, Clock: m.Clock, Logger: m.Logger,
		Interval: cfg.CheckpointInterval})
	if err != nil {
		return err
	}
	if err := m.setWitnesses(ctx); err != nil {
		return err
	}
	devKey, err := m.consoleKey()
	if err != nil {
		return err
	}
	tokenKey, err := api.LoadOrCreateTokenKey(cfg.keysDir())
	if err != nil {
		return err
	}
	console, demoCfg := m.consoleConfig(devKey)
	metrics := api.NewMetrics()
	m.registerMetrics(metrics.Registry)
	monitor, err := m.openMonitor(ctx, access, kv, metrics.Registry) // monitor.go
	if err != nil {
		return err
	}
	if cfg.AccessRetention > 0 && m.esdbLog != nil {
		return errors.New("--access-retention needs the embedded store: on EventStoreDB the access log keeps every record")
	}
	audit := accesslog.NewService(access, kv, m.trees)
	m.Hub, err = hub.New(hub.Config{
		Log: m.Log, Projector: m.Projector, Codec: cdc, Keys: keys, Policy: m.Policy, Access: access,
		Audit: audit, KV: kv, Logger: m.Logger, Clock: m.Clock, TokenKey: tokenKey,
		StatusOf: api.StatusOf, OnAppend: metrics.Appended, IdempotencyTTL: cfg.IdempotencyTTL,
		WebhookBackoff: cfg.WebhookBackoff, Monitor: monitor,
	})
	if err != nil {
		return err
	}
	m.Server = api.New(api.Config{
		Hub: m.Hub, Verifier: verifier, Metrics: metrics, Logger: m.Logger, Clock: m.Clock,
		Console: console, Demo: demoCfg, Providers: providers,
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, CORSOrigins: splitList(cfg.CORSOrigins),
	})

	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.runErr = make(chan error, 4)
	if ks, ok := keys.(*esdb.KeyStore); ok {
		m.runCluster(runCtx, ks, cdc) // cluster.go
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.Projector.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) && (!errors.Is(err, eventlog.ErrClosed) || errors.Is(err, embedded.ErrFailed)) {
			m.Logger.Error("projections stopped", "err", err)
			m.runErr <- fmt.Errorf("projections: %w", err)
		}
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// Readiness first: building the trees of a large log would slow the
		// projections' rebuild. Close catches up if they never get ready.
		for !m.Projector.Ready() {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := m.trees.Run(runCtx); err != nil && (!errors.Is(err, eventlog.ErrClosed) || errors.Is(err, embedded.ErrFailed)) {
			m.Logger.Error("transparency stopped", "err", err)
			m.runErr <- fmt.Errorf("transparency: %w", err)
		}
	}()
	m.runMonitor(runCtx, access, monitor) // monitor.go
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.trees.RunWitnesses(runCtx) // in the background: never on a call's path
	}()

	if m.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
		return err
	}
	m.http = &http.Server{
		Handler: m.Server.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		m.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		m.listener = tls.NewListener(m.listener, m.http.TLSConfig)
	}
	m.serveHTTP(m.http, m.listener)
	if err := m.serveAdmin(); err != nil {
		return err
	}
	m.Logger.Info("liaison hub listening", "addr", m.Addr(), "admin", m.AdminAddr(), "data", cfg.DataDir, "store", storeName(cfg.Store), "policy", m.Policy.Revision())
	if !m.production() && !cfg.Demo {
		m.Logger.Warn("no production identity configured (--trust, --jwks-file, --jwks-url): the hub accepts development tokens signed by the key in its key directory; never run it so outside development")
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// Webhook deliveries, once the views are ready.
		for !m.Projector.Ready() {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		m.Hub.RunWebhooks(runCtx)
	}()
	if cfg.RetentionDays > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.retention(runCtx, time.Duration(cfg.RetentionDays)*24*time.Hour, time.Hour)
		}()
	}
	if cfg.AccessRetention > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := audit.Retain(runCtx, cfg.AccessRetention, m.Clock, m.Logger); err != nil && !errors.Is(err, context.Canceled) {
				m.Logger.Error("access log retention stopped", "err", err)
			}
		}()
	}
	if cfg.Demo {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := m.loadDemo(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				m.Logger.Error("demo data not loaded", "err", err)
			}
		}()
	}
	return nil
}

// DefaultAdminAddr is where /metrics (with /healthz and /readyz) is served
// unless --admin-addr says otherwise: loopback, away from the API's callers.
const DefaultAdminAddr = "127.0.0.1:9464"

// serveAdmin serves the admin side on --admin-addr ("off": not at all). The
// default address is best effort: when it is taken (another hub on this
// machine), the hub runs without it and says so; an address given explicitly
// must be served.
func (m *Main) serveAdmin() error {
	addr := m.Config.AdminAddr
	explicit := addr != ""
	if !explicit {
		addr = DefaultAdminAddr
	}
	if addr == "off" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if explicit {
			return fmt.Errorf("--admin-addr: %w", err)
		}
		m.Logger.Warn("the admin address is taken: no /metrics (set --admin-addr)", "addr", addr, "err", err)
		return nil
	}
	m.adminAddr = ln.Addr().String()
	h, err := m.adminHandler()
	if err != nil {
		ln.Close()
		return err
	}
	m.admin = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	m.serveHTTP(m.admin, ln)
	return m.writeAdminInfo()
}

// AdminAddr returns the address the admin side listens on, "" when none.
func (m *Main) AdminAddr() string { return m.adminAddr }

func (m *Main) serveHTTP(srv *http.Server, ln net.Listener) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.runErr <- err
		}
	}()
}

func storeName(s string) string {
	if s == "" {
		return "embedded"
	}
	return s
}

// production reports whether a production identity is configured (--trust,
// --jwks-file or --jwks-url): then the development key is never accepted.
func (m *Main) production() bool {
	c := m.Config
	return c.Trust != "" || c.JWKSFile != "" || c.JWKSURL != ""
}

// verifier builds the token verifier and the console's identity providers:
// the trust file's issuers (checked against the bundle's directory and roles,
// their discovery documents and keys fetched now), or one issuer from a JWKS
// (file or URL) with the configured issuer and audience, or else the data
// directory's development key. A provider's keys are kept fresh until Close.
func (m *Main) verifier(ctx context.Context, bundle *policies.Bundle) (*api.Verifier, []api.Provider, error) {
	cfg := m.Config
	keysCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopKeys = stop
	switch {
	case cfg.Trust != "":
		if cfg.JWKSFile != "" || cfg.JWKSURL != "" || cfg.Issuer != "" || cfg.Audience != "" {
			return nil, nil, errors.New("--trust lists every issuer: give it without --jwks-file, --jwks-url, --issuer and --audience")
		}
		dir, err := bundle.Directory()
		if err != nil {
			return nil, nil, fmt.Errorf("--trust: %w", err)
		}
		tf, err := api.LoadTrust(cfg.Trust, api.Catalogue{Directory: dir, Roles: bundle.Roles})
		if err != nil {
			return nil, nil, fmt.Errorf("--trust: %w", err)
		}
		trust, err := tf.Open(keysCtx, nil, m.Logger)
		if err != nil {
			return nil, nil, fmt.Errorf("--trust: %w", err)
		}
		for _, iss := range tf.Issuers {
			m.Logger.Info("trusting identity provider", "alias", iss.Alias, "issuer", iss.Issuer, "organisations", strings.Join(iss.Mapping.Organisations, ","), "console", iss.ConsoleClientID != "")
		}
		return api.NewTrustVerifier(trust.Issuers, m.Clock), trust.Providers, nil
	case cfg.JWKSFile != "" || cfg.JWKSURL != "":
		if cfg.Issuer == "" || cfg.Audience == "" {
			return nil, nil, errors.New("--jwks-file/--jwks-url need --issuer and --audience")
		}
		if cfg.JWKSFile != "" {
			keys, err := api.JWKSFile(cfg.JWKSFile)
			if err != nil {
				return nil, nil, fmt.Errorf("--jwks-file: %w", err)
			}
			return api.NewVerifier(keys, cfg.Issuer, cfg.Audience, m.Clock), nil, nil
		}
		keys, err := api.RemoteJWKS(keysCtx, cfg.JWKSURL, nil, m.Logger)
		if err != nil {
			return nil, nil, fmt.Errorf("--jwks-url: %w", err)
		}
		return api.NewVerifier(keys, cfg.Issuer, cfg.Audience, m.Clock), nil, nil
	default:
		key, err := api.LoadOrCreateDevKey(cfg.keysDir())
		if err != nil {
			return nil, nil, fmt.Errorf("development key: %w", err)
		}
		return api.NewVerifier(api.DevKeys(key), api.DevIssuer, api.DevAudience, m.Clock), nil, nil
	}
}

// Addr returns the address the API listens on.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Err returns a channel that yields an error if a part of the running hub fails.
func (m *Main) Err() <-chan error { return m.runErr }

// Close stops accepting calls, lets calls in flight finish (up to 10 s), stops
// the projections and closes the log.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	m.removeAdminInfo()
	for _, srv := range []*http.Server{m.http, m.admin} {
		if srv != nil {
			errs = append(errs, srv.Shutdown(ctx))
		}
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.stopKeys != nil {
		m.stopKeys()
	}
	m.wg.Wait()
	if m.trees != nil {
		errs = append(errs, m.trees.Close(ctx)) // the final checkpoints
		m.trees.Cosign(ctx)                     // offered to the witnesses once more
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	if m.esdbLog != nil {
		errs = append(errs, m.esdbLog.Close())
	}
	if m.local != nil {
		errs = append(errs, m.local.Close())
	}
	if m.masters != nil {
		errs = append(errs, m.masters.close())
	}
	return errors.Join(errs...)
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address of the API")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "", "address of the admin side: /metrics, /healthz, /readyz (default "+DefaultAdminAddr+" when free; \"off\": none). /healthz and /readyz are on the API address too; /metrics never is")
	fs.StringVar(&cfg.DataDir, "data", "./liaison-data", "data directory (created on first start)")
	fs.StringVar(&cfg.KeysDir, "keys", "", "key directory: the case keys, the register of erasures and the hub's other keys, backed up apart from the data (default: the data directory; see docs/operations.md)")
	fs.IntVar(&cfg.DiskReserveMB, "disk-reserve-mb", embedded.DefaultDiskReserve>>20, "disk space (MiB) the store keeps in reserve against a full disk, at most an eighth of its file system (0: none)")
	fs.StringVar(&cfg.Store, "store", "embedded", "log backend: embedded or esdb")
	fs.StringVar(&cfg.ESDBURL, "esdb-url", "", "EventStoreDB/KurrentDB connection string, e.g. esdb://localhost:2113?tls=false")
	fs.StringVar(&cfg.ESDBUsername, "esdb-username", "", "EventStoreDB/KurrentDB user (reading $all needs an admin); its password in "+ESDBPasswordEnv)
	fs.DurationVar(&cfg.ClusterTimeout, "cluster-timeout", DefaultClusterTimeout, "with --store esdb: how long to wait for the cluster at start, and how long it may be away before the hub exits so that it is restarted (0: forever)")
	fs.DurationVar(&cfg.IdempotencyTTL, "idempotency-ttl", hub.DefaultIdempotencyTTL, "how long the answer to a call with an Idempotency-Key is remembered")
	fs.DurationVar(&cfg.WebhookBackoff, "webhook-backoff", time.Second, "the wait after a webhook's first failed delivery, doubled at each failure in a row up to an hour (a subscription pauses after 10 in a row)")
	fs.BoolVar(&cfg.Demo, "demo", false, "load the synthetic multi-agency demo data set once")
	fs.Int64Var(&cfg.DemoSeed, "demo-seed", 1, "seed of the demo data set")
	fs.IntVar(&cfg.DemoCases, "demo-cases", 300, "number of demo cases")
	cfg.Monitor.register(fs) // monitor.go
	fs.StringVar(&cfg.Policies, "policies", "", "policy bundle (directory or .tar.gz) replacing the default protocol")
	mf := masterFlags{}
	mf.register(fs)
	fs.StringVar(&cfg.JWKSFile, "jwks-file", "", "JWKS file of the identity provider (disables the development key)")
	fs.StringVar(&cfg.JWKSURL, "jwks-url", "", "JWKS URL of the identity provider (disables the development key)")
	fs.StringVar(&cfg.Issuer, "issuer", "", "required token issuer with --jwks-file/--jwks-url")
	fs.StringVar(&cfg.Audience, "audience", "", "required token audience with --jwks-file/--jwks-url")
	fs.StringVar(&cfg.Trust, "trust", "", "trust file (YAML or JSON): the identity providers trusted, the organisations each may assert and how their claims map (disables the development key; see docs/operations.md)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 100, "requests per second allowed to one identity (0: no limit)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", 200, "burst of requests allowed to one identity above the rate")
	fs.StringVar(&cfg.CORSOrigins, "cors-origins", "", "comma-separated origins allowed to call the API from a browser (default: none)")
	fs.IntVar(&cfg.RetentionDays, "retention-days", 0, "erase cases closed more than this many days ago, checked hourly (0: never)")
	fs.Func("access-retention", "prune the content of access records older than this (730d, or a Go duration such as 17520h), checked hourly; their leaf hashes stay, so audit verify still passes (default: keep every record)", func(v string) (err error) {
		cfg.AccessRetention, err = parseRetention(v)
		return err
	})
	fs.Func("witness", "a witness that cosigns the access log's checkpoints, URL=VKEY (c2sp.org/tlog-witness; repeatable; see docs/audit.md)", func(v string) error {
		if _, err := transparency.ParseWitness(v); err != nil {
			return err
		}
		cfg.Witnesses = append(cfg.Witnesses, v)
		return nil
	})
	fs.Func("witness-file", "a file of witnesses, one URL=VKEY a line (blank lines and # comments skipped), added to those of --witness", func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if _, err := transparency.ParseWitness(line); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			cfg.Witnesses = append(cfg.Witnesses, line)
		}
		return nil
	})
	fs.DurationVar(&cfg.WitnessInterval, "witness-interval", transparency.DefaultWitnessInterval, "how often the latest checkpoint is offered to a witness that has not cosigned it")
	fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", transparency.DefaultInterval, "sign a checkpoint of each log this often when it grew (and every 1,000 leaves)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.setMasterFlags(mf)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	defer serveProcs(storeName(cfg.Store) == "embedded")() // procs.go
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Run(ctx); err != nil {
		return err
	}
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	go gcFloor(gcCtx) // gcfloor.go
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			logger.Info("shutting down")
			return m.Close()
		case err := <-m.Err():
			m.Close()
			return err
		case <-hup:
			m.reloadPolicy(ctx)
		}
	}
}

// reloadPolicy re-reads the policy bundle on SIGHUP; a refused bundle leaves
// the one in force unchanged.
func (m *Main) reloadPolicy(ctx context.Context) {
	bundle := policies.Default()
	if m.Config.Policies != "" {
		var err error
		if bundle, err = policies.Load(ctx, m.Config.Policies); err != nil {
			m.Logger.Error("policy reload refused; the policy in force stays", "err", err)
			return
		}
	}
	if err := m.Policy.Reload(ctx, bundle); err != nil {
		m.Logger.Error("policy reload refused; the policy in force stays", "err", err)
		return
	}
	m.Logger.Info("policy reloaded", "revision", m.Policy.Revision())
}

// retention applies the retention rule once the projections are ready, then
// every interval, until ctx ends.
func (m *Main) retention(ctx context.Context, after, interval time.Duration) {
	for {
		if m.Projector.Ready() {
			n, err := m.Hub.ApplyRetention(ctx, after)
			switch {
			case err != nil && ctx.Err() == nil:
				m.Logger.Error("retention stopped", "erased", n, "err", err)
			case n > 0:
				m.Logger.Info("retention erased cases", "erased", n)
			}
		}
		wait := interval
		if !m.Projector.Ready() {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// parseRetention reads --access-retention: a number of days ("730d") or a
// Go duration ("17520h"), positive.
func parseRetention(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, err
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive period", v)
	}
	return d, nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// setWitnesses gives the trees the witnesses of the configuration.
func (m *Main) setWitnesses(ctx context.Context) error {
	var ws []transparency.Witness
	for _, spec := range m.Config.Witnesses {
		w, err := transparency.ParseWitness(spec)
		if err != nil {
			return fmt.Errorf("--witness %s: %w", spec, err)
		}
		ws = append(ws, w)
		m.Logger.Info("witness configured", "witness", w.Verifier.Name(), "url", w.URL)
	}
	if len(ws) == 0 {
		return nil
	}
	return m.trees.SetWitnesses(ctx, transparency.WitnessConfig{Witnesses: ws, Interval: m.Config.WitnessInterval})
}
