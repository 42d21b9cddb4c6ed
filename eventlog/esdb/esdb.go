// Package esdb stores the hub's event log and access journal in EventStoreDB /
// KurrentDB, through the official gRPC client
// (github.com/EventStore/EventStore-Client-Go/v4/esdb).
//
// # Layout
//
// Each case is one stream named StreamPrefix + case id ("liaison-case-<id>" by
// default). The global order of the log is the server's $all stream, filtered on
// the server to the streams under StreamPrefix, so system streams ("$…") and the
// audit stream never show up in ReadAll, Subscribe or Head. The journal is a
// single stream (AuditStream, "liaison-audit" by default); a record's index is
// its stream revision.
//
// The log is not an eventlog.RecordingLog: EventStoreDB cannot append to two
// streams (a case's and the audit stream) atomically, so a write's access
// record is appended to the journal on its own.
//
// # Numbering
//
// EventStoreDB numbers the events of a stream from 0 (revisions); eventlog
// numbers them from 1 (versions). Version = revision + 1, and Append's expected
// version v >= 1 is sent as expected revision v-1. Journal indexes are 0-based,
// like revisions, and equal them. Positions are the $all commit/prepare
// positions, as the server reports them.
//
// # Limits of the Go client (v4.2.0)
//
// The client can filter $all on the server only for subscriptions, not for reads,
// so ReadAll is a filtered catch-up subscription that stops at the head, and Head
// reads $all backwards without a filter and skips non-case events on the client
// (starting with one event, then in growing pages). Deployments whose $all is
// dominated by other streams pay for that in Head and ReadAll calls.
//
// The client has defects this backend works around (conn.go):
//   - it sets the requires-leader header on an incoming, not an outgoing, gRPC
//     context, so the header never reaches the server, and a call may be served
//     by a follower that lags the leader. Every call here carries the header
//     itself, and a follower answers not-leader (the client reconnects to the
//     leader and the call is retried) or unavailable;
//   - when node discovery fails (maxDiscoverAttempts, 10 tries 100 ms apart by
//     default: shorter than a leader election), it closes itself for good, and
//     callers queued on it at that moment block forever on an internal channel
//     nobody reads; closing it then makes them panic. Calls therefore run on a
//     goroutine of their own and are abandoned when their context or the Log
//     ends, panics are recovered, and a client that gave up is replaced by a
//     new one (closing the old one releases its stuck callers).
//
// # Bad days
//
// A call that fails for a reason that may pass (no leader, a node away, a
// server timeout, a client that gave up) is retried, for Options.RetryFor,
// with the same event ids: EventStoreDB deduplicates an append whose ids it
// holds at the expected revision, so a retry after a timeout that committed
// appends nothing twice. Subscriptions resubscribe until the Log is closed.
// LostSince says since when the cluster has not answered (a probe every
// Options.ProbeInterval, and every call's outcome); Health turns the hub's
// readiness 503 meanwhile, and `liaison serve --cluster-timeout` exits when
// it lasts (docs/operations.md, "When the cluster is away").
//
// # Event IDs
//
// An eventlog event ID is the EventStoreDB event id, except the zero ID, which
// EventStoreDB refuses: it is stored under a marked random id and read back as
// zero. Journal records get random ids, kept across the retries of a batch.
//
// Reading $all needs a user allowed to read it (an admin in a secure cluster):
// give it in the URL or as Options.Username and Options.Password (sent over
// TLS only, as the client does).
package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

// Defaults for Options.
const (
	// DefaultStreamPrefix is the default Options.StreamPrefix.
	DefaultStreamPrefix = "liaison-case-"
	// DefaultAuditStream is the default Options.AuditStream.
	DefaultAuditStream = "liaison-audit"
	// DefaultAttemptTimeout is the default Options.AttemptTimeout (the
	// client's own default deadline).
	DefaultAttemptTimeout = 10 * time.Second
	// DefaultRetryFor is the default Options.RetryFor.
	DefaultRetryFor = time.Minute
	// DefaultProbeInterval is the default Options.ProbeInterval.
	DefaultProbeInterval = 2 * time.Second
)

