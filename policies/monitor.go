package policies

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// The monitoring rules (docs/monitoring.md) are a bundle of their own, apart
// from the protocol: Rego over the access records and a summary of each
// user's recent history, with thresholds as data per organisation type.

//go:embed monitor
var monitorFS embed.FS

// monitorRoot is the embedded monitoring bundle's directory.
const monitorRoot = "monitor"

// queryMonitor is the set of alerts the monitoring rules give for a batch.
const queryMonitor = "data.monitor.rules.alerts"

// DefaultMonitorBundle returns the embedded monitoring rules bundle
// (policies/monitor). Its Rego tests are run by this package's tests
// (TestMonitorBundleRegoTests); replace it with Load. It panics if the
// embedded bundle does not compile: that is a build defect.
func DefaultMonitorBundle() *Bundle {
	files, err := readFS(monitorFS, monitorRoot)
	var b *Bundle
	if err == nil {
		b, err = parse(monitorRoot, files)
	}
	if err != nil {
		panic(err)
	}
	return b
}

// MonitorRecord is what the monitoring rules see of an access record.
type MonitorRecord struct {
	Index  uint64
	Time   time.Time
	Sub    string
	Issuer string
	Agency string
	// OrgType is the type of Agency in the protocol's directory ("" when it
	// has none); Role is the caller's first role.
	OrgType, Role string
	Action        string
	CaseID        string
	Decision      string
	Status        int
	BreakGlass    bool
	// Read says the record is a read of case content served (allow or
	// partial).
	Read bool
}

// MonitorHistory is the summary of a user's recent history the monitor keeps,
// the record it goes with included (docs/monitoring.md, "History").
type MonitorHistory struct {
	// ReadsHour counts the user's reads in the 60 minutes up to the record.
	ReadsHour int
	// UserUsual is the user's mean reads per active hour before this hour,
	// over UserHours hours (0 and 0: no history); RoleUsual the same over
	// every user of the organisation type and role.
	UserUsual float64
	UserHours int
	RoleUsual float64
	// DistinctCases10m counts the distinct cases the user read in the last
	// 10 minutes.
	DistinctCases10m int
	// BreakGlass24h counts the user's break-glass grants in 24 hours.
	BreakGlass24h int
	// DeniedBefore is, for a break-glass call, how long before it the user
	// was last refused its case; -1 when not in 24 hours, or for another
	// call.
	DeniedBefore time.Duration
	// NotFoundHour counts the user's calls naming a case that answered 404 in
	// the last hour.
	NotFoundHour int
	// UnrelatedReadsHour counts the user's reads, in the last hour, of cases
	// with which the user's organisation has no relationship; Related says
	// whether it has one with this record's case (true for a call that is no
	// read).
	UnrelatedReadsHour int
	Related            bool
}

// MonitorEvent is one record and its user's history.
type MonitorEvent struct {
	Record  MonitorRecord
	History MonitorHistory
}

// MonitorFinding is one rule that fired on one event of a batch.
type MonitorFinding struct {
	// Event is the event's place in the batch.
	Event  int
	Rule   string
	Detail string
}

// MonitorRules evaluates a monitoring rules bundle. It is safe for
// concurrent use.
type MonitorRules struct {
	revision string
	rules    []string
	pq       rego.PreparedEvalQuery
}

// NewMonitorRules prepares the query of the monitoring rules of b. It returns
// an error when b defines no data.monitor.rules.alerts.
func NewMonitorRules(ctx context.Context, b *Bundle) (*MonitorRules, error) {
	if b == nil || b.compiler == nil {
		return nil, fmt.Errorf("policies: no monitoring bundle")
	}
	if len(b.compiler.GetRules(ast.MustParseRef(queryMonitor))) == 0 {
		return nil, fmt.Errorf("policies: bundle %s defines no rule %s", b.source, queryMonitor)
	}
	store := inmem.NewFromObjectWithOpts(b.opa.Data, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	pq, err := rego.New(rego.Query(queryMonitor), rego.Compiler(b.compiler), rego.Store(store),
		rego.GenerateJSON(keepValue)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: bundle %s: prepare %s: %w", b.source, queryMonitor, err)
	}
	m := &MonitorRules{revision: b.revision, pq: pq}
	if names, ok := b.data("thresholds", "default").(map[string]any); ok {
		for n := range names {
			m.rules = append(m.rules, n)
		}
		sort.Strings(m.rules)
	}
	return m, nil
}

// Revision returns the revision of the monitoring bundle.
func (m *MonitorRules) Revision() string { return m.revision }

// Rules returns the names of the rules the bundle has thresholds for, sorted.
func (m *MonitorRules) Rules() []string { return m.rules }

// Evaluate returns the findings of the rules over events, ordered by event
// and rule. It returns an error when the evaluation fails or its result is
// not a set of {event, rule, detail}.
func (m *MonitorRules) Evaluate(ctx context.Context, events []MonitorEvent) ([]MonitorFinding, error) {
	if len(events) == 0 {
		return nil, nil
	}
	terms := make([]*ast.Term, len(events))
	for i := range events {
		terms[i] = ast.NewTerm(monitorEvent(&events[i]))
	}
	input := ast.NewObject(ast.Item(ast.InternedTerm("events"), ast.ArrayTerm(terms...)))
	rs, err := m.pq.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", queryMonitor, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("policies: %s: %w", queryMonitor, ErrUndefined)
	}
	set, ok := rs[0].Expressions[0].Value.(ast.Set)
	if !ok {
		return nil, fmt.Errorf("policies: %s: %w: not a set", queryMonitor, ErrShape)
	}
	var out []MonitorFinding
	var bad error
	set.Foreach(func(t *ast.Term) {
		obj, ok := t.Value.(ast.Object)
		var f MonitorFinding
		if ok {
			n, isNum := obj.Get(ast.InternedTerm("event")).Value.(ast.Number)
			i, isInt := n.Int()
			f.Event = i
			f.Rule, ok = stringOf(obj, "rule")
			f.Detail, _ = stringOf(obj, "detail")
			ok = ok && isNum && isInt && i >= 0 && i < len(events)
		}
		if !ok {
			bad = fmt.Errorf("policies: %s: %w: %v", queryMonitor, ErrShape, t)
			return
		}
		out = append(out, f)
	})
	if bad != nil {
		return nil, bad
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Event != out[j].Event {
			return out[i].Event < out[j].Event
		}
		return strings.Compare(out[i].Rule, out[j].Rule) < 0
	})
	return out, nil
}

