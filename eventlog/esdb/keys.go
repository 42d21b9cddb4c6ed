package esdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// DefaultKeyPrefix prefixes the streams that hold wrapped case keys.
const DefaultKeyPrefix = "liaison-key-"

// keyEventType is the type of the one event of a key stream.
const keyEventType = "CaseKeyWrapped"

// The key cache: at most KeyCacheSize keys, the least recently used going
// first, each for at most KeyCacheTTL (then read again from the cluster).
const (
	KeyCacheSize = 4096
	KeyCacheTTL  = 5 * time.Minute
)

// KeyStore keeps the case data keys in EventStoreDB, so that every hub replica
// of a cluster reads the same keys: one stream per case (DefaultKeyPrefix + case
// id) whose first event holds the key wrapped by the master key (every replica
// has the same master key, e.g. from a Kubernetes Secret). Destroy tombstones
// the stream: it can never be read or written again, and the scavenge of each
// node removes its bytes from that node's database files; until then the
// wrapped key stays on the cluster's disks, useless without the master key
// (docs/operations.md, "Erasure").
//
// Keys are cached, bounded in number and in time (KeyCacheSize, KeyCacheTTL).
// A key destroyed while it is being read never enters the cache (a key read
// before a destruction this store saw is not kept); one destroyed by another
// replica leaves the cache when Watch sees its tombstone, or at the latest
// when it expires. Reads go to the leader, so a key is never read from a
// follower that has not yet seen its tombstone.
//
// It implements keystore.Store; it is safe for concurrent use.
type KeyStore struct {
	log    *Log
	wrap   *keystore.Wrapper
	prefix string
	ttl    time.Duration

	mu    sync.Mutex
	keys  *lru.Cache[string, cachedKey]
	gone  *lru.Cache[string, struct{}] // destroyed keys, so that erased cases cost no round trip
	epoch uint64                       // destructions seen: a key read under an older epoch is not cached
	hooks []func(caseID string)
}

type cachedKey struct {
	key     []byte
	expires time.Time
}

// KeyStore returns the key store of this log's cluster, with keys wrapped by w.
func (l *Log) KeyStore(w *keystore.Wrapper) *KeyStore {
	keys, _ := lru.New[string, cachedKey](KeyCacheSize)
	gone, _ := lru.New[string, struct{}](KeyCacheSize)
	return &KeyStore{log: l, wrap: w, prefix: DefaultKeyPrefix, ttl: KeyCacheTTL, keys: keys, gone: gone}
}

// OnDestroy registers fn, called with the case id whenever this store sees a
// case key destroyed: by Destroy, by a read that finds it destroyed, or by
// Watch (another replica's erasure). Other caches of the key register here
// (codec.Codec.Forget).
func (k *KeyStore) OnDestroy(fn func(caseID string)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hooks = append(k.hooks, fn)
}

// keyStream names the stream of a case's key.
func (k *KeyStore) keyStream(caseID string) string { return k.prefix + caseID }

// Key returns the case's data key (see keystore.Store). Two replicas creating
// the key of a new case at once agree: the append expects no stream, and the
// loser reads the winner's key. It returns keystore.ErrDestroyed for a
// tombstoned stream, keystore.ErrNoKey when there is none and create is false,
// eventlog.ErrClosed after Close, and the client's error, wrapped, otherwise.
func (k *KeyStore) Key(ctx context.Context, caseID string, create bool) ([]byte, error) {
	k.mu.Lock()
	if _, ok := k.gone.Get(caseID); ok {
		k.mu.Unlock()
		return nil, keystore.ErrDestroyed
	}
	if ck, ok := k.keys.Get(caseID); ok {
		if time.Now().Before(ck.expires) {
			k.mu.Unlock()
			return ck.key, nil
		}
		k.keys.Remove(caseID)
	}
	epoch := k.epoch
	k.mu.Unlock()

	key, err := k.read(ctx, caseID)
	if errors.Is(err, keystore.ErrNoKey) && create {
		var wrapped []byte
		key, wrapped = k.wrap.NewKey(caseID)
		name := k.keyStream(caseID)
		_, err = k.log.appendToStream(ctx, name, esdb.NoStream{},
			[]esdb.EventData{{EventID: newEventID(), EventType: keyEventType, ContentType: esdb.ContentTypeBinary, Data: wrapped}})
		switch {
		case isStreamDeleted(err):
			err = keystore.ErrDestroyed
		case errors.Is(err, eventlog.ErrConflict):
			// Another replica created it first: use theirs.
			key, err = k.read(ctx, caseID)
		}
	}
	switch {
	case errors.Is(err, keystore.ErrDestroyed):
		k.destroyed(caseID)
	case err == nil:
		k.mu.Lock()
		if k.epoch == epoch { // no destruction since the read: the key may be kept
			k.keys.Add(caseID, cachedKey{key: key, expires: time.Now().Add(k.ttl)})
		}
		k.mu.Unlock()
	}
	return key, err
}

