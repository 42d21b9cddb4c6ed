package transparency

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/liaison-hub/liaison/eventlog"
)

// Witness cosigning (c2sp.org/tlog-witness). The hub submits the access
// log's latest checkpoint to each witness it is configured with, in the
// background, with a consistency proof from the size the witness last
// cosigned; a witness cosigns only a checkpoint consistent with the one it
// cosigned before, so a log rolled back or forked is refused. Cosignatures
// and each witness's state are kept in the KV, beside the checkpoints:
//
//	'T' 'a' 'x' seq (8) keyhash (4) → the witness's cosignature line of checkpoint seq
//	'T' 'a' 'w' keyhash (4)         → size (8) and seq (8) of the last checkpoint it cosigned
//	'T' 'a' 'r' keyhash (4)         → time (8, Unix seconds) and why it last refused, until it cosigns again
//
// where keyhash is the witness key's hash (its verifier key's second field).
const (
	kindCosignature = 'x'
	kindWitness     = 'w'
	kindRefusal     = 'r'
)

// Witness defaults of WitnessConfig.
const (
	DefaultWitnessInterval = 5 * time.Second
	DefaultWitnessTimeout  = 5 * time.Second
)

// Witness is one witness the access log's checkpoints are submitted to.
type Witness struct {
	// URL is the witness's prefix: checkpoints are posted to
	// URL/add-checkpoint.
	URL string
	// Verifier checks its cosignatures.
	Verifier *CosignatureVerifier
}

// ParseWitness reads a witness given as "URL=VKEY": the witness's URL
// prefix and its verifier key (which holds no "=").
func ParseWitness(s string) (Witness, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 {
		return Witness{}, errors.New("a witness is URL=VKEY")
	}
	u, vkey := strings.TrimRight(s[:i], "/"), s[i+1:]
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return Witness{}, fmt.Errorf("witness URL %q is not http:// or https://", u)
	}
	v, err := NewCosignatureVerifier(vkey)
	if err != nil {
		return Witness{}, fmt.Errorf("witness %s: %w", u, err)
	}
	return Witness{URL: u, Verifier: v}, nil
}

// WitnessConfig configures Trees.RunWitnesses.
type WitnessConfig struct {
	Witnesses []Witness
	// Interval is how often the latest checkpoint is offered to a witness
	// that has not cosigned it (DefaultWitnessInterval): at most one
	// submission per witness per interval, however fast checkpoints come.
	Interval time.Duration
	// Timeout bounds one submission (DefaultWitnessTimeout).
	Timeout time.Duration
	// Client sends the submissions (a client with Timeout when nil).
	Client *http.Client
}

// WitnessState is what the hub knows of one witness.
type WitnessState struct {
	Name        string `json:"name"`
	VerifierKey string `json:"verifier_key"`
	// CosignedSize and CosignedSeq are the size and sequence number of the
	// latest checkpoint it cosigned (0 when none).
	CosignedSize uint64 `json:"cosigned_size"`
	CosignedSeq  uint64 `json:"cosigned_seq"`
	// Refused says why it last refused a checkpoint, or could not be reached,
	// since it last cosigned one ("" when it has not); RefusedAt is when.
	Refused   string     `json:"refused,omitempty"`
	RefusedAt *time.Time `json:"refused_at,omitempty"`
}

// witnesses is the state of the access tree's witnesses.
type witnesses struct {
	cfg   WitnessConfig
	round sync.Mutex // one submission round at a time
	mu    sync.Mutex // guards state, held only to read or set it
	// state is by key hash, in cfg.Witnesses order.
	state []WitnessState
}

func witnessKey(kind byte, hash uint32) []byte {
	return binary.BigEndian.AppendUint32(treeKey(treeAccess, kind), hash)
}

func cosignatureKey(seq uint64, hash uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(treeKey(treeAccess, kindCosignature), seq), hash)
}

// SetWitnesses configures the witnesses of the access log's checkpoints and
// loads what the KV holds about them; call it before RunWitnesses. It returns
// the KV's error.
func (t *Trees) SetWitnesses(ctx context.Context, cfg WitnessConfig) error {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultWitnessInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWitnessTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	w := &witnesses{cfg: cfg}
	for _, wit := range cfg.Witnesses {
		st, err := loadWitnessState(ctx, t.cfg.KV, wit.Verifier)
		if err != nil {
			return err
		}
		w.state = append(w.state, st)
	}
	t.witnesses = w
	return nil
}