// stringOf returns the string at key of obj.
func stringOf(obj ast.Object, key string) (string, bool) {
	t := obj.Get(ast.InternedTerm(key))
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}

// monitorEvent builds the input of one event as an ast value.
func monitorEvent(e *MonitorEvent) ast.Object {
	r, h := &e.Record, &e.History
	denied := int64(-1)
	if h.DeniedBefore >= 0 {
		denied = int64(h.DeniedBefore / time.Second)
	}
	record := ast.NewObject(
		ast.Item(ast.InternedTerm("index"), ast.UIntNumberTerm(r.Index)),
		ast.Item(ast.InternedTerm("time_ns"), ast.NumberTerm(json.Number(strconv.FormatInt(r.Time.UnixNano(), 10)))),
		ast.Item(ast.InternedTerm("sub"), ast.StringTerm(r.Sub)),
		ast.Item(ast.InternedTerm("issuer"), ast.StringTerm(r.Issuer)),
		ast.Item(ast.InternedTerm("agency"), ast.StringTerm(r.Agency)),
		ast.Item(ast.InternedTerm("org_type"), ast.StringTerm(r.OrgType)),
		ast.Item(ast.InternedTerm("role"), ast.StringTerm(r.Role)),
		ast.Item(ast.InternedTerm("action"), ast.StringTerm(r.Action)),
		ast.Item(ast.InternedTerm("case_id"), ast.StringTerm(r.CaseID)),
		ast.Item(ast.InternedTerm("decision"), ast.StringTerm(r.Decision)),
		ast.Item(ast.InternedTerm("status"), ast.IntNumberTerm(r.Status)),
		ast.Item(ast.InternedTerm("break_glass"), ast.BooleanTerm(r.BreakGlass)),
		ast.Item(ast.InternedTerm("read"), ast.BooleanTerm(r.Read)),
	)
	history := ast.NewObject(
		ast.Item(ast.InternedTerm("reads_hour"), ast.IntNumberTerm(h.ReadsHour)),
		ast.Item(ast.InternedTerm("user_usual"), ast.FloatNumberTerm(h.UserUsual)),
		ast.Item(ast.InternedTerm("user_hours"), ast.IntNumberTerm(h.UserHours)),
		ast.Item(ast.InternedTerm("role_usual"), ast.FloatNumberTerm(h.RoleUsual)),
		ast.Item(ast.InternedTerm("distinct_cases_10m"), ast.IntNumberTerm(h.DistinctCases10m)),
		ast.Item(ast.InternedTerm("break_glass_24h"), ast.IntNumberTerm(h.BreakGlass24h)),
		ast.Item(ast.InternedTerm("denied_before_s"), ast.NumberTerm(json.Number(strconv.FormatInt(denied, 10)))),
		ast.Item(ast.InternedTerm("not_found_hour"), ast.IntNumberTerm(h.NotFoundHour)),
		ast.Item(ast.InternedTerm("unrelated_reads_hour"), ast.IntNumberTerm(h.UnrelatedReadsHour)),
		ast.Item(ast.InternedTerm("related"), ast.BooleanTerm(h.Related)),
	)
	return ast.NewObject(
		ast.Item(ast.InternedTerm("record"), ast.NewTerm(record)),
		ast.Item(ast.InternedTerm("history"), ast.NewTerm(history)),
	)
}
