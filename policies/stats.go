package policies

import (
	"sync/atomic"
	"time"
)

// Decision statistics, for the hub's metrics: how many decisions of each kind
// the Authorizer gave, how many of them it had to evaluate (the others came
// from its cache) and the time those evaluations took. They count from the
// Authorizer's creation, across reloads.

// kind indexes the statistics by the rule a decision comes from.
type kind int

const (
	kindCase kind = iota
	kindSection
	kindItem
	kindAppend
	kindService
	numKinds
)

// kindNames are the names Stats reports, in kind order.
var kindNames = [numKinds]string{"case", "section", "item", "append", "service"}

// counters are the statistics of one kind of decision.
type counters struct {
	decisions, evaluations, evalNanos atomic.Uint64
}

// DecisionStats are the statistics of one kind of decision since the
// Authorizer was made.
type DecisionStats struct {
	// Kind is "case", "section", "item", "append" or "service".
	Kind string
	// Decisions counts the decisions given, from the cache or not.
	Decisions uint64
	// Evaluations counts the decisions the policy was evaluated for (a
	// decision the cache gave needs none; append and service decisions are
	// never cached).
	Evaluations uint64
	// EvalTime is the time those evaluations took, in total.
	EvalTime time.Duration
}

// Stats returns the statistics of every kind of decision, in a fixed order.
func (a *Authorizer) Stats() []DecisionStats {
	out := make([]DecisionStats, numKinds)
	for k := range numKinds {
		c := &a.counts[k]
		out[k] = DecisionStats{
			Kind:        kindNames[k],
			Decisions:   c.decisions.Load(),
			Evaluations: c.evaluations.Load(),
			EvalTime:    time.Duration(c.evalNanos.Load()),
		}
	}
	return out
}
