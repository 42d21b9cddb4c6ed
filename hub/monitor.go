package hub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/liaison-hub/liaison/domain"
	"github.com/liaison-hub/liaison/eventlog"
	"github.com/liaison-hub/liaison/eventlog/accesslog"
	"github.com/liaison-hub/liaison/policies"
	"github.com/liaison-hub/liaison/projections"
)

// Privacy monitoring of the access log (docs/monitoring.md): the Monitor
// follows the access log, keeps a compact summary of each user's recent
// history, asks the monitoring rules (policies.MonitorRules, Rego) about each
// batch of new records, and stores what they find as alerts in the KV, which
// auditors list, acknowledge and close (hub/alerts.go). Times are the
// records' own, never the monitor's clock: a log replayed gives the same
// alerts.

// Alert states.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertClosed       = "closed"
)

// Monitor limits.
const (
	// MaxAlertRecords bounds the record indexes kept in one alert; Triggers
	// counts them all.
	MaxAlertRecords = 100
	// alertCoalesce is how long after an alert's last trigger a new finding
	// of the same rule for the same user joins it rather than opening another.
	alertCoalesce = time.Hour
	// monitorBatch bounds the records evaluated together.
	monitorBatch = 4096
	// monitorGather is the least time between two catch-ups woken by Notify:
	// a second's records are evaluated together, a busy user's reads once
	// (evaluate), so that the rules cost little however busy the hub.
	monitorGather = time.Second
	// snapshotEvery is how often the history summary is stored.
	snapshotEvery = 30 * time.Second
)

