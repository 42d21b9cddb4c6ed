package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/domain/demo"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/codec"
	"github.com/liaison-hub/liaison/eventlog/embedded"
	"github.com/liaison-hub/liaison/eventlog/keystore"
	"github.com/liaison-hub/liaison/policies"
)

// seeder writes demo-generated case histories straight into a hub's data
// directory, offline (docs/targets.md, P8): the embedded store in DATA/log,
// case keys in DATA/casekeys wrapped by DATA/master.key (see seedKeys), each
// event sealed by the codec with the envelope the hub would give it
// (originator, author, the policy's classification and share list, a request id
// as correlation id). Many cases are appended at once, one event per Append as
// the hub does, so that group commit shares the fsyncs.
type seeder struct {
	data   string
	store  *embedded.Store
	keys   *seedKeys
	master []byte
	codec  *codec.Codec
	auth   *policies.Authorizer
	dir    domain.MapDirectory
	memo   sync.Map // envelope key → labels

	cases  []string // ids of the seeded cases, in no particular order
	events int
	batch  uint64 // next generator seed
}

// labels are the classification and share list the policy gives an event.
type labels struct {
	class domain.TLP
	share []string
}

// seedKeys gives each seeded case a data key in the hub's key directory, in
// the very format of keystore.FileStore (a file named by a hash of the case
// id holding the key wrapped by the master key), but without FileStore's two
// fsyncs per key, which would make seeding 50k cases take minutes on a
// shared disk: the seed makes the directory durable once, at the end
// (syncKeys), and then reads every key back through keystore.FileStore, so
// that a change of format fails the harness instead of passing unnoticed.
type seedKeys struct {
	dir    string
	master cipher.AEAD
	keys   sync.Map // case id → []byte
}

func newSeedKeys(dir string, master []byte) (*seedKeys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &seedKeys{dir: dir, master: aead}, nil
}

// Key returns the case's key, creating it on first use (create is always
// true for the seed: every case is new).
func (s *seedKeys) Key(_ context.Context, caseID string, create bool) ([]byte, error) {
	if k, ok := s.keys.Load(caseID); ok {
		return k.([]byte), nil
	}
	if !create {
		return nil, keystore.ErrNoKey
	}
	key := make([]byte, keystore.KeySize)
	nonce := make([]byte, s.master.NonceSize())
	rand.Read(key)
	rand.Read(nonce)
	wrapped := s.master.Seal(nonce, nonce, key, []byte(caseID))
	sum := sha256.Sum256([]byte(caseID))
	name := filepath.Join(s.dir, hex.EncodeToString(sum[:16])+".key")
	if err := os.WriteFile(name, []byte(base64.StdEncoding.EncodeToString(wrapped)+"\n"), 0o600); err != nil {
		return nil, err
	}
	s.keys.Store(caseID, key)
	return key, nil
}

func (s *seedKeys) Destroy(context.Context, string) error {
	return errors.New("the seed erases nothing")
}

// syncKeys makes the key files durable and checks that keystore.FileStore
// reads every one of them back as the key the events were sealed with.
func (s *seedKeys) syncKeys(ctx context.Context, master []byte) error {
	syscall.Sync()
	fs, err := keystore.OpenFileStore(s.dir, master)
	if err != nil {
		return err
	}
	var bad error
	s.keys.Range(func(id, k any) bool {
		got, err := fs.Key(ctx, id.(string), false)
		if err != nil || !bytes.Equal(got, k.([]byte)) {
			bad = fmt.Errorf("keystore does not read back the seeded key of case %s (%v): has its file format changed?", id, err)
			return false
		}
		return true
	})
	return bad
}

func openSeeder(ctx context.Context, data string) (*seeder, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := embedded.Open(filepath.Join(data, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}
	master, err := keystore.LoadMasterKey("", "", filepath.Join(data, "master.key"))
	if err != nil {
		st.Close()
		return nil, err
	}
	keys, err := newSeedKeys(filepath.Join(data, "casekeys"), master)
	if err != nil {
		st.Close()
		return nil, err
	}
	auth, err := policies.New(ctx, policies.Default(), policies.Options{})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &seeder{data: data, store: st, keys: keys, master: master, codec: codec.New(keys), auth: auth, dir: demo.Directory(), batch: 1000}, nil
}

// close closes the store and makes the keys durable.
func (s *seeder) close() error {
	err := s.store.Close()
	return errors.Join(err, s.keys.syncKeys(context.Background(), s.master))
}

// seed adds demo cases until the store holds at least target events, with
// workers cases appended concurrently. It returns the events/s it achieved.
func (s *seeder) seed(ctx context.Context, target, workers int) (float64, error) {
	const perBatch = 2000
	work := make(chan demo.Case, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
		added  atomic.Int64
		seeded []string
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				id, err := s.appendCase(ctx, c)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if err == nil {
					seeded = append(seeded, id)
				}
				mu.Unlock()
				added.Add(int64(len(c.Steps)))
			}
		}()
	}
	queued := s.events