// Options configure Open.
type Options struct {
	// URL is an EventStoreDB connection string, for example
	// "esdb://localhost:2113?tls=false" for an insecure single node, or
	// "esdb://admin:changeit@host1:2113,host2:2113?tls=true" for a cluster.
	URL string
	// Username and Password, when Username is set, are the credentials of the
	// hub's user, in place of those of the URL (keep them out of the URL:
	// docs/operations.md). The client sends them over TLS only.
	Username string
	Password string
	// StreamPrefix is prepended to a case id to name its stream, and is the
	// server-side $all filter. It must not start with "$". Default
	// DefaultStreamPrefix.
	StreamPrefix string
	// AuditStream is the stream of the access journal. It must not start with
	// "$" nor with StreamPrefix. Default DefaultAuditStream.
	AuditStream string
	// Logger receives the backend's and the client's log lines (the client's at
	// Debug and Warn level). Default slog.Default().
	Logger *slog.Logger
	// AttemptTimeout bounds one attempt of a call (an append, the start of a
	// read, a probe). Default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// RetryFor bounds how long a call keeps retrying failures that may pass
	// (no leader, a node away, a server timeout) before it fails. Default
	// DefaultRetryFor. Subscriptions retry until the Log is closed.
	RetryFor time.Duration
	// ProbeInterval is how often the Log checks that the cluster answers
	// (LostSince). Default DefaultProbeInterval.
	ProbeInterval time.Duration
}

