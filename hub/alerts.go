package hub

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
)

// The auditors' side of privacy monitoring (docs/api.md, "Alerts"; docs/monitoring.md):
// list the alerts the monitor raised, acknowledge and close them with a note.
// Each call leaves its access record like every other audit call; a state
// change's record (action audit.alert) names the alert (reference alert:ID)
// and holds the note as its justification.

// Limits of a page of alerts.
const (
	DefaultAlertLimit = 50
	MaxAlertLimit     = 500
)

// AlertQuery asks for a page of alerts, newest first.
type AlertQuery struct {
	// State, Rule, Agency and Sub select alerts by equality ("": any); From
	// (inclusive) and To (exclusive) on the alert's time.
	State, Rule, Agency, Sub string
	From, To                 time.Time
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
	// Limit is the page size, 1 to MaxAlertLimit (0: DefaultAlertLimit).
	Limit int
	// Problems are what the caller found wrong reading the query, answered
	// like RecordQuery's.
	Problems []domain.FieldError
}

// AlertPage is a page of alerts, newest first.
type AlertPage struct {
	Items      []Alert `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// AlertStates are the states of an alert, in the order they are reached.
var AlertStates = []string{AlertOpen, AlertAcknowledged, AlertClosed}

// Alerts answers a page of the monitor's alerts matching q, newest first. It
// returns KindForbidden to a caller who may not read them (service
// audit.alerts), KindInvalid naming the fields at fault, KindUnavailable
// when the hub runs no monitor.
func (s *Service) Alerts(ctx context.Context, c *Call, q AlertQuery) (*AlertPage, error) {
	if err := s.service(ctx, c, "audit.alerts"); err != nil {
		return nil, err
	}
	if q.State != "" && !slices.Contains(AlertStates, q.State) {
		q.Problems = append(q.Problems, domain.FieldError{Field: "state", Message: "must be open, acknowledged or closed"})
	}
	var start []byte
	if q.Cursor != "" {
		n, err := strconv.ParseUint(q.Cursor, 10, 64)
		if err != nil || n == 0 {
			q.Problems = append(q.Problems, domain.FieldError{Field: "cursor", Message: "is not a cursor this hub gave"})
		} else {
			start = alertKey(n)
		}
	}
	if len(q.Problems) > 0 {
		return nil, refuse(c, domain.Invalid("invalid query", q.Problems...))
	}
	m := s.cfg.Monitor
	if m == nil {
		return nil, errNoAlerts
	}
	if q.Limit == 0 {
		q.Limit = DefaultAlertLimit
	}
	out := &AlertPage{Items: []Alert{}}
	for p, err := range m.cfg.KV.Scan(ctx, monAlerts, start) {
		if err != nil {
			return nil, domain.Internal(err)
		}
		var a Alert
		if err := json.Unmarshal(p.Value, &a); err != nil {
			continue
		}
		if !q.matches(&a) {
			continue
		}
		if len(out.Items) == q.Limit {
			next := strconv.FormatUint(^binary.BigEndian.Uint64(p.Key[len(monAlerts):]), 10)
			out.NextCursor = &next
			break
		}
		out.Items = append(out.Items, a)
	}
	return out, nil
}

func (q *AlertQuery) matches(a *Alert) bool {
	return (q.State == "" || a.State == q.State) && (q.Rule == "" || a.Rule == q.Rule) &&
		(q.Agency == "" || a.Agency == q.Agency) && (q.Sub == "" || a.Sub == q.Sub) &&
		(q.From.IsZero() || !a.Time.Before(q.From)) && (q.To.IsZero() || a.Time.Before(q.To))
}

// ChangeAlert moves alert id to state (acknowledged or closed) with the note
// of body {note}, and answers the alert. The call's access record (reference
// alert:ID, the note as its justification) is made durable before the
// alert changes. It returns KindForbidden to a caller who may not
// (audit.alert-review), KindInvalid naming "note", KindNotFound for no such
// alert, KindConflict when the alert is closed already or acknowledged
// already, KindUnavailable when the hub runs no monitor or cannot record
// the call.
func (s *Service) ChangeAlert(ctx context.Context, c *Call, id, state string, body []byte) (*Alert, error) {
	if err := s.service(ctx, c, "audit.alert-review"); err != nil {
		return nil, err
	}
	c.Record.Reference = "alert:" + id
	note, err := parseNote(body)
	if err != nil {
		return nil, refuse(c, err)
	}
	m := s.cfg.Monitor
	if m == nil {
		return nil, errNoAlerts
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 {
		return nil, refuse(c, domain.Errorf(domain.KindNotFound, "no such alert"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.recent[seq]
	if !ok {
		if a, ok, err = m.alert(ctx, seq); err != nil {
			return nil, domain.Internal(err)
		}
		if !ok {
			return nil, refuse(c, domain.Errorf(domain.KindNotFound, "no such alert"))
		}
	}
	if a.State == AlertClosed || a.State == state {
		return nil, refuse(c, domain.Errorf(domain.KindConflict, "the alert is %s already", a.State))
	}
	c.Record.Justification = note
	c.Record.Decision, c.Record.Status = accesslog.Allow, statusOK
	if err := s.Record(ctx, c); err != nil {
		s.log.Error("an alert's change is not recorded", "request_id", c.Record.RequestID, "err", err)
		return nil, errAlertUnrecorded
	}
	changed := *a
	changed.State = state
	changed.Notes = append(slices.Clip(a.Notes), AlertNote{State: state, Note: note, Sub: c.Identity.Subject,
		Issuer: c.Identity.Issuer, Agency: c.Identity.Agency, Time: c.Now.UTC(), RequestID: c.Record.RequestID})
	b, err := json.Marshal(&changed)
	if err != nil {
		return nil, domain.Internal(err)
	}
	if err := m.cfg.KV.Write(ctx, true, eventlog.KVOp{Key: alertKey(seq), Value: b}); err != nil {
		return nil, domain.Internal(err)
	}
	if _, ok := m.recent[seq]; ok {
		m.recent[seq] = &changed
	}
	return &changed, nil
}

var errAlertUnrecorded = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub cannot record this change now; try again"}
