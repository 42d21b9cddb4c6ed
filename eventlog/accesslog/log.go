package accesslog

import (
	"context"
	"iter"
	"sync/atomic"

	"github.com/liaison-hub/liaison/eventlog"
)

// Log appends access records to a journal and reads them back.
type Log struct {
	journal  eventlog.Journal
	onAppend atomic.Pointer[func()]
}

// New returns an access log over a journal.
func New(j eventlog.Journal) *Log { return &Log{journal: j} }

// OnAppend sets a function called after every successful Append and
// AppendWith (the transparency follower's wake-up); it must not block. It
// replaces the one set before.
func (l *Log) OnAppend(f func()) { l.onAppend.Store(&f) }

// Append stores r durably and returns its index (also set in r.Index). It
// returns the journal's error when the record could not be made durable; the
// caller must then not answer as if the access had been recorded.
func (l *Log) Append(ctx context.Context, r *Record) (uint64, error) {
	i, err := l.journal.AppendRecords(ctx, r.Encode())
	if err != nil {
		return 0, err
	}
	l.appended(r, i)
	return i, nil
}

// AppendAll stores records durably, in order and in one commit, and sets
// each one's index. It returns the journal's error when they could not be
// made durable; then none of them may be taken as recorded.
func (l *Log) AppendAll(ctx context.Context, recs []*Record) error {
	if len(recs) == 0 {
		return nil
	}
	enc := make([][]byte, len(recs))
	for i, r := range recs {
		enc[i] = r.Encode()
	}
	first, err := l.journal.AppendRecords(ctx, enc...)
	if err != nil {
		return err
	}
	for i, r := range recs {
		r.Index = first + uint64(i)
	}
	if f := l.onAppend.Load(); f != nil {
		(*f)()
	}
	return nil
}

// AppendWith encodes r and has commit make it durable together with whatever
// commit writes (e.g. RecordingLog.AppendWithRecords); on success it sets
// r.Index to the index commit returned and notifies OnAppend, like Append.
//
// commit must append the record to this log's journal, as the only record or
// the first, and return its index; AppendWith returns commit's error as is
// (so that errors.Is sees eventlog.ErrConflict), and then neither sets r.Index
// nor notifies OnAppend.
func (l *Log) AppendWith(r *Record, commit func(record []byte) (index uint64, err error)) (uint64, error) {
	i, err := commit(r.Encode())
	if err != nil {
		return 0, err
	}
	l.appended(r, i)
	return i, nil
}

// appended sets r's index to i and notifies OnAppend.
func (l *Log) appended(r *Record, i uint64) {
	r.Index = i
	if f := l.onAppend.Load(); f != nil {
		(*f)()
	}
}

// Records yields the records from index from on, in order, up to the end of
// the log at the time of the call; a pruned record (Service.Prune) has only
// its Index and Pruned set. A record that cannot be decoded yields an error
// and ends the sequence, as does the journal's error.
func (l *Log) Records(ctx context.Context, from uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for e, err := range l.journal.ReadRecords(ctx, from) {
			if err != nil {
				yield(Record{}, err)
				return
			}
			if e.Pruned {
				if !yield(Record{Index: e.Index, Pruned: true}, nil) {
					return
				}
				continue
			}
			r, err := Decode(e.Index, e.Data)
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// Len returns the number of records.
func (l *Log) Len(ctx context.Context) (uint64, error) { return l.journal.Len(ctx) }
