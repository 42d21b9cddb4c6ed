package hub

import (
	"context"
	"encoding/base64"
	"encoding/binary"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// AuditLog is what the oversight body's questions about the access log need:
// its queries and its tamper evidence (accesslog.Service).
type AuditLog interface {
	// Query returns a page of access records matching f, from index from on.
	Query(ctx context.Context, f accesslog.Filter, from uint64, limit int) (accesslog.Page, error)
	// Checkpoint returns the latest signed checkpoint of the access log.
	Checkpoint(ctx context.Context) (accesslog.CheckpointView, error)
	// CaseCheckpoint returns the latest signed checkpoint of the case log.
	CaseCheckpoint(ctx context.Context) (accesslog.CheckpointView, error)
	// Inclusion returns the proof that record index is in the tree of size size.
	Inclusion(ctx context.Context, index, size uint64) (accesslog.InclusionView, error)
	// Consistency returns the proof that the tree of size from is a prefix of
	// the tree of size to.
	Consistency(ctx context.Context, from, to uint64) (accesslog.ConsistencyView, error)
}

// RecordPage is a page of access records.
type RecordPage struct {
	Items      []accesslog.Record `json:"items"`
	NextCursor *string            `json:"next_cursor"`
}

// Limits of a page of access records.
const (
	DefaultRecordLimit = 100
	MaxRecordLimit     = 1000
)

// RecordQuery asks for a page of access records.
type RecordQuery struct {
	Filter accesslog.Filter
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
	// Limit is the page size, 1 to MaxRecordLimit (0: DefaultRecordLimit).
	Limit int
	// Problems are what the caller found wrong reading the query: answered
	// (KindInvalid) once the protocol lets the caller query at all, so that a
	// caller who may not learns nothing more.
	Problems []domain.FieldError
}

// AuditRecords answers a page of the access records matching q, in log order.
// It returns KindForbidden to a caller who may not read the access log and
// KindInvalid naming the fields at fault (the query's problems, a cursor that
// is not one).
func (s *Service) AuditRecords(ctx context.Context, c *Call, q RecordQuery) (*RecordPage, error) {
	if err := s.service(ctx, c, "audit.records"); err != nil {
		return nil, err
	}
	var from uint64
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) != 8 {
			q.Problems = append(q.Problems, domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave"})
		} else {
			from = binary.BigEndian.Uint64(b)
		}
	}
	if len(q.Problems) > 0 {
		return nil, domain.Invalid("invalid query", q.Problems...)
	}
	if q.Limit == 0 {
		q.Limit = DefaultRecordLimit
	}
	page, err := s.cfg.Audit.Query(ctx, q.Filter, from, q.Limit)
	if err != nil {
		return nil, domain.Internal(err)
	}
	out := &RecordPage{Items: orEmpty(page.Records)}
	if page.Next != nil {
		next := base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, *page.Next))
		out.NextCursor = &next
	}
	return out, nil
}

// Checkpoint answers the latest signed checkpoint of log: "access" (or "")
// the access log, "case" the case log. It returns KindForbidden to a caller
// who may not read the access log's evidence, KindInvalid naming "log" for
// another log.
func (s *Service) Checkpoint(ctx context.Context, c *Call, log string) (accesslog.CheckpointView, error) {
	if err := s.service(ctx, c, "audit.checkpoint"); err != nil {
		return accesslog.CheckpointView{}, err
	}
	switch log {
	case "", "access":
		return s.cfg.Audit.Checkpoint(ctx)
	case "case":
		return s.cfg.Audit.CaseCheckpoint(ctx)
	}
	return accesslog.CheckpointView{}, domain.Invalid("invalid query", domain.FieldError{Field: "log", Message: "must be access or case"})
}

// ProofQuery asks for a proof between two tree sizes or indexes.
type ProofQuery struct {
	A, B uint64
	// Problems are what the caller found wrong reading the query, answered
	// like RecordQuery's.
	Problems []domain.FieldError
}

// Inclusion answers the proof that access record q.A is in the tree of size
// q.B. It returns KindForbidden to a caller who may not read the access log's
// evidence, KindInvalid naming the argument at fault or out of range.
func (s *Service) Inclusion(ctx context.Context, c *Call, q ProofQuery) (accesslog.InclusionView, error) {
	if err := s.service(ctx, c, "audit.proofs"); err != nil {
		return accesslog.InclusionView{}, err
	}
	if len(q.Problems) > 0 {
		return accesslog.InclusionView{}, domain.Invalid("invalid query", q.Problems...)
	}
	return s.cfg.Audit.Inclusion(ctx, q.A, q.B)
}

// Consistency answers the proof that the access log's tree of size q.A is a
// prefix of its tree of size q.B, with the errors of Inclusion.
func (s *Service) Consistency(ctx context.Context, c *Call, q ProofQuery) (accesslog.ConsistencyView, error) {
	if err := s.service(ctx, c, "audit.proofs"); err != nil {
		return accesslog.ConsistencyView{}, err
	}
	if len(q.Problems) > 0 {
		return accesslog.ConsistencyView{}, domain.Invalid("invalid query", q.Problems...)
	}
	return s.cfg.Audit.Consistency(ctx, q.A, q.B)
}