// withDefaults fills in the zero fields of o.
func (o Options) withDefaults() Options {
	if o.StreamPrefix == "" {
		o.StreamPrefix = DefaultStreamPrefix
	}
	if o.AuditStream == "" {
		o.AuditStream = DefaultAuditStream
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	return o
}

// validate checks options that already have their defaults.
func (o Options) validate() error {
	switch {
	case o.URL == "":
		return errors.New("esdb: options: URL is empty")
	case strings.HasPrefix(o.StreamPrefix, "$"):
		return fmt.Errorf("esdb: options: stream prefix %q is a system stream name", o.StreamPrefix)
	case strings.HasPrefix(o.AuditStream, "$"):
		return fmt.Errorf("esdb: options: audit stream %q is a system stream name", o.AuditStream)
	case strings.HasPrefix(o.AuditStream, o.StreamPrefix):
		return fmt.Errorf("esdb: options: audit stream %q is under the case stream prefix %q", o.AuditStream, o.StreamPrefix)
	}
	return nil
}

// Log is an eventlog.Log and an eventlog.Journal stored in EventStoreDB. It is safe
// for concurrent use. Open creates it; Close releases it.
type Log struct {
	conf     esdb.Configuration // a copy for every client (newConn)
	prefix   string
	audit    string
	log      *slog.Logger
	attempt  time.Duration
	retryFor time.Duration
	every    time.Duration

	// life is done when Close starts: calls in flight return
	// eventlog.ErrClosed, reads and subscriptions end.
	life context.Context
	kill context.CancelFunc

	mu     sync.Mutex
	cur    *conn // the client calls go to (conn.go)
	closed bool
	// monitored is closed when the probe loop has ended (nil before Open
	// starts it).
	monitored chan struct{}

	// lost is when the cluster stopped answering (monotonic, see monoTime),
	// 0 while it answers.
	lost atomic.Int64

	// batch queues the journal appends of concurrent callers (AppendRecords).
	batch recordQueue
}

var (
	_ eventlog.Log     = (*Log)(nil)
	_ eventlog.Journal = (*Log)(nil)
)

// Open connects to EventStoreDB at opts.URL and waits until the cluster
// answers with a leader and $all can be read: a hub started before its
// cluster has elected a leader waits for it (docs/operations.md).
//
// It returns an error, and no Log, when the options are invalid (empty URL, a
// prefix or audit stream starting with "$", an audit stream under the case
// prefix), when the URL does not parse, when the cluster refuses the
// credentials or the access to $all, or, wrapping ctx.Err() and naming the
// last failure, when ctx ends before the cluster answers. ctx only bounds
// Open: the Log lives until Close.
func Open(ctx context.Context, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	conf, err := esdb.ParseConnectionString(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("esdb: parse connection string: %w", err)
	}
	conf.Logger = clientLogger(opts.Logger)
	// The client gives up on the cluster for good after maxDiscoverAttempts
	// failed discoveries, 10 tries 100 ms apart by default: shorter than a
	// leader election. A client that gave up is replaced (conn.go), but
	// callers queued in it stay stuck there: unless the connection string
	// says otherwise, discover for 30 s (60 tries 500 ms apart) before.
	if !urlSets(opts.URL, "maxDiscoverAttempts") {
		conf.MaxDiscoverAttempts = defaultDiscoverAttempts
	}
	if !urlSets(opts.URL, "discoveryInterval") {
		conf.DiscoveryInterval = defaultDiscoveryInterval
	}
	if opts.Username != "" {
		conf.Username, conf.Password = opts.Username, opts.Password
	}
	if conf.Username != "" && conf.DisableTLS {
		opts.Logger.Warn("esdb: the connection string disables TLS: the client will not send the credentials")
	}
	life, kill := context.WithCancel(context.Background())
	l := &Log{
		conf:     *conf,
		prefix:   opts.StreamPrefix,
		audit:    opts.AuditStream,
		log:      opts.Logger,
		attempt:  opts.AttemptTimeout,
		retryFor: opts.RetryFor,
		every:    opts.ProbeInterval,
		life:     life,
		kill:     kill,
	}
	if l.cur, err = l.newConn(); err != nil {
		kill()
		return nil, err
	}
	delay := minBackoff
	for waited := false; ; {
		err := l.probe(ctx)
		if err == nil {
			if waited {
				l.log.Info("esdb: the cluster answers")
			}
			break
		}
		if ctx.Err() != nil {
			_ = l.Close()
			return nil, fmt.Errorf("esdb: connect: no cluster with a leader answered: %w (last: %v)", ctx.Err(), err)
		}
		if !transient(err) {
			_ = l.Close()
			return nil, fmt.Errorf("esdb: connect: %w", err)
		}
		if !waited {
			l.log.Warn("esdb: waiting for the cluster to answer with a leader", "err", err)
			waited = true
		}
		if !sleep(ctx, l.life, delay) {
			continue // ctx ended: reported above
		}
		delay = min(2*delay, maxBackoff)
	}
	l.monitored = make(chan struct{})
	go l.monitor()
	return l, nil
}

// Node discovery unless the connection string sets it (see Open).
const (
	defaultDiscoverAttempts  = 60
	defaultDiscoveryInterval = 500 // milliseconds
)

// urlSets reports whether the connection string sets the query parameter
// key (the client reads its keys without regard to case).
func urlSets(url, key string) bool {
	_, query, ok := strings.Cut(url, "?")
	if !ok {
		return false
	}
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// probe reads one event of $all backwards, once: the cluster answers, with a
// leader, and $all can be read with the credentials.
func (l *Log) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.attempt)
	defer cancel()
	_, err := l.readAllPage(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1,
		func(*esdb.RecordedEvent) (bool, error) { return false, nil })
	return err
}

// monitor probes the cluster every l.every until Close.
func (l *Log) monitor() {
	defer close(l.monitored)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.life.Done():
			return
		case <-t.C:
		}
		_ = l.probe(l.life)
	}
}

// LostSince returns since when the cluster has not answered (a probe or a
// call failed for a reason other than the caller's), the zero time while it
// answers. `liaison serve` exits when it has been lost for longer than
// --cluster-timeout.
func (l *Log) LostSince() time.Time {
	if n := l.lost.Load(); n != 0 {
		return monoEpoch.Add(time.Duration(n))
	}
	return time.Time{}
}

// Health returns nil while the cluster answers, and an error saying since
// when it has not otherwise: the hub's readiness is 503 meanwhile (the hub
// asks its log's Health, docs/operations.md, "When the cluster is away").
func (l *Log) Health() error {
	if since := l.LostSince(); !since.IsZero() {
		return fmt.Errorf("esdb: the cluster has not answered since %s", since.UTC().Format(time.RFC3339))
	}
	return nil
}

// monoEpoch is the origin of monoTime.
var monoEpoch = time.Now()