produce:
	for queued < target {
		for _, c := range demo.Generate(s.batch, perBatch) {
			if queued >= target {
				break
			}
			select {
			case work <- c:
				queued += len(c.Steps)
			case <-ctx.Done():
				break produce
			}
		}
		s.batch++
	}
	close(work)
	wg.Wait()
	s.cases = append(s.cases, seeded...)
	s.events += int(added.Load())
	if first != nil {
		return 0, first
	}
	return float64(added.Load()) / time.Since(start).Seconds(), ctx.Err()
}

// appendCase appends one case's history, event by event with exact expected
// versions, and returns the case id.
func (s *seeder) appendCase(ctx context.Context, c demo.Case) (string, error) {
	id := domain.NewID()
	var agg domain.Case
	for i, st := range c.Steps {
		e, err := s.event(ctx, id, st, &agg)
		if err != nil {
			return "", fmt.Errorf("case %s step %d (%s): %w", id, i+1, st.Type, err)
		}
		le, err := s.codec.Encode(ctx, e)
		if err != nil {
			return "", err
		}
		res, err := s.store.Append(ctx, id, int64(i), le)
		if err != nil {
			return "", err
		}
		e.Version, e.Position, e.RecordedAt = res.Version, res.Position.Commit, time.Now().UTC()
		agg.Apply(e)
	}
	return id, nil
}

// event builds the domain event the hub would record for a demo step.
func (s *seeder) event(ctx context.Context, caseID string, st demo.Step, agg *domain.Case) (domain.Event, error) {
	raw := []byte(st.Data)
	switch st.Type {
	case domain.BreakGlassInvoked:
		raw, _ = json.Marshal(domain.BreakGlassData{Justification: st.Justification,
			ExpiresAt: domain.FormatTime(time.Now().Add(time.Hour).Truncate(time.Second))})
	case domain.CaseErased:
		raw, _ = json.Marshal(domain.CaseErasedData{LegalBasis: st.Justification})
	}
	data, canonical, err := domain.DecodeData(st.Type, raw, s.dir, "")
	if err != nil {
		return domain.Event{}, err
	}
	lb, err := s.labels(ctx, st, agg)
	if err != nil {
		return domain.Event{}, err
	}
	return domain.Event{
		ID: domain.NewID(), CaseID: caseID, Type: st.Type, Originator: st.As.Agency, Author: st.As.Subject,
		Classification: lb.class, ShareWith: lb.share, SchemaVersion: domain.SchemaVersion,
		CorrelationID: requestID(), Data: data, RawData: canonical,
	}, nil
}

// labels asks the policy for an event's classification and share list, once
// per distinct (organisation, roles, type, label given, share list given):
// they depend on nothing else.
func (s *seeder) labels(ctx context.Context, st demo.Step, agg *domain.Case) (labels, error) {
	key := strings.Join([]string{st.As.Agency, strings.Join(st.As.Roles, ","), string(st.Type), string(st.Classification),
		strings.Join(st.ShareWith, ",")}, "|")
	if v, ok := s.memo.Load(key); ok {
		return v.(labels), nil
	}
	var c *domain.Case
	if st.Type != domain.CaseOpened {
		c = agg
	}
	d, err := s.auth.Append(ctx, policies.WriteQuery{Identity: st.As, Case: c, Type: st.Type,
		Classification: st.Classification, ShareWith: st.ShareWith, Justification: st.Justification})
	if err != nil {
		return labels{}, err
	}
	if d.Classification == "" {
		return labels{}, fmt.Errorf("the policy gave no classification (%v)", d.Reasons)
	}
	lb := labels{class: d.Classification, share: d.ShareWith}
	s.memo.Store(key, lb)
	return lb, nil
}

// requestID is a correlation id like the hub's request ids.
func requestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readLogAlone reads the whole log of a data directory and returns the time
// it took: the ceiling of a restart (docs/targets.md, P6: "reading the log
// alone").
func readLogAlone(ctx context.Context, data string) (time.Duration, int, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := embedded.Open(filepath.Join(data, "log"), embedded.Options{Logger: quiet})
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	start := time.Now()
	n := 0
	for _, err := range st.ReadAll(ctx, eventlog.Position{}) {
		if err != nil {
			return 0, n, err
		}
		n++
	}
	return time.Since(start), n, nil
}