func loadWitnessState(ctx context.Context, kv eventlog.KV, v *CosignatureVerifier) (WitnessState, error) {
	st := WitnessState{Name: v.Name(), VerifierKey: v.String()}
	b, ok, err := kv.Get(ctx, witnessKey(kindWitness, v.KeyHash()))
	if err != nil {
		return st, err
	}
	if ok && len(b) == 16 {
		st.CosignedSize, st.CosignedSeq = binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	}
	b, ok, err = kv.Get(ctx, witnessKey(kindRefusal, v.KeyHash()))
	if err != nil {
		return st, err
	}
	if ok && len(b) >= 8 {
		at := time.Unix(int64(binary.BigEndian.Uint64(b)), 0).UTC()
		st.Refused, st.RefusedAt = string(b[8:]), &at
	}
	return st, nil
}

// Witnesses returns what the hub knows of each configured witness (none when
// there are none).
func (t *Trees) Witnesses() []WitnessState {
	if t.witnesses == nil {
		return nil
	}
	t.witnesses.mu.Lock()
	defer t.witnesses.mu.Unlock()
	out := make([]WitnessState, len(t.witnesses.state))
	copy(out, t.witnesses.state)
	return out
}

// RunWitnesses offers the access log's latest checkpoint to every witness
// that has not cosigned it, every Interval, until ctx is done. It runs in the
// background: a witness that is slow or down delays no answer of the hub, and
// its cosignature catches up once it is back. It returns when ctx is done.
func (t *Trees) RunWitnesses(ctx context.Context) {
	if t.witnesses == nil || len(t.witnesses.cfg.Witnesses) == 0 {
		return
	}
	tick := time.NewTicker(t.witnesses.cfg.Interval)
	defer tick.Stop()
	for {
		t.Cosign(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Cosign offers the access log's latest checkpoint, now, to every witness
// that has not cosigned it, stores the cosignatures it gets and records each
// refusal (logged, and shown by Witnesses). It returns the number of
// witnesses that have cosigned the latest checkpoint.
func (t *Trees) Cosign(ctx context.Context) int {
	w := t.witnesses
	if w == nil {
		return 0
	}
	w.round.Lock()
	defer w.round.Unlock()
	tr := t.Access
	tr.cmu.Lock()
	cp := tr.latest
	tr.cmu.Unlock()
	if cp.Seq == 0 || len(cp.Note) == 0 {
		return 0
	}
	// Each witness on its own: one that hangs delays no other.
	var done atomic.Int32
	var wg sync.WaitGroup
	for i, wit := range w.cfg.Witnesses {
		w.mu.Lock()
		st := w.state[i]
		w.mu.Unlock()
		if st.CosignedSeq >= cp.Seq {
			done.Add(1)
			continue
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
			line, err := t.submit(sctx, wit, st.CosignedSize, cp)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = t.storeCosignature(ctx, wit, i, cp, line)
			}
			if err != nil {
				t.refused(ctx, wit, i, err)
				return
			}
			done.Add(1)
		})
	}
	wg.Wait()
	return int(done.Load())
}

// refusalError is a witness's answer refusing a checkpoint.
type refusalError struct{ msg string }

func (e *refusalError) Error() string { return e.msg }

// submit posts cp to wit with a consistency proof from old, following the
// witness's own size once when it knows another; it returns the witness's
// cosignature line.
func (t *Trees) submit(ctx context.Context, wit Witness, old uint64, cp Checkpoint) ([]byte, error) {
	for range 2 {
		if old > cp.Size {
			return nil, &refusalError{fmt.Sprintf("the witness has cosigned a tree of %d records and this checkpoint has %d: the access log has been rolled back (or another log has this origin)", old, cp.Size)}
		}
		proof, err := t.Access.Consistency(ctx, old, cp.Size)
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "old %d\n", old)
		if old > 0 {
			for _, h := range proof {
				body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
			}
		}
		body.WriteString("\n")
		body.Write(cp.Note)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, wit.URL+"/add-checkpoint", &body)
		if err != nil {
			return nil, err
		}
		res, err := t.witnesses.cfg.Client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("unreachable: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("unreachable: %w", err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			return b, nil
		case http.StatusConflict:
			known, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if err != nil {
				return nil, &refusalError{"the witness answered 409 without its tree size"}
			}
			old = known
			continue
		case http.StatusUnprocessableEntity:
			return nil, &refusalError{fmt.Sprintf("the witness refused the consistency proof from the tree of %d records it cosigned: this access log does not extend it (rolled back or forked)", old)}
		case http.StatusForbidden:
			return nil, &refusalError{fmt.Sprintf("the witness does not know the origin %q with this hub's checkpoint key: %s", cp.Origin, strings.TrimSpace(string(b)))}
		default:
			return nil, &refusalError{fmt.Sprintf("the witness answered %d: %s", res.StatusCode, strings.TrimSpace(string(b)))}
		}
	}
	return nil, &refusalError{"the witness's tree size keeps changing"}
}