func (k *KeyStore) read(ctx context.Context, caseID string) ([]byte, error) {
	name := k.keyStream(caseID)
	var wrapped []byte
	err := k.log.readStream(ctx, name, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Start{}}, 1, func(ev *esdb.RecordedEvent) (bool, error) {
		if ev.EventType == keyEventType {
			wrapped = ev.Data
		}
		return false, nil
	})
	switch {
	case isStreamDeleted(err):
		return nil, keystore.ErrDestroyed
	case err != nil:
		return nil, err
	case wrapped == nil:
		return nil, keystore.ErrNoKey
	}
	return k.wrap.Unwrap(caseID, wrapped)
}

// Destroy tombstones the case's key stream (see KeyStore). Destroying twice, or
// a case that never had a key, is not an error.
func (k *KeyStore) Destroy(ctx context.Context, caseID string) error {
	name := k.keyStream(caseID)
	err := k.log.retry(ctx, "tombstone "+name, func(ctx context.Context) (bool, error) {
		return k.log.use(ctx, func(c *conn, op context.Context) (bool, error) {
			_, err := call(k.log, c, op, func(ctx context.Context, c *esdb.Client) (*esdb.DeleteResult, error) {
				return c.TombstoneStream(ctx, name, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}, Deadline: &k.log.attempt})
			}, nil)
			return false, err
		})
	})
	if err != nil && !isStreamDeleted(err) {
		return fmt.Errorf("esdb: destroying the key of case %s: %w", caseID, err)
	}
	k.destroyed(caseID)
	return nil
}

// destroyed drops the case's key from the cache for good, so that no read
// that started before keeps it, and tells the hooks.
func (k *KeyStore) destroyed(caseID string) {
	k.mu.Lock()
	k.epoch++
	k.keys.Remove(caseID)
	k.gone.Add(caseID, struct{}{})
	hooks := k.hooks
	k.mu.Unlock()
	for _, fn := range hooks {
		fn(caseID)
	}
}

// Cached reports whether the case's key is in the cache (for tests).
func (k *KeyStore) Cached(caseID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys.Contains(caseID)
}

// Watch follows the destruction of case keys by every replica of the
// cluster — the tombstones ($streamDeleted) of the key streams in $all, from
// now on — and drops each key from this store's cache, telling the OnDestroy
// functions, as it happens: a key another replica erased leaves this one's
// memory at once, not when its projections apply the erasure nor when the
// cache entry expires. It resubscribes after drops and while the cluster is
// away, and returns nil when ctx ends or the Log is closed, or the error
// that stopped it (access to $all refused).
func (k *KeyStore) Watch(ctx context.Context) error {
	var from eventlog.Position
	err := k.log.readAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1,
		func(ev *esdb.RecordedEvent) (bool, error) {
			from = toPosition(ev.Position)
			return false, nil
		})
	if err == nil {
		err = k.log.follow(ctx, k.prefix, from, nil, false, func(ev *esdb.RecordedEvent) error {
			if ev.EventType == "$streamDeleted" {
				if id, ok := strings.CutPrefix(ev.StreamID, k.prefix); ok && id != "" {
					k.destroyed(id)
				}
			}
			return nil
		})
	}
	if ctx.Err() != nil || errors.Is(err, eventlog.ErrClosed) {
		return nil
	}
	return err
}

// isStreamDeleted reports whether err says the stream was tombstoned.
func isStreamDeleted(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeStreamDeleted
}