// monoTime returns t as nanoseconds since monoEpoch on the monotonic clock
// (at least 1, so that 0 can mean "never"): a wall clock set back does not
// make the calls that follow look older than a loss.
func monoTime(t time.Time) int64 { return max(1, int64(t.Sub(monoEpoch))) }

// observe notes the outcome of a call to the cluster that started at start
// (for LostSince). An answer clears a loss only if its call started after the
// loss was noted: a call still in flight when the cluster went away may end
// well just after, which says nothing of the cluster now (readiness must not
// flap back to ready on it).
func (l *Log) observe(start time.Time, err error) {
	if answered(err) {
		for {
			since := l.lost.Load()
			if since == 0 || monoTime(start) <= since {
				return
			}
			if l.lost.CompareAndSwap(since, 0) {
				l.log.Info("esdb: the cluster answers again")
				return
			}
		}
	}
	if l.lost.CompareAndSwap(0, monoTime(time.Now())) {
		l.log.Warn("esdb: the cluster does not answer", "err", err)
	}
}

// Close stops the calls in flight (they return eventlog.ErrClosed; an
// append's outcome is then unknown, as when its context ends), reads and
// subscriptions (Subscribe returns eventlog.ErrClosed, iterators yield it),
// and closes the client. Later calls return eventlog.ErrClosed. Close never
// waits for the cluster, always returns nil, and may be called more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	c, monitored := l.cur, l.monitored
	l.mu.Unlock()
	l.kill()
	if c != nil {
		c.retire() // closed once the calls inside it, ended by l.life, are out
	}
	if monitored != nil {
		<-monitored
	}
	return nil
}

// opContext returns a context for reads and subscriptions: it ends with ctx, or
// when Close starts. release must be called when the operation is over.
func (l *Log) opContext(ctx context.Context) (op context.Context, release func()) {
	op, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.life, cancel)
	return op, func() {
		stop()
		cancel()
	}
}

// translate maps an error of the client, for the operation op, to the eventlog
// contract. ctx is the caller's context:
//   - the caller's ctx ended: ctx.Err(), unwrapped;
//   - wrong expected version (found with errors.As and the *esdb.Error's code,
//     never from the message): an error wrapping eventlog.ErrConflict and the
//     *esdb.Error;
//   - the Log was closed meanwhile: eventlog.ErrClosed;
//   - anything else, a client that gave up on the cluster included (it is
//     replaced, see conn.go): wrapped with the operation.
func (l *Log) translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var e *esdb.Error
	isESDB := errors.As(err, &e)
	switch {
	case isESDB && e.Code() == esdb.ErrorCodeWrongExpectedVersion:
		return fmt.Errorf("esdb: %s: %w: %w", op, eventlog.ErrConflict, err)
	case errors.Is(err, eventlog.ErrClosed) || l.life.Err() != nil:
		return eventlog.ErrClosed
	}
	return fmt.Errorf("esdb: %s: %w", op, err)
}

// isNotFound reports whether a read failed because the stream does not exist.
func isNotFound(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeResourceNotFound
}

// retry runs attempt until it succeeds, fails for a reason that will not pass
// (transient), has made progress (a read that failed half-way is not
// repeated: its caller has seen part of it), ctx ends or the Log closes, or
// l.retryFor has passed; it returns the last error, translated for op.
func (l *Log) retry(ctx context.Context, op string, attempt func(ctx context.Context) (progressed bool, err error)) error {
	deadline := time.Now().Add(l.retryFor)
	delay := retryMin
	for {
		progressed, err := attempt(ctx)
		if err == nil {
			return nil
		}
		var f final
		if errors.As(err, &f) {
			return f.err // the caller's own error, as is
		}
		terr := l.translate(ctx, op, err)
		if progressed || !transient(err) || errors.Is(terr, eventlog.ErrClosed) || ctx.Err() != nil || time.Now().Add(delay).After(deadline) {
			return terr
		}
		l.log.DebugContext(ctx, "esdb: retrying", "op", op, "retry_in", delay, "err", err)
		if !sleep(ctx, l.life, delay) {
			return l.translate(ctx, op, err)
		}
		delay = min(2*delay, retryMax)
	}
}

// Retries of calls: from retryMin, doubling up to retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
)