// AlertNote is an auditor's note on an alert, with the state it moved it to.
type AlertNote struct {
	State     string    `json:"state"`
	Note      string    `json:"note"`
	Sub       string    `json:"sub"`
	Issuer    string    `json:"issuer"`
	Agency    string    `json:"agency"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
}

// Alert is what a monitoring rule found about one user: the records that
// triggered it (their indexes in the access log, whose inclusion proofs
// GET /v1/audit/proofs/inclusion gives), its state and the auditors' notes.
type Alert struct {
	ID      string `json:"id"`
	Rule    string `json:"rule"`
	Detail  string `json:"detail"`
	Sub     string `json:"sub"`
	Issuer  string `json:"issuer"`
	Agency  string `json:"agency"`
	OrgType string `json:"org_type"`
	// Records are the indexes of the access records that triggered the
	// alert, in log order, at most MaxAlertRecords; Triggers counts them all.
	Records  []uint64 `json:"records"`
	Triggers int      `json:"triggers"`
	// Time is the time of the first triggering record, Last of the last.
	Time  time.Time   `json:"time"`
	Last  time.Time   `json:"last"`
	State string      `json:"state"`
	Notes []AlertNote `json:"notes"`

	seq uint64
}

// MonitorConfig configures a Monitor. Access, KV and Rules are required.
type MonitorConfig struct {
	Access *accesslog.Log
	KV     eventlog.KV
	Rules  *policies.MonitorRules
	// Directory gives the organisation type of an organisation (the
	// protocol's directory).
	Directory func() domain.MapDirectory
	// Projector says whether an organisation has a relationship with a case
	// (nil: every read is related).
	Projector *projections.Projector
	Logger    *slog.Logger
	// OnAlert is told the rule of each new alert (metrics).
	OnAlert func(rule string)
	// Webhook, when set, is the oversight board's endpoint every new alert is
	// posted to, signed with WebhookSecret per the Standard Webhooks
	// specification (as the feed's webhooks are).
	Webhook, WebhookSecret string
	// Poll is how often the monitor looks for records another process
	// appended (default one second).
	Poll time.Duration
}

// Monitor follows the access log and raises alerts. Create it with
// NewMonitor, run it with Run; it is safe for concurrent use.
type Monitor struct {
	cfg  MonitorConfig
	log  *slog.Logger
	wake chan struct{}
	sent chan struct{}

	// mu guards the alerts in the KV and recent: the monitor's writes and
	// the auditors' state changes.
	mu     sync.Mutex
	cpu    time.Duration     // Run's CPU time (CPU)
	next   uint64            // records evaluated
	seq    uint64            // the last alert's id
	recent map[uint64]*Alert // alerts a new finding may join
	// Owned by Run.
	hist     *monitorHistory
	snapped  time.Time
	related  relCache
	lastTime time.Time // of the last record evaluated
	events   []policies.MonitorEvent
	recs     []accesslog.Record
}

// KV layout of the monitor: prefix "mon/", then 's' its state (records
// evaluated, last alert id), 'h' the history snapshot, 'w' the webhook's
// cursor, 'a' and the bitwise complement of an alert's id (so that a scan
// yields the newest first) an alert.
var (
	monState    = []byte("mon/s")
	monHistory  = []byte("mon/h")
	monWebhook  = []byte("mon/w")
	monAlerts   = []byte("mon/a")
	errNoAlerts = &domain.Error{Kind: domain.KindUnavailable, Message: "the hub runs no monitor of its access log"}
)

func alertKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(slices.Clone(monAlerts), ^seq) }

type monitorState struct {
	Next uint64 `json:"next"`
	Seq  uint64 `json:"seq"`
}

type historySnapshot struct {
	Next    uint64          `json:"next"`
	History *monitorHistory `json:"history"`
}

// NewMonitor loads the monitor's state from the KV: where it goes on in the
// access log, and the history summary as of its last snapshot, brought up to
// there from the log (records already evaluated are not evaluated again).
func NewMonitor(ctx context.Context, cfg MonitorConfig) (*Monitor, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Directory == nil {
		cfg.Directory = func() domain.MapDirectory { return nil }
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), sent: make(chan struct{}, 1),
		recent: map[uint64]*Alert{}, hist: newHistory()}
	var st monitorState
	if ok, err := getJSON(ctx, cfg.KV, monState, &st); err != nil {
		return nil, err
	} else if ok {
		m.next, m.seq = st.Next, st.Seq
	}
	var snap historySnapshot
	from := uint64(0)
	if ok, err := getJSON(ctx, cfg.KV, monHistory, &snap); err != nil {
		return nil, err
	} else if ok && snap.History != nil && snap.Next <= m.next {
		m.hist, from = snap.History, snap.Next
		m.hist.init()
	}
	// Warm the history up to the records already evaluated.
	for from < m.next {
		n := 0
		for r, err := range cfg.Access.Records(ctx, from) {
			if err != nil {
				return nil, fmt.Errorf("monitor: read the access log: %w", err)
			}
			if r.Index >= m.next {
				break
			}
			m.observe(&r)
			from, n = r.Index+1, n+1
		}
		if n == 0 {
			break
		}
	}
	// The recent alerts a finding may still join.
	for p, err := range cfg.KV.Scan(ctx, monAlerts, nil) {
		if err != nil {
			return nil, err
		}
		var a Alert
		if json.Unmarshal(p.Value, &a) != nil {
			continue
		}
		a.seq, _ = strconv.ParseUint(a.ID, 10, 64)
		m.recent[a.seq] = &a
		if len(m.recent) >= 1000 {
			break
		}
	}
	m.pruneRecent()
	return m, nil
}

func getJSON(ctx context.Context, kv eventlog.KV, key []byte, v any) (bool, error) {
	b, ok, err := kv.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	return json.Unmarshal(b, v) == nil, nil
}

// Notify tells the monitor that records were appended. It never blocks.
func (m *Monitor) Notify() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Evaluated returns how many records of the access log the monitor has
// evaluated.
func (m *Monitor) Evaluated() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next
}

// CPU returns the CPU time Run has spent evaluating records (on Linux; zero
// elsewhere): Run keeps to one OS thread, whose CPU clock it reads around
// each catch-up. The garbage collector's background work on what it
// allocated is not in it.
func (m *Monitor) CPU() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cpu
}

// Run evaluates the access log's new records until ctx is done: at once,
// when Notify is called, and every Poll. A failure (of the log, the KV or the
// rules) is logged and the same records are tried again at the next poll:
// none is skipped. With a webhook, it also delivers the alerts. At its end
// it stores the history summary.
func (m *Monitor) Run(ctx context.Context) {
	// One thread, so that its CPU clock is the monitor's (CPU).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if m.cfg.Webhook != "" {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); m.deliver(ctx) }()
	}
	tick := time.NewTicker(m.cfg.Poll)
	defer tick.Stop()
	for {
		last := time.Now()
		cpu0, ok0 := threadCPU()
		err := m.CatchUp(ctx)
		if cpu1, ok1 := threadCPU(); ok0 && ok1 {
			m.mu.Lock()
			m.cpu += time.Duration(cpu1 - cpu0)
			m.mu.Unlock()
		}
		if err != nil && ctx.Err() == nil {
			m.log.Error("monitor: records not evaluated; trying again", "from", m.next, "err", err)
		}
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := m.snapshot(sctx); err != nil {
				m.log.Warn("monitor: history not stored", "err", err)
			}
			cancel()
			return
		case <-m.wake:
			if d := monitorGather - time.Since(last); d > 0 {
				time.Sleep(d)
			}
		case <-tick.C:
		}
	}
}

// CatchUp evaluates the records beyond those evaluated, in batches, and
// stores each batch's alerts with the position after it.
func (m *Monitor) CatchUp(ctx context.Context) error {
	for {
		m.recs = m.recs[:0]
		for r, err := range m.cfg.Access.Records(ctx, m.next) {
			if err != nil {
				return fmt.Errorf("monitor: read the access log: %w", err)
			}
			m.recs = append(m.recs, r)
			if len(m.recs) == monitorBatch {
				break
			}
		}
		if len(m.recs) == 0 {
			return nil
		}
		if err := m.evaluate(ctx, m.recs); err != nil {
			return err
		}
		if time.Since(m.snapped) > snapshotEvery {
			if err := m.snapshot(ctx); err != nil {
				m.log.Warn("monitor: history not stored", "err", err)
			}
		}
	}
}

// evaluate takes a batch in: the history of each record's user, the rules
// over the batch, and the alerts they give, stored with the new position.
// On an error nothing of the batch is kept but the history, which is rebuilt
// by the next NewMonitor if need be (a batch tried again counts its records
// twice in the history at worst).
func (m *Monitor) evaluate(ctx context.Context, recs []accesslog.Record) error {
	all := m.events[:0]
	at := make([]int, 0, len(recs)) // the record of each event
	for i := range recs {
		e, ok := m.observe(&recs[i])
		if ok {
			all = append(all, e)
			at = append(at, i)
		}
	}
	// Events alike (alike) are evaluated once, on the last of the batch.
	keep := make([]bool, len(all))
	seen := make(map[policies.MonitorEvent]bool, len(all))
	for i := len(all) - 1; i >= 0; i-- {
		k := alike(all[i])
		if !seen[k] {
			keep[i], seen[k] = true, true
		}
	}
	m.events = all[:0]
	n := 0
	for i := range all {
		if keep[i] {
			m.events = append(m.events, all[i])
			at[n] = at[i]
			n++
		}
	}
	at = at[:n]
	findings, err := m.cfg.Rules.Evaluate(ctx, m.events)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := map[uint64]*Alert{}
	var created []*Alert
	for _, f := range findings {
		r := &recs[at[f.Event]]
		e := &m.events[f.Event].Record
		if a := m.joinable(f.Rule, r, changed); a != nil {
			// A copy: the alerts in recent change only once stored.
			j := *a
			if len(j.Records) < MaxAlertRecords {
				j.Records = append(slices.Clip(j.Records), r.Index)
			}
			j.Triggers++
			j.Last, j.Detail = r.Time, f.Detail
			changed[j.seq] = &j
			continue
		}
		seq := m.seq + uint64(len(created)) + 1
		a := &Alert{ID: strconv.FormatUint(seq, 10), seq: seq, Rule: f.Rule, Detail: f.Detail, Sub: r.Sub,
			Issuer: r.Issuer, Agency: r.Agency, OrgType: e.OrgType, Records: []uint64{r.Index}, Triggers: 1,
			Time: r.Time, Last: r.Time, State: AlertOpen, Notes: []AlertNote{}}
		changed[a.seq] = a
		created = append(created, a)
	}
	seq := m.seq + uint64(len(created))
	next := recs[len(recs)-1].Index + 1
	ops := make([]eventlog.KVOp, 0, len(changed)+1)
	for seq, a := range changed {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		ops = append(ops, eventlog.KVOp{Key: alertKey(seq), Value: b})
	}
	st, _ := json.Marshal(monitorState{Next: next, Seq: seq})
	ops = append(ops, eventlog.KVOp{Key: monState, Value: st})
	// Alerts are made durable at once; a batch without is not (lost, it is
	// evaluated again).
	if err := m.cfg.KV.Write(ctx, len(changed) > 0, ops...); err != nil {
		return fmt.Errorf("monitor: store %d alerts: %w", len(changed), err)
	}
	for seq, a := range changed {
		m.recent[seq] = a
	}
	m.next, m.seq = next, seq
	m.pruneRecent()
	for _, a := range created {
		if m.cfg.OnAlert != nil {
			m.cfg.OnAlert(a.Rule)
		}
		m.log.Info("monitor: alert", "id", a.ID, "rule", a.Rule, "agency", a.Agency, "sub", a.Sub, "record", a.Records[0], "detail", a.Detail)
	}
	if len(created) > 0 {
		select {
		case m.sent <- struct{}{}:
		default:
		}
	}
	return nil
}

// alike returns what two events of a batch must share to be evaluated once,
// on the later: the same user, minute and record but for its index and case
// (whether it names one is kept, and which one when the history is about it:
// a denial before a break-glass call), and the same history but for the
// running counts. Within a minute the counts of a user only grow, but for
// what leaves a window, so the monitoring rules, thresholds on those counts,
// fire on the later event if on the earlier (docs/monitoring.md, "Evaluate"):
// the cost of the rules follows the number of active users and the kinds of
// calls they make, not the traffic.
func alike(e policies.MonitorEvent) policies.MonitorEvent {
	e.Record.Index, e.Record.Time = 0, e.Record.Time.Truncate(time.Minute)
	if e.Record.CaseID != "" && e.History.DeniedBefore < 0 {
		e.Record.CaseID = "-"
	}
	h := &e.History
	h.ReadsHour, h.DistinctCases10m, h.BreakGlass24h, h.NotFoundHour, h.UnrelatedReadsHour = 0, 0, 0, 0, 0
	return e
}

// joinable returns the alert of rule for r's user that a finding on r
// joins: not closed, last triggered at most alertCoalesce before r; among
// the recent alerts as the batch so far has changed them.
func (m *Monitor) joinable(rule string, r *accesslog.Record, changed map[uint64]*Alert) *Alert {
	match := func(a *Alert) bool {
		return a.Rule == rule && a.Sub == r.Sub && a.Issuer == r.Issuer && a.Agency == r.Agency &&
			a.State != AlertClosed && r.Time.Sub(a.Last) <= alertCoalesce
	}
	for _, a := range changed {
		if match(a) {
			return a
		}
	}
	for seq, a := range m.recent {
		if _, ok := changed[seq]; !ok && match(a) {
			return a
		}
	}
	return nil
}

// pruneRecent forgets the alerts no finding may join any more: closed, or
// whose user has been active more than alertCoalesce after their last
// trigger (or not for a day: forgotten by the history).
func (m *Monitor) pruneRecent() {
	for seq, a := range m.recent {
		u := m.hist.Users[a.Issuer+"\x00"+a.Sub+"\x00"+a.Agency]
		if a.State == AlertClosed || u == nil || time.Duration(u.Last-a.Last.Unix())*time.Second > alertCoalesce {
			delete(m.recent, seq)
		}
	}
}

// snapshot stores the history summary with the position it covers.
func (m *Monitor) snapshot(ctx context.Context) error {
	m.hist.prune(m.lastTime)
	b, err := json.Marshal(historySnapshot{Next: m.next, History: m.hist})
	if err != nil {
		return err
	}
	m.snapped = time.Now()
	return m.cfg.KV.Write(ctx, false, eventlog.KVOp{Key: monHistory, Value: b})
}

// observe takes r into its user's history and returns the event the rules
// see; ok is false for a record of no user (a call without an accepted
// token).
func (m *Monitor) observe(r *accesslog.Record) (policies.MonitorEvent, bool) {
	if r.Time.After(m.lastTime) {
		m.lastTime = r.Time
	}
	if r.Sub == "" {
		return policies.MonitorEvent{}, false
	}
	orgType, _ := m.cfg.Directory().TypeOf(r.Agency)
	role := ""
	if len(r.Roles) > 0 {
		role = r.Roles[0]
	}
	e := policies.MonitorEvent{Record: policies.MonitorRecord{
		Index: r.Index, Time: r.Time, Sub: r.Sub, Issuer: r.Issuer, Agency: r.Agency, OrgType: string(orgType),
		Role: role, Action: r.Action, CaseID: r.CaseID, Decision: r.Decision, Status: r.Status,
		BreakGlass: r.BreakGlass, Read: isRead(r),
	}}
	related := true
	if e.Record.Read && r.CaseID != "" && !r.BreakGlass {
		related = m.related.of(m.cfg.Projector, r.CaseID, r.Agency)
	}
	e.History = m.hist.take(r, string(orgType)+"/"+role, e.Record.Read, related)
	return e, true
}

// isRead reports whether r is a read of case content served.
func isRead(r *accesslog.Record) bool {
	return (r.Decision == accesslog.Allow || r.Decision == accesslog.Partial) && slices.Contains(readActions, r.Action)
}

// relCache remembers whether an organisation has a relationship with a case
// at a version of the case.
type relCache struct {
	m map[string]relEntry
}

type relEntry struct {
	version uint64
	related bool
}

// of reports whether org has a relationship with the case: it wrote in it,
// an event of it is shared with org (a task, a transfer, a referral), or the
// participant's consent covers org.
func (c *relCache) of(p *projections.Projector, caseID, org string) bool {
	if p == nil {
		return true
	}
	v, ok := p.Get(caseID)
	if !ok || v.Case == nil {
		return true // unknown to the views: a 404, not a read
	}
	key := caseID + "\x00" + org
	if e, ok := c.m[key]; ok && e.version == v.Case.Version {
		return e.related
	}
	related := relatedTo(v, org)
	if c.m == nil || len(c.m) > 50000 {
		c.m = map[string]relEntry{}
	}
	c.m[key] = relEntry{version: v.Case.Version, related: related}
	return related
}

func relatedTo(v *projections.View, org string) bool {
	for _, orgs := range v.Case.Writers {
		if slices.Contains(orgs, org) {
			return true
		}
	}
	if _, ok := v.Case.Consent[org]; ok {
		return true
	}
	for i := range v.Items {
		if v.Items[i].Originator() == org || slices.Contains(v.Items[i].ShareWith(), org) {
			return true
		}
	}
	return false
}

// monitorHistory is the compact summary of each user's recent history the rules
// are given (policies.MonitorHistory), and the usual reading of each role.
type monitorHistory struct {
	Users map[string]*userHistory `json:"users"`
	Roles map[string]*usual       `json:"roles"`
}

// usual counts reads over the completed hours in which there were any.
type usual struct {
	Reads int64 `json:"reads"`
	Hours int64 `json:"hours"`
}

func (u *usual) mean() float64 {
	if u == nil || u.Hours == 0 {
		return 0
	}
	return float64(u.Reads) / float64(u.Hours)
}

// userHistory is one user's: per-minute counts over the last hour, the reads
// of the current hour and the usual of the hours before, the cases read in
// the last 10 minutes, the break-glass grants of 24 hours, the last denial
// per case.
type userHistory struct {
	Role      string           `json:"role"`
	Minutes   [60]minuteCount  `json:"minutes"`
	Hour      int64            `json:"hour"`
	HourReads int64            `json:"hour_reads"`
	Usual     usual            `json:"usual"`
	Cases     []caseAt         `json:"cases"`
	Grants    []int64          `json:"grants"`
	Denials   map[string]int64 `json:"denials"`
	Last      int64            `json:"last"`

	seen map[string]int64 // Cases' last time per case
}

type minuteCount struct {
	Minute    int64 `json:"m"`
	Reads     int32 `json:"r"`
	NotFound  int32 `json:"n"`
	Unrelated int32 `json:"u"`
}

type caseAt struct {
	Case string `json:"c"`
	At   int64  `json:"t"`
}

func newHistory() *monitorHistory {
	return &monitorHistory{Users: map[string]*userHistory{}, Roles: map[string]*usual{}}
}

// init rebuilds what a snapshot does not hold.
func (h *monitorHistory) init() {
	if h.Users == nil {
		h.Users = map[string]*userHistory{}
	}
	if h.Roles == nil {
		h.Roles = map[string]*usual{}
	}
	for _, u := range h.Users {
		u.seen = map[string]int64{}
		for _, c := range u.Cases {
			u.seen[c.Case] = c.At
		}
		if u.Denials == nil {
			u.Denials = map[string]int64{}
		}
	}
}

// prune forgets the users idle for a day.
func (h *monitorHistory) prune(now time.Time) {
	for k, u := range h.Users {
		if now.Unix()-u.Last > 86400 {
			delete(h.Users, k)
		}
	}
}

// take adds r to its user's history and returns the summary the rules see
// with r.
func (h *monitorHistory) take(r *accesslog.Record, role string, read, related bool) policies.MonitorHistory {
	key := r.Issuer + "\x00" + r.Sub + "\x00" + r.Agency
	u := h.Users[key]
	if u == nil {
		u = &userHistory{Role: role, seen: map[string]int64{}, Denials: map[string]int64{}}
		h.Users[key] = u
	}
	now := r.Time.Unix()
	if now > u.Last {
		u.Last = now
	}
	// The hour's reads join the usual once the hour is over.
	if hour := now / 3600; hour != u.Hour {
		if u.HourReads > 0 {
			u.Usual.Reads += u.HourReads
			u.Usual.Hours++
			ru := h.Roles[u.Role]
			if ru == nil {
				ru = &usual{}
				h.Roles[u.Role] = ru
			}
			ru.Reads += u.HourReads
			ru.Hours++
		}
		u.Hour, u.HourReads = hour, 0
	}
	minute := now / 60
	b := &u.Minutes[minute%60]
	if b.Minute != minute {
		*b = minuteCount{Minute: minute}
	}
	notFound := r.Status == 404 && r.CaseID != ""
	switch {
	case read:
		b.Reads++
		u.HourReads++
		if !related {
			b.Unrelated++
		}
	case notFound:
		b.NotFound++
	}
	// Cases holds, in time order, when each case was read, to the second;
	// an entry is current when seen has the same time for its case. Stale
	// entries are dropped once they outnumber the current ones, so that a
	// user reading one case thousands of times a second holds one entry a
	// second, and at most twice the distinct cases of 10 minutes.
	if read && r.CaseID != "" && u.seen[r.CaseID] != now {
		u.Cases = append(u.Cases, caseAt{Case: r.CaseID, At: now})
		u.seen[r.CaseID] = now
		if len(u.Cases) > 2*len(u.seen)+64 {
			u.Cases = slices.DeleteFunc(u.Cases, func(c caseAt) bool { return u.seen[c.Case] != c.At })
		}
	}
	for len(u.Cases) > 0 && now-u.Cases[0].At > 600 {
		if c := u.Cases[0]; u.seen[c.Case] == c.At {
			delete(u.seen, c.Case)
		}
		u.Cases = u.Cases[1:]
	}
	if isGrant(r) {
		u.Grants = append(u.Grants, now)
	}
	for len(u.Grants) > 0 && now-u.Grants[0] > 86400 {
		u.Grants = u.Grants[1:]
	}
	out := policies.MonitorHistory{
		UserUsual: u.Usual.mean(), UserHours: int(u.Usual.Hours), RoleUsual: h.Roles[u.Role].mean(),
		DistinctCases10m: len(u.seen), BreakGlass24h: len(u.Grants), DeniedBefore: -1, Related: related,
	}
	for _, m := range u.Minutes {
		if minute-m.Minute < 60 {
			out.ReadsHour += int(m.Reads)
			out.NotFoundHour += int(m.NotFound)
			out.UnrelatedReadsHour += int(m.Unrelated)
		}
	}
	if r.CaseID != "" {
		if t, ok := u.Denials[r.CaseID]; ok && now-t <= 86400 && r.Action == actionBreakGlass {
			out.DeniedBefore = time.Duration(now-t) * time.Second
		}
		if r.Decision == accesslog.Deny {
			u.Denials[r.CaseID] = now
			if len(u.Denials) > 256 {
				for c, t := range u.Denials {
					if now-t > 86400 {
						delete(u.Denials, c)
					}
				}
			}
		}
	}
	return out
}

// webhookCursor is the id of the last alert the webhook delivered.
type webhookCursor struct {
	Delivered uint64 `json:"delivered"`
}

// deliver posts every new alert, in order, to the webhook until ctx is done:
// each as {"type": "liaison.alert", "alert": …}, signed as the feed's
// webhooks are (SignWebhook), webhook-id "alert-" and its id. A failed
// delivery is tried again, waiting twice as long each time (up to a
// minute); the cursor of the last alert delivered is stored, so none is lost
// to a restart.
func (m *Monitor) deliver(ctx context.Context) {
	client := &http.Client{Timeout: webhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var cur webhookCursor
	if _, err := getJSON(ctx, m.cfg.KV, monWebhook, &cur); err != nil {
		m.log.Error("monitor: webhook cursor not read", "err", err)
	}
	backoff := time.Second
	for {
		m.mu.Lock()
		seq := m.seq
		m.mu.Unlock()
		for cur.Delivered < seq && ctx.Err() == nil {
			id := cur.Delivered + 1
			if err := m.deliverOne(ctx, client, id); err != nil {
				m.log.Warn("monitor: alert not delivered to the webhook; trying again", "alert", id, "err", err, "in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Minute)
				continue
			}
			backoff = time.Second
			cur.Delivered = id
			b, _ := json.Marshal(cur)
			if err := m.cfg.KV.Write(ctx, false, eventlog.KVOp{Key: monWebhook, Value: b}); err != nil {
				m.log.Warn("monitor: webhook cursor not stored", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-m.sent:
		case <-time.After(m.cfg.Poll):
		}
	}
}

// deliverOne posts alert id to the webhook; an answer other than 2xx is a
// failure.
func (m *Monitor) deliverOne(ctx context.Context, client *http.Client, id uint64) error {
	a, ok, err := m.alert(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return nil // never stored: nothing to deliver
	}
	body, err := json.Marshal(struct {
		Type  string `json:"type"`
		Alert *Alert `json:"alert"`
	}{"liaison.alert", a})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	whID := "alert-" + a.ID
	sig, err := SignWebhook(m.cfg.WebhookSecret, whID, ts, body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", whID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// alert reads alert seq from the KV.
func (m *Monitor) alert(ctx context.Context, seq uint64) (*Alert, bool, error) {
	var a Alert
	ok, err := getJSON(ctx, m.cfg.KV, alertKey(seq), &a)
	if err != nil || !ok {
		return nil, false, err
	}
	a.seq = seq
	return &a, true, nil
}
