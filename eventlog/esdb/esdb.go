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
// # Event IDs
//
// An eventlog event ID is the EventStoreDB event id, except the zero ID, which
// EventStoreDB refuses: it is stored under a marked random id and read back as
// zero. Journal records get random ids.
//
// Reading $all needs a user allowed to read it (an admin in a secure cluster).
package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
)

// Defaults for Options.
const (
	// DefaultStreamPrefix is the default Options.StreamPrefix.
	DefaultStreamPrefix = "liaison-case-"
	// DefaultAuditStream is the default Options.AuditStream.
	DefaultAuditStream = "liaison-audit"
)

// Options configure Open.
type Options struct {
	// URL is an EventStoreDB connection string, for example
	// "esdb://localhost:2113?tls=false" for an insecure single node, or
	// "esdb://admin:changeit@host1:2113,host2:2113?tls=true" for a cluster.
	URL string
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
	client *esdb.Client
	prefix string
	audit  string
	log    *slog.Logger

	// life is done when Close starts: reads and subscriptions in flight run
	// under contexts that end with it (see opContext).
	life context.Context
	kill context.CancelFunc

	// mu is held shared around every call into the client, and exclusively by
	// Close while it sets closed and closes the client: the client panics when
	// an operation races with its Close (it sends on a closed channel).
	mu        sync.RWMutex
	closed    bool
	closeOnce sync.Once

	// batch queues the journal appends of concurrent callers (AppendRecords).
	batch recordQueue
}

var (
	_ eventlog.Log     = (*Log)(nil)
	_ eventlog.Journal = (*Log)(nil)
)

// Open connects to EventStoreDB at opts.URL and checks that $all can be read.
//
// It returns an error, and no Log, when the options are invalid (empty URL, a
// prefix or audit stream starting with "$", an audit stream under the case
// prefix), when the URL does not parse, when the server cannot be reached or
// refuses the credentials, or ctx.Err() when ctx ends first. ctx only bounds Open:
// the Log lives until Close. The client's node discovery does not watch ctx; if
// ctx ends during it, Open returns at once and the client is closed in the
// background once discovery gives up.
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
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: new client: %w", err)
	}
	life, kill := context.WithCancel(context.WithoutCancel(ctx))
	l := &Log{
		client: client,
		prefix: opts.StreamPrefix,
		audit:  opts.AuditStream,
		log:    opts.Logger,
		life:   life,
		kill:   kill,
	}

	probed := make(chan error, 1)
	go func() { probed <- l.probe(ctx) }()
	select {
	case err := <-probed:
		if err != nil {
			_ = l.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("esdb: connect: %w", err)
		}
		return l, nil
	case <-ctx.Done():
		go func() {
			<-probed // closing the client while the probe runs can panic it
			_ = l.Close()
		}()
		return nil, ctx.Err()
	}
}

// probe reads one event of $all backwards, which connects the client (node
// discovery happens on the first call) and checks the credentials.
func (l *Log) probe(ctx context.Context) error {
	var rs *esdb.ReadStream
	err := l.guard(func() (err error) {
		rs, err = l.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
		return err
	})
	if err != nil {
		return err
	}
	defer rs.Close()
	err = l.guard(func() error {
		_, err := rs.Recv()
		return err
	})
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Close stops reads and subscriptions in flight (Subscribe returns
// eventlog.ErrClosed, iterators yield it), waits for appends in flight to
// complete or fail, and closes the client. Later calls return eventlog.ErrClosed.
// Close always returns nil, and may be called more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.kill()
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		_ = l.client.Close()
	})
	return nil
}

// guard runs fn, one call into the client, unless the log is closed
// (eventlog.ErrClosed), and keeps Close from closing the client meanwhile.
func (l *Log) guard(fn func() error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return eventlog.ErrClosed
	}
	return fn()
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
// contract. ctx is the caller's context (not the one from opContext):
//   - the caller's ctx ended: ctx.Err(), unwrapped;
//   - wrong expected version (found with errors.As and the *esdb.Error's code,
//     never from the message): an error wrapping eventlog.ErrConflict and the
//     *esdb.Error;
//   - the Log was closed meanwhile: eventlog.ErrClosed;
//   - the client's connection is closed (ErrorCodeConnectionClosed, also what the
//     client reports for good once node discovery has failed): an error
//     wrapping eventlog.ErrClosed;
//   - anything else: wrapped with the operation.
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
	case isESDB && e.Code() == esdb.ErrorCodeConnectionClosed:
		return fmt.Errorf("esdb: %s: %w: %w", op, eventlog.ErrClosed, err)
	}
	return fmt.Errorf("esdb: %s: %w", op, err)
}

// isNotFound reports whether a read failed because the stream does not exist.
func isNotFound(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeResourceNotFound
}

// readStream reads the EventStoreDB stream name with opts, at most count events,
// calling fn for each until fn returns false. A stream that does not exist reads
// as empty.
func (l *Log) readStream(ctx context.Context, name string, opts esdb.ReadStreamOptions, count uint64, fn func(*esdb.RecordedEvent) (bool, error)) error {
	op, release := l.opContext(ctx)
	defer release()
	var rs *esdb.ReadStream
	err := l.guard(func() (err error) {
		rs, err = l.client.ReadStream(op, name, opts, count)
		return err
	})
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return l.translate(ctx, "read "+name, err)
	}
	defer rs.Close()
	return l.drain(ctx, "read "+name, rs, fn)
}

// readAll reads $all with opts, at most count events, like readStream.
func (l *Log) readAll(ctx context.Context, opts esdb.ReadAllOptions, count uint64, fn func(*esdb.RecordedEvent) (bool, error)) error {
	op, release := l.opContext(ctx)
	defer release()
	var rs *esdb.ReadStream
	err := l.guard(func() (err error) {
		rs, err = l.client.ReadAll(op, opts, count)
		return err
	})
	if err != nil {
		return l.translate(ctx, "read $all", err)
	}
	defer rs.Close()
	return l.drain(ctx, "read $all", rs, fn)
}

// drain receives the events of rs until its end, fn returns false or an error,
// or the read fails. A stream not found ends the read without error.
func (l *Log) drain(ctx context.Context, what string, rs *esdb.ReadStream, fn func(*esdb.RecordedEvent) (bool, error)) error {
	for {
		var ev *esdb.ResolvedEvent
		err := l.guard(func() (err error) {
			ev, err = rs.Recv()
			return err
		})
		switch {
		case errors.Is(err, io.EOF), isNotFound(err):
			return nil
		case err != nil:
			return l.translate(ctx, what, err)
		}
		rec := ev.OriginalEvent()
		if rec == nil {
			continue
		}
		more, err := fn(rec)
		if err != nil || !more {
			return err
		}
	}
}

// clientLogger adapts the client's printf-style logging to slog. The client logs
// routine events (a subscription closed by its context, a discovery attempt) at
// error and info level, so error and warn become Warn, info and debug Debug.
func clientLogger(log *slog.Logger) esdb.LoggingFunc {
	log = log.With("component", "esdb-client")
	return func(level esdb.LogLevel, format string, args ...interface{}) {
		msg := fmt.Sprintf(format, args...)
		switch level {
		case esdb.LogError, esdb.LogWarn:
			log.Warn(msg)
		default:
			log.Debug(msg)
		}
	}
}
