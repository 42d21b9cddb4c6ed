package main

import (
	"context"
	"time"

	"github.com/liaison-hub/liaison/policies"
	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics adds the hub's own gauges and counters to the API's metrics
// registry: projection lag, policy decisions and evaluations, the store's group
// commits, case and event counts.
func (m *Main) registerMetrics(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "liaison_projection_lag_positions",
			Help: "How far the projections are behind the head of the case log (embedded store: events).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			head, err := m.Log.Head(ctx)
			if err != nil {
				return -1
			}
			return float64(head.Commit) - float64(m.Projector.Applied())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "liaison_projection_ready", Help: "1 once the projections have caught up with the log at start.",
		}, func() float64 {
			if m.Projector.Ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "liaison_cases", Help: "Cases known to the projections, erased ones included.",
		}, func() float64 { return float64(m.Projector.Len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "liaison_projection_events_applied_total", Help: "Events the projections applied since start.",
		}, func() float64 { return float64(m.Projector.EventsApplied()) }),
	)
	for i, st := range m.Policy.Stats() {
		labels := prometheus.Labels{"kind": st.Kind}
		stat := func() policies.DecisionStats { return m.Policy.Stats()[i] }
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_policy_decisions_total", ConstLabels: labels,
				Help: "Policy decisions given since start, from the decision cache or by evaluation, by kind (case, section, item, append, service).",
			}, func() float64 { return float64(stat().Decisions) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_policy_evaluations_total", ConstLabels: labels,
				Help: "Policy decisions that needed an evaluation of the Rego (not in the decision cache), by kind.",
			}, func() float64 { return float64(stat().Evaluations) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_policy_evaluation_seconds_total", ConstLabels: labels,
				Help: "Time spent evaluating the Rego for those decisions, by kind.",
			}, func() float64 { return stat().EvalTime.Seconds() }),
		)
	}
	if m.trees != nil && m.journal != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "liaison_access_log_lag_records",
				Help: "Access records not yet in the access log's Merkle tree and audit indexes.",
			}, func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				n, err := m.journal.Len(ctx)
				if err != nil {
					return -1
				}
				return float64(n) - float64(m.trees.Access.Size())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "liaison_case_log_tree_size", Help: "Case events in the case log's Merkle tree.",
			}, func() float64 { return float64(m.trees.Cases.Size()) }),
		)
	}
	if st := m.store; st != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_store_commit_groups_total",
				Help: "Group commits (one fsynced batch each) of the embedded store since start.",
			}, func() float64 { return float64(st.Stats().Groups) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_store_commit_requests_total",
				Help: "Append requests carried by those group commits: divided by the groups, the mean batch size.",
			}, func() float64 { return float64(st.Stats().Requests) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "liaison_store_wal_syncs_total", Help: "fsyncs of the embedded store's write-ahead log since start.",
			}, func() float64 { return float64(st.Stats().WALSyncs) }),
		)
	}
}