// storeCosignature checks the witness's answer, a cosignature line of cp,
// and stores it durably with the witness's new state.
func (t *Trees) storeCosignature(ctx context.Context, wit Witness, i int, cp Checkpoint, line []byte) error {
	text, _, _ := bytes.Cut(cp.Note, []byte("\n\n"))
	signed := append(append(append([]byte(nil), text...), "\n\n"...), line...)
	n, err := note.Open(signed, note.VerifierList(wit.Verifier))
	if err != nil || len(n.Sigs) != 1 {
		return &refusalError{fmt.Sprintf("the witness's answer is not its cosignature of the checkpoint: %q", truncate(line))}
	}
	sig := n.Sigs[0]
	cosig := []byte("— " + sig.Name + " " + sig.Base64 + "\n")
	var state [16]byte
	binary.BigEndian.PutUint64(state[:], cp.Size)
	binary.BigEndian.PutUint64(state[8:], cp.Seq)
	hash := wit.Verifier.KeyHash()
	if err := t.cfg.KV.Write(ctx, true,
		eventlog.KVOp{Key: cosignatureKey(cp.Seq, hash), Value: cosig},
		eventlog.KVOp{Key: witnessKey(kindWitness, hash), Value: state[:]},
		eventlog.KVOp{Key: witnessKey(kindRefusal, hash), Delete: true},
	); err != nil {
		return fmt.Errorf("store the cosignature: %w", err)
	}
	w := t.witnesses
	w.mu.Lock()
	st := &w.state[i]
	st.CosignedSize, st.CosignedSeq, st.Refused, st.RefusedAt = cp.Size, cp.Seq, "", nil
	w.mu.Unlock()
	return nil
}

// refused records why wit did not cosign.
func (t *Trees) refused(ctx context.Context, wit Witness, i int, err error) {
	now := t.cfg.Clock().UTC().Truncate(time.Second)
	msg := err.Error()
	var re *refusalError
	if errors.As(err, &re) {
		t.cfg.Logger.Error("WITNESS REFUSED the access log's checkpoint", "witness", wit.Verifier.Name(), "reason", msg)
	} else {
		t.cfg.Logger.Warn("witness not reached; the checkpoint will be offered again", "witness", wit.Verifier.Name(), "err", msg)
	}
	w := t.witnesses
	w.mu.Lock()
	st := &w.state[i]
	same := st.Refused == msg
	st.Refused, st.RefusedAt = msg, &now
	w.mu.Unlock()
	if same {
		return
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))
	if werr := t.cfg.KV.Write(ctx, false, eventlog.KVOp{Key: witnessKey(kindRefusal, wit.Verifier.KeyHash()), Value: append(v, msg...)}); werr != nil {
		t.cfg.Logger.Warn("could not store a witness's refusal", "err", werr)
	}
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// Cosignatures returns the cosignature lines stored for checkpoint seq of
// the access log, in key order. It returns the KV's error.
func Cosignatures(ctx context.Context, kv eventlog.KV, seq uint64) ([]byte, error) {
	var out []byte
	for p, err := range kv.Scan(ctx, binary.BigEndian.AppendUint64(treeKey(treeAccess, kindCosignature), seq), nil) {
		if err != nil {
			return nil, err
		}
		out = append(out, p.Value...)
	}
	return out, nil
}

// Witnessed returns the tree's latest checkpoint (as Latest) with every
// cosignature stored for it appended to its note, and what the hub knows of
// each witness. The case log's checkpoints are not submitted to witnesses.
func (t *Trees) Witnessed(ctx context.Context, tr *Tree) (Checkpoint, []WitnessState, error) {
	cp, err := tr.Latest(ctx)
	if err != nil || tr != t.Access {
		return cp, nil, err
	}
	cosigs, err := Cosignatures(ctx, t.cfg.KV, cp.Seq)
	if err != nil {
		return cp, nil, err
	}
	cp.Note = append(append([]byte(nil), cp.Note...), cosigs...)
	return cp, t.Witnesses(), nil
}

// ReadWitnessState returns what kv holds about the witness of v (a stopped
// hub's data, for liaison audit verify). It returns the KV's error.
func ReadWitnessState(ctx context.Context, kv eventlog.KV, v *CosignatureVerifier) (WitnessState, error) {
	return loadWitnessState(ctx, kv, v)
}
