package esdb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/keystore"
)

// DefaultKeyPrefix prefixes the streams that hold wrapped case keys.
const DefaultKeyPrefix = "liaison-key-"

// keyEventType is the type of the one event of a key stream.
const keyEventType = "CaseKeyWrapped"

// KeyStore keeps the case data keys in EventStoreDB, so that every hub replica
// of a cluster reads the same keys: one stream per case (DefaultKeyPrefix + case
// id) whose first event holds the key wrapped by the master key (every replica
// has the same master key, e.g. from a Kubernetes Secret). Destroy tombstones
// the stream: it can never be read or written again, and the cluster's next
// scavenge removes its bytes from the database files; until that scavenge the
// wrapped key stays on the cluster's disks, useless without the master key.
//
// It implements keystore.Store; it is safe for concurrent use.
type KeyStore struct {
	log    *Log
	wrap   *keystore.Wrapper
	prefix string
	cache  sync.Map // case id → []byte key, or destroyedMark
}

var destroyedMark = new(int)

// KeyStore returns the key store of this log's cluster, with keys wrapped by w.
func (l *Log) KeyStore(w *keystore.Wrapper) *KeyStore {
	return &KeyStore{log: l, wrap: w, prefix: DefaultKeyPrefix}
}

// keyStream names the stream of a case's key.
func (k *KeyStore) keyStream(caseID string) string { return k.prefix + caseID }

// Key returns the case's data key (see keystore.Store). Two replicas creating
// the key of a new case at once agree: the append expects no stream, and the
// loser reads the winner's key. It returns keystore.ErrDestroyed for a
// tombstoned stream, keystore.ErrNoKey when there is none and create is false,
// eventlog.ErrClosed after Close, and the client's error, wrapped, otherwise.
func (k *KeyStore) Key(ctx context.Context, caseID string, create bool) ([]byte, error) {
	if v, ok := k.cache.Load(caseID); ok {
		if v == destroyedMark {
			return nil, keystore.ErrDestroyed
		}
		return v.([]byte), nil
	}
	key, err := k.read(ctx, caseID)
	if errors.Is(err, keystore.ErrNoKey) && create {
		var wrapped []byte
		key, wrapped = k.wrap.NewKey(caseID)
		name := k.keyStream(caseID)
		err = k.log.guard(func() error {
			_, err := k.log.client.AppendToStream(ctx, name, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}},
				esdb.EventData{EventID: newEventID(), EventType: keyEventType, ContentType: esdb.ContentTypeBinary, Data: wrapped})
			return err
		})
		switch {
		case isStreamDeleted(err):
			err = keystore.ErrDestroyed
		case err != nil && errors.Is(k.log.translate(ctx, "append "+name, err), eventlog.ErrConflict):
			// Another replica created it first: use theirs.
			key, err = k.read(ctx, caseID)
		case err != nil:
			err = k.log.translate(ctx, "append "+name, err)
		}
	}
	switch {
	case errors.Is(err, keystore.ErrDestroyed):
		k.cache.Store(caseID, destroyedMark)
	case err == nil:
		k.cache.Store(caseID, key)
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
	err := k.log.guard(func() error {
		_, err := k.log.client.TombstoneStream(ctx, name, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Any{}})
		return err
	})
	if err != nil && !isStreamDeleted(err) {
		return fmt.Errorf("esdb: destroying the key of case %s: %w", caseID, k.log.translate(ctx, "tombstone "+name, err))
	}
	k.cache.Store(caseID, destroyedMark)
	return nil
}

// isStreamDeleted reports whether err says the stream was tombstoned.
func isStreamDeleted(err error) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == esdb.ErrorCodeStreamDeleted
}