// sleep waits for d; it returns false when ctx or life ends first.
func sleep(ctx, life context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-life.Done():
		return false
	case <-t.C:
		return true
	}
}

// readStream reads the EventStoreDB stream name with opts, at most count events,
// calling fn for each until fn returns false. A stream that does not exist reads
// as empty. A failure is retried (retry): a forwards read resumes after the
// last event fn was given (a leader that fails over can drop a read between
// two events), a backwards one only before its first event.
func (l *Log) readStream(ctx context.Context, name string, opts esdb.ReadStreamOptions, count uint64, fn func(*esdb.RecordedEvent) (bool, error)) error {
	resumable := opts.Direction == esdb.Forwards
	var given, last uint64 // events given to fn, the revision of the last
	return l.retry(ctx, "read "+name, func(ctx context.Context) (bool, error) {
		o, n := opts, count
		if given > 0 {
			o.From = esdb.Revision(last + 1)
			if count != unbounded {
				if n = count - given; n == 0 {
					return false, nil
				}
			}
		}
		progressed, err := l.use(ctx, func(c *conn, op context.Context) (bool, error) {
			rs, err := call(l, c, op, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
				return c.ReadStream(ctx, name, o, n)
			}, (*esdb.ReadStream).Close)
			if err != nil {
				if isNotFound(err) {
					return false, nil
				}
				return false, err
			}
			defer rs.Close()
			return l.drain(op, c, rs, func(ev *esdb.RecordedEvent) (bool, error) {
				given, last = given+1, ev.EventNumber
				return fn(ev)
			})
		})
		return progressed && !resumable, err
	})
}

// readAll reads $all with opts, at most count events, like readStream.
func (l *Log) readAll(ctx context.Context, opts esdb.ReadAllOptions, count uint64, fn func(*esdb.RecordedEvent) (bool, error)) error {
	return l.retry(ctx, "read $all", func(ctx context.Context) (bool, error) {
		return l.readAllPage(ctx, opts, count, fn)
	})
}

// readAllPage is one attempt of readAll.
func (l *Log) readAllPage(ctx context.Context, opts esdb.ReadAllOptions, count uint64, fn func(*esdb.RecordedEvent) (bool, error)) (bool, error) {
	return l.use(ctx, func(c *conn, op context.Context) (bool, error) {
		rs, err := call(l, c, op, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
			return c.ReadAll(ctx, opts, count)
		}, (*esdb.ReadStream).Close)
		if err != nil {
			return false, err
		}
		defer rs.Close()
		return l.drain(op, c, rs, fn)
	})
}

// drain receives the events of rs until its end, fn returns false or an error,
// or the read fails; progressed tells whether fn saw an event. A stream not
// found ends the read without error.
func (l *Log) drain(ctx context.Context, c *conn, rs *esdb.ReadStream, fn func(*esdb.RecordedEvent) (bool, error)) (progressed bool, err error) {
	for {
		ev, err := call(l, c, ctx, func(context.Context, *esdb.Client) (*esdb.ResolvedEvent, error) {
			return rs.Recv()
		}, nil)
		switch {
		case errors.Is(err, io.EOF), isNotFound(err):
			return progressed, nil
		case err != nil:
			return progressed, err
		}
		rec := ev.OriginalEvent()
		if rec == nil {
			continue
		}
		progressed = true
		more, err := fn(rec)
		if err != nil {
			return progressed, final{err}
		}
		if !more {
			return progressed, nil
		}
	}
}

// clientLogger adapts the client's printf-style logging to slog. The client logs
// routine events (a subscription closed by its context, a discovery attempt) at
// error and info level, and every failed gossip read of a discovery at warn
// level (hundreds of lines while the cluster is away, which the Log reports
// once), so error becomes Warn, and warn, info and debug Debug.
func clientLogger(log *slog.Logger) esdb.LoggingFunc {
	log = log.With("component", "esdb-client")
	return func(level esdb.LogLevel, format string, args ...interface{}) {
		msg := fmt.Sprintf(format, args...)
		switch level {
		case esdb.LogError:
			log.Warn(msg)
		default:
			log.Debug(msg)
		}
	}
}
