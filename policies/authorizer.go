package policies

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sync/atomic"

	"github.com/liaison-hub/liaison/domain"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// The rules the Authorizer queries; a bundle must define every one of them.
const (
	queryCase    = "data.liaison.read.case_decision"
	querySection = "data.liaison.read.section_decision"
	queryItem    = "data.liaison.read.item_decision"
	queryWrite   = "data.liaison.write.decision"
	queryService = "data.liaison.service.decision"
	// queryAudience names the organisations that can see a case.
	queryAudience = "data.liaison.read.audience"
	// queryWritable says what a caller may append to a case, and how.
	queryWritable = "data.liaison.write.writable"
)

// keyAudience names the audience in the decoder's wrapping object.
var keyAudience = ast.StringTerm("audience")

// directoryPath is where a bundle's data holds the organisation directory,
// purposesPath the purposes each organisation type may read for.
var (
	directoryPath = []string{"protocol", "organisations"}
	purposesPath  = []string{"protocol", "read", "purposes"}
)

// ErrUndefined is wrapped by the error of a decision the policy left undefined;
// the decision is then a deny.
var ErrUndefined = errors.New("policy decision is undefined")

// ErrShape is wrapped by the error of a decision that is not of the expected
// shape; the decision is then a deny.
var ErrShape = errors.New("policy decision has the wrong shape")

// DefaultCacheEntries is how many decisions of each kind (case, section, item)
// the Authorizer caches unless Options say otherwise.
const DefaultCacheEntries = 1 << 16

// Options tune an Authorizer.
type Options struct {
	// Clock gives the time of a query whose Now is zero; time.Now when nil.
	Clock func() time.Time
	// CacheEntries bounds the number of cached decisions of each kind: 0 means
	// DefaultCacheEntries, a negative number turns caching off.
	CacheEntries int
}

// Authorizer answers the protocol's questions from a policy bundle whose
// queries it prepared once. It is safe for concurrent use; Reload swaps the
// bundle atomically.
type Authorizer struct {
	opts   Options
	state  atomic.Pointer[state]
	counts [numKinds]counters // see Stats
}

// state is everything that belongs to one bundle: its prepared queries, its
// directory and its decision caches. Evaluations load it once, so that a
// Reload never mixes two bundles in one decision.
type state struct {
	revision  string
	dir       domain.MapDirectory
	purposes  map[domain.OrgType][]string
	caseQ     rego.PreparedEvalQuery
	sectionQ  rego.PreparedEvalQuery
	itemQ     rego.PreparedEvalQuery
	writeQ    rego.PreparedEvalQuery
	serviceQ  rego.PreparedEvalQuery
	audienceQ rego.PreparedEvalQuery
	writableQ rego.PreparedEvalQuery
	cases     *cache[CaseDecision]
	sections  *cache[SectionDecision]
	items     *cache[ItemDecision]

	// breakGlassFor is how long a break-glass grant lasts (BreakGlassFor).
	breakGlassFor time.Duration
}

// New prepares every query of bundle b. It returns an error when b is nil,
// lacks one of the rules the Authorizer queries or an organisation directory,
// or a query does not prepare.
func New(ctx context.Context, b *Bundle, opts Options) (*Authorizer, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.CacheEntries == 0 {
		opts.CacheEntries = DefaultCacheEntries
	}
	a := &Authorizer{opts: opts}
	st, err := a.prepare(ctx, b)
	if err != nil {
		return nil, err
	}
	a.state.Store(st)
	return a, nil
}

// Reload puts bundle b in force. The bundle was compiled and its tests run when
// it was loaded (Load refuses it otherwise); its queries are prepared here
// first, and if that fails (as New would) the error is returned and the policy
// in force stays.
// Decisions under way finish on the bundle they started with; the decision
// cache starts empty.
func (a *Authorizer) Reload(ctx context.Context, b *Bundle) error {
	st, err := a.prepare(ctx, b)
	if err != nil {
		return err
	}
	a.state.Store(st)
	return nil
}

// Revision returns the revision of the bundle in force.
func (a *Authorizer) Revision() string { return a.state.Load().revision }

// Directory returns the organisation directory of the bundle in force (its
// data.protocol.organisations). It is shared and must not be modified; a Reload
// puts a new one in force and leaves this one as it is.
func (a *Authorizer) Directory() domain.MapDirectory { return a.state.Load().dir }

