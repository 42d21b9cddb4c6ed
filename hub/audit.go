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
	// QueryBefore returns a page of access records matching f below index
	// before (0: the end of the log), newest first.
	QueryBefore(ctx context.Context, f accesslog.Filter, before uint64, limit int) (accesslog.Page, error)
	// Checkpoint returns the latest signed checkpoint of the access log.
	Checkpoint(ctx context.Context) (accesslog.CheckpointView, error)
	// CaseCheckpoint returns the latest signed checkpoint of the case log.
	CaseCheckpoint(ctx context.Context) (accesslog.CheckpointView, error)
	// Inclusion returns the proof that record index is in the tree of size size.
	Inclusion(ctx context.Context, index, size uint64) (accesslog.InclusionView, error)
	// Consistency returns the proof that the tree of size from is a prefix of
	// the tree of size to.
	Consistency(ctx context.Context, from, to uint64) (accesslog.ConsistencyView, error)
	// Tile returns the tile or entry bundle at a C2SP tlog-tiles path.
	Tile(ctx context.Context, path string) ([]byte, error)
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
	// Desc asks for the newest records first (order=desc); its cursors
	// continue towards older records.
	Desc bool
	// Limit is the page size, 1 to MaxRecordLimit (0: DefaultRecordLimit).
	Limit int
	// Problems are what the caller found wrong reading the query: answered
	// (KindInvalid) once the protocol lets the caller query at all, so that a
	// caller who may not learns nothing more.
	Problems []domain.FieldError
}

// AuditRecords answers a page of the access records matching q: in log
// order, or newest first with q.Desc (docs/api.md, "GET /v1/audit/records").
// It returns KindForbidden to a caller who may not read the access log and
// KindInvalid naming the fields at fault (the query's problems, a cursor that
// is not one or is one of the other order).
func (s *Service) AuditRecords(ctx context.Context, c *Call, q RecordQuery) (*RecordPage, error) {
	at, err := s.openQuery(ctx, c, "audit.records", q.Cursor, q.Desc, q.Problems)
	if err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultRecordLimit
	}
	query := s.cfg.Audit.Query
	if q.Desc {
		query = s.cfg.Audit.QueryBefore
	}
	page, err := query(ctx, q.Filter, at, q.Limit)
	if err != nil {
		return nil, domain.Internal(err)
	}
	return &RecordPage{Items: orEmpty(page.Records), NextCursor: recordCursor(q.Desc, page.Next)}, nil
}

// openQuery lets the caller ask a query of the service action of the access
// log, if the protocol lets it, and only then reads the query: its cursor, for
// the order desc says, and the problems the caller found (so that a caller who
// may not query learns nothing more). It returns the index the cursor holds,
// KindForbidden, or KindInvalid naming the fields at fault.
func (s *Service) openQuery(ctx context.Context, c *Call, action, cursor string, desc bool, problems []domain.FieldError) (uint64, error) {
	if err := s.service(ctx, c, action); err != nil {
		return 0, err
	}
	at, problem := parseRecordCursor(cursor, desc)
	if problem != nil {
		problems = append(problems, *problem)
	}
	if len(problems) > 0 {
		return 0, domain.Invalid("invalid query", problems...)
	}
	return at, nil
}

// descCursor starts the cursor of a page newest first.
const descCursor = 'd'

// recordCursor encodes where the next page of records starts, nil when there
// is none: in log order, the index to continue from, 8 bytes big-endian (the
// cursors of the hub before order=desc existed, which stay valid); newest
// first, descCursor and the index to continue below. The two differ in
// length, so that a cursor given with the other order is refused.
func recordCursor(desc bool, next *uint64) *string {
	if next == nil {
		return nil
	}
	var b []byte
	if desc {
		b = []byte{descCursor}
	}
	out := base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(b, *next))
	return &out
}

// parseRecordCursor reads a cursor of recordCursor for the order desc says:
// the index it holds, 0 for no cursor (the start of the log, or its end
// newest first), or the problem naming "cursor".
func parseRecordCursor(cursor string, desc bool) (uint64, *domain.FieldError) {
	if cursor == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	isDesc := len(b) == 9 && b[0] == descCursor
	switch {
	case err != nil || len(b) != 8 && !isDesc:
		return 0, &domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave"}
	case isDesc != desc:
		given, asked := "asc", "desc"
		if isDesc {
			given, asked = asked, given
		}
		return 0, &domain.FieldError{Field: "cursor", Message: "continues a page of order=" + given + ", not " + asked}
	}
	return binary.BigEndian.Uint64(b[len(b)-8:]), nil
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

// Tile answers the tile or entry bundle of the access log's tree at path, a
// C2SP tlog-tiles path below /v1/audit (docs/audit.md). It returns
// KindForbidden to a caller who may not read the access log's evidence (the
// action audit.proofs), KindInvalid naming "path" for a path that is not a
// tile's, KindNotFound for a tile the tree does not hold yet.
func (s *Service) Tile(ctx context.Context, c *Call, path string) ([]byte, error) {
	if err := s.service(ctx, c, "audit.proofs"); err != nil {
		return nil, err
	}
	return s.cfg.Audit.Tile(ctx, path)
}