// CachedDecisions returns how many read decisions the cache of the bundle in
// force holds (0 when caching is off), for metrics.
func (a *Authorizer) CachedDecisions() int {
	st := a.state.Load()
	if st.cases == nil {
		return 0
	}
	return st.cases.len() + st.sections.len() + st.items.len()
}

func (a *Authorizer) prepare(ctx context.Context, b *Bundle) (*state, error) {
	if b == nil || b.compiler == nil {
		return nil, errors.New("policies: no bundle")
	}
	dir, err := directory(b)
	if err != nil {
		return nil, err
	}
	// The bundle's data, parsed from JSON and never written again, is held as
	// ast values: a policy's read of data.protocol then needs no conversion.
	store := inmem.NewFromObjectWithOpts(b.opa.Data, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	st := &state{revision: b.revision, dir: dir, purposes: purposes(b), breakGlassFor: breakGlassFor(b)}
	for _, q := range []struct {
		query string
		dst   *rego.PreparedEvalQuery
	}{
		{queryCase, &st.caseQ}, {querySection, &st.sectionQ}, {queryItem, &st.itemQ},
		{queryWrite, &st.writeQ}, {queryService, &st.serviceQ}, {queryAudience, &st.audienceQ}, {queryWritable, &st.writableQ},
	} {
		if len(b.compiler.GetRules(ast.MustParseRef(q.query))) == 0 {
			return nil, fmt.Errorf("policies: bundle %s defines no rule %s", b.source, q.query)
		}
		pq, err := rego.New(
			rego.Query(q.query),
			rego.Compiler(b.compiler),
			rego.Store(store),
			rego.GenerateJSON(keepValue),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("policies: bundle %s: prepare %s: %w", b.source, q.query, err)
		}
		*q.dst = pq
	}
	if n := a.opts.CacheEntries; n > 0 {
		st.cases, st.sections, st.items = newCache[CaseDecision](n), newCache[SectionDecision](n), newCache[ItemDecision](n)
	}
	return st, nil
}

// directory reads the organisation directory out of the bundle's data.
func directory(b *Bundle) (domain.MapDirectory, error) {
	orgs, ok := b.data(directoryPath...).(map[string]any)
	if !ok || len(orgs) == 0 {
		return nil, fmt.Errorf("policies: bundle %s has no organisation directory at data.%s.%s", b.source, directoryPath[0], directoryPath[1])
	}
	dir := make(domain.MapDirectory, len(orgs))
	for id, t := range orgs {
		s, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("policies: bundle %s: organisation %q has no type", b.source, id)
		}
		dir[id] = domain.OrgType(s)
	}
	return dir, nil
}

// purposes reads, out of the bundle's data, the purposes each organisation
// type may read for; a bundle without them gives none (every read refused by
// its policy anyway).
func purposes(b *Bundle) map[domain.OrgType][]string { return b.listsByType(purposesPath...) }

// keepValue hands results over as ast values, which decode without a round trip
// through Go maps.
func keepValue(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }

// eval runs a prepared query on input and returns its object result, or an
// error wrapping ErrUndefined or ErrShape. It counts the evaluation, and its time, in c.
func eval(ctx context.Context, c *counters, pq rego.PreparedEvalQuery, query string, input ast.Value) (ast.Object, error) {
	v, err := evalValue(ctx, c, pq, query, input)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("policies: %s: %w: not an object", query, ErrShape)
	}
	return obj, nil
}

// evalValue runs a prepared query on input and returns its value, or an error
// wrapping ErrUndefined. It counts the evaluation, and its time, in c.
func evalValue(ctx context.Context, c *counters, pq rego.PreparedEvalQuery, query string, input ast.Value) (ast.Value, error) {
	// OPA notices a cancelled context asynchronously, so a short evaluation may
	// finish regardless: a caller that has given up gets no decision.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", query, err)
	}
	start := time.Now()
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(input))
	c.evaluations.Add(1)
	c.evalNanos.Add(uint64(time.Since(start)))
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", query, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("policies: %s: %w", query, ErrUndefined)
	}
	v, ok := rs[0].Expressions[0].Value.(ast.Value)
	if !ok {
		return nil, fmt.Errorf("policies: %s: %w: not a value", query, ErrShape)
	}
	return v, nil
}

func (a *Authorizer) now(t time.Time) time.Time {
	if t.IsZero() {
		return a.opts.Clock()
	}
	return t
}
