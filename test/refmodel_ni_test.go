package liaison_test

// Non-interference (the protocol's "What a reader can infer"; issue 13 N):
// everything a reader gets is a function only of the events it may read, its
// identity and purpose, and the clock. Here twice:
//   - TestRefModelNonInterference checks the reference model itself, without a
//     hub: over random histories, appending events a reader cannot read
//     changes none of the model's answers to that reader;
//   - the differential test (TestDifferential) checks the hub: on a sample of
//     its cases it appends events some readers cannot read (the model says
//     which) and requires those readers' answers unchanged, byte for byte.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hiddenFrom says whether the events that after appends to before are hidden
// from a reader: none of them enters its view, and none is one of the events
// that act on the reader's own access whatever their label (issue 13 N,
// "Exceptions"): a consent event that changes the consent the reader's
// organisation holds, a break-glass of the reader's own, the erasure.
func hiddenFrom(id identity, before, after refHistory, now time.Time) bool {
	stB, stA := before.state(), after.state()
	consentB, heldB := stB.consent[id.Agency]
	consentA, heldA := stA.consent[id.Agency]
	if stB.erased != stA.erased || heldB != heldA || consentB != consentA {
		return false
	}
	for _, e := range after[len(before):] {
		if e.Type == "BreakGlassInvoked" && e.Org == id.Agency && e.Sub == id.Sub {
			return false
		}
	}
	if caseGate(id, stA, now) != 0 {
		return true // the reader does not reach the case: it has no view
	}
	for _, i := range viewFor(id, after, stA, now).view {
		if i >= len(before) {
			return false
		}
	}
	return true
}

// modelAnswers is every answer the model predicts for a reader on a case:
// the case (which is also its entry in the list), each section and the events
// (all, and after each version up to 3), for every purpose (and the case
// without a purpose).
func modelAnswers(id identity, h refHistory, now time.Time) map[string]refAnswer {
	out := map[string]refAnswer{" case": expectCase(id, "", h, now)} // no purpose: 400
	for _, p := range diffPurposes {
		out[p+" case"] = expectCase(id, p, h, now)
		for _, s := range refSections {
			out[p+" sections/"+s] = expectSection(id, p, h, s, now)
		}
		for after := range 4 {
			out[fmt.Sprintf("%s events after %d", p, after)] = expectEvents(id, p, h, after, now)
		}
	}
	return out
}

// refModelHistory builds a random history through the model alone: random
// writes (those of the differential test, erasure steps among them), each
// kept when the model accepts it, recorded at times spread over the last
// three hours so that some break-glass grants have expired.
func refModelHistory(r *rand.Rand, now time.Time, length int) refHistory {
	at := now.Add(-3 * time.Hour)
	var h refHistory
	requests := 0
	add := func(a refAppend) {
		if s := expectAppend(a, h, at); s/100 == 2 {
			requests++
			h = append(h, a.accept(h, at, fmt.Sprintf("request-%d", requests)))
		}
		at = at.Add(time.Duration(r.IntN(12)) * time.Minute)
		if at.After(now) {
			at = now
		}
	}
	for len(h) == 0 {
		add(randomWrite(r, "CaseOpened", nil))
	}
	for range length {
		add(randomWrite(r, refModelType(r), h))
	}
	return h
}

// refModelType picks an event type to attempt: those of the differential
// test, the erasure steps now and then.
func refModelType(r *rand.Rand) string {
	if r.IntN(25) == 0 {
		return pick(r, []string{"ErasureRequested", "ErasureRequested", "ErasureCancelled", "CaseErased"})
	}
	total := 0
	for _, e := range diffEventWeights {
		total += e.weight
	}
	n := r.IntN(total)
	for _, e := range diffEventWeights {
		if n -= e.weight; n < 0 {
			return e.typ
		}
	}
	panic("unreachable")
}

// TestRefModelNonInterference is the model's non-interference property: over
// random histories, for every identity, appending events that identity cannot
// read (hiddenFrom: one event, and all such candidates together) leaves every
// answer the model predicts for it, under every purpose, unchanged.
func TestRefModelNonInterference(t *testing.T) {
	const histories, candidates = 32, 10
	start := time.Now()
	now := start
	seed := uint64(start.UnixNano())
	if s := os.Getenv("LIAISON_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LIAISON_DIFF_SEED: %v", err)
		}
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 13))
	compared, hidden, failures := 0, 0, 0
	for n := range histories {
		h := refModelHistory(r, now, 4+r.IntN(36))
		// Candidates: writes the model accepts on h.
		var cands []refAppend
		for range candidates * 3 {
			if len(cands) == candidates {
				break
			}
			if a := randomWrite(r, refModelType(r), h); expectAppend(a, h, now)/100 == 2 {
				cands = append(cands, a)
			}
		}
		for _, id := range diffIdentities {
			before := modelAnswers(id, h, now)
			check := func(after refHistory, what string) {
				compared++
				if got := modelAnswers(id, after, now); !reflect.DeepEqual(before, got) {
					failures++
					if failures <= 5 {
						t.Errorf("history %d, %s, as %s/%s (%s): %s", n, what, id.Agency, id.Roles[0], id.Sub, firstChange(before, got))
					}
				}
			}
			// Each hidden candidate alone, then all of them together (each
			// accepted and hidden after the ones before it).
			batch := slices.Clone(h)
			for _, a := range cands {
				after := append(slices.Clip(h), a.accept(h, now, "request-new"))
				if !hiddenFrom(id, h, after, now) {
					continue
				}
				hidden++
				check(after, fmt.Sprintf("a hidden %s by %s (%s %v)", a.Type, a.As.Sub, after[len(h)].TLP, after[len(h)].ShareWith))
				if expectAppend(a, batch, now)/100 == 2 {
					if next := append(slices.Clip(batch), a.accept(batch, now, "request-new")); hiddenFrom(id, batch, next, now) {
						batch = next
					}
				}
			}
			if len(batch) > len(h)+1 && hiddenFrom(id, h, batch, now) {
				check(batch, fmt.Sprintf("%d hidden events together", len(batch)-len(h)))
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d comparisons changed an answer (replay with LIAISON_DIFF_SEED=%d)", failures, compared, seed)
	}
	t.Logf("model non-interference: %d histories, %d hidden events, %d readers' answer sets compared (%d answers each), in %s",
		histories, hidden, compared, len(modelAnswers(diffIdentities[0], nil, now)), time.Since(start).Round(time.Millisecond))
	if hidden < histories {
		t.Errorf("only %d hidden events over %d histories: the generator no longer exercises the property", hidden, histories)
	}
}

// firstChange describes the first answer (in key order) that differs.
func firstChange(before, after map[string]refAnswer) string {
	var keys []string
	for k := range before {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(before[k], after[k]) {
			return fmt.Sprintf("%s: before %+v, after %+v", k, before[k], after[k])
		}
	}
	return "no answer differs"
}

// ---- against the hub, in TestDifferential

// diffNICases is how many of the differential test's cases are checked for
// non-interference.
const diffNICases = 3

// diffNISample picks the cases checked for non-interference: up to
// diffNICases of those still open to appends (not erased, not closed).
func diffNISample(r *rand.Rand, built []*diffCase) []*diffCase {
	var open []*diffCase
	for _, c := range built {
		if st := c.history.state(); !st.erased && !st.closed {
			open = append(open, c)
		}
	}
	r.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	return open[:min(len(open), diffNICases)]
}

// diffNIOutcome is what the non-interference check found.
type diffNIOutcome struct {
	found    []disagreement // answers that disagree with the model (as the other reads)
	listed   []string       // lists that disagree with the model
	changed  []string       // answers changed by events their reader may not read
	appended int            // hidden events appended
	compared int            // answers compared byte for byte
	reaching int            // of which by readers that reach the case (not 404)
	lists    int            // of which lists
}

// checkNonInterference appends to each case of the sample a batch of events
// hidden from a reader picked at random (and, as the model tells, from some
// other readers too), reads the sample again as every identity for every
// purpose — comparing each answer with the model — and requires every reader
// the batches were hidden from (hiddenFrom) to get what it got before, status
// and body byte for byte: the case, the sections, the events, and the list
// when every batch was hidden from it. kept and lists are the answers read
// before the batches.
func (d *differ) checkNonInterference(t *testing.T, seed uint64, built, sample []*diffCase, kept, lists map[string]rawAnswer) diffNIOutcome {
	t.Helper()
	var out diffNIOutcome
	before := map[*diffCase]refHistory{}
	batches := map[*diffCase]string{}
	var mu sync.Mutex
	var failures []error
	for _, c := range sample {
		before[c] = slices.Clone(c.history)
	}
	parallel(len(sample), diffBuildWorkers, func(i int) {
		c := sample[i]
		r := rand.New(rand.NewPCG(seed, 1<<34+uint64(c.index)))
		found, what, err := d.appendHidden(r, c)
		mu.Lock()
		defer mu.Unlock()
		out.found = append(out.found, found...)
		out.appended += len(c.history) - len(before[c])
		batches[c] = what
		if err != nil {
			failures = append(failures, err)
		}
	})
	if len(failures) > 0 {
		t.Fatalf("appending hidden events: %v", failures[0])
	}
	// The readers whose answers must not change, by case; and those for which
	// no batch changed anything, whose lists must not change either.
	now := time.Now()
	unchanged := map[string]bool{}
	listUnchanged := map[string]bool{}
	for _, id := range diffIdentities {
		listUnchanged[id.Sub] = true
		for _, c := range sample {
			if hiddenFrom(id, before[c], c.history, now) {
				unchanged[fmt.Sprintf("%d|%s", c.index, id.Sub)] = true
			} else {
				listUnchanged[id.Sub] = false
			}
		}
	}
	after := map[string]rawAnswer{}
	out.found = append(out.found, d.readAll(sample, sample, after, &failures)...)
	if len(failures) > 0 {
		t.Fatalf("reading the sample again: %v", failures[0])
	}
	for _, c := range sample {
		for _, id := range diffIdentities {
			if !unchanged[fmt.Sprintf("%d|%s", c.index, id.Sub)] {
				continue
			}
			reaches := caseGate(id, c.history.state(), now) == 0
			d.count("reader checked for non-interference on a case")
			for _, p := range append(slices.Clone(diffPurposes), "") {
				for _, e := range diffEndpoints {
					if p == "" && e != "case" {
						continue // read without a purpose only as the case
					}
					pr := probe{As: id, Purpose: p, Get: e}
					k := readKey(c, pr)
					out.compared++
					if reaches {
						out.reaching++
					}
					if a, b := kept[k], after[k]; a.Status != b.Status || !bytes.Equal(a.Body, b.Body) {
						out.changed = append(out.changed, fmt.Sprintf("case %d after %s: %s: before %d %.300s, after %d %.300s",
							c.index, batches[c], pr, a.Status, a.Body, b.Status, b.Body))
					}
				}
			}
		}
	}
	listed, listsAfter := d.compareLists(t, built)
	out.listed = listed
	for k, a := range lists {
		sub, purpose, _ := strings.Cut(k, "|")
		if !listUnchanged[sub] {
			continue
		}
		out.compared++
		out.lists++
		if b := listsAfter[k]; a.Status != b.Status || !bytes.Equal(a.Body, b.Body) {
			out.changed = append(out.changed, fmt.Sprintf("GET /v1/cases as %s for purpose %q: before %d %.300s, after %d %.300s",
				sub, purpose, a.Status, a.Body, b.Status, b.Body))
		}
	}
	return out
}

// appendHidden appends to a case three to six events hidden from a reader
// picked among those who reach the case: random writes the model accepts and
// hiddenFrom that reader (erasure requests and cancellations among them,
// never the erasure itself), each compared with the model as it is written.
// It returns the disagreements and a description of the batch.
func (d *differ) appendHidden(r *rand.Rand, c *diffCase) ([]disagreement, string, error) {
	var readers []identity
	for _, id := range diffIdentities {
		if caseGate(id, c.history.state(), time.Now()) == 0 {
			readers = append(readers, id)
		}
	}
	if len(readers) == 0 {
		return nil, "nothing", nil
	}
	target := pick(r, readers)
	var found []disagreement
	var what []string
	want := 3 + r.IntN(4)
	for try := 0; len(what) < want && try < 400; try++ {
		typ := refModelType(r)
		if typ == "CaseErased" {
			continue
		}
		a := randomWrite(r, typ, c.history)
		if a.Expected == "stale" {
			a.Expected = ""
		}
		now := time.Now()
		if expectAppend(a, c.history, now)/100 != 2 {
			continue
		}
		next := append(slices.Clip(c.history), a.accept(c.history, now, "request-new"))
		if !hiddenFrom(target, c.history, next, now) {
			continue
		}
		n := len(c.history)
		dis, err := d.writeAndCompare(c, a)
		if err != nil {
			return found, "", err
		}
		if dis != nil {
			found = append(found, *dis)
		}
		if len(c.history) > n {
			e := c.history[n]
			what = append(what, fmt.Sprintf("%s by %s/%s %s %v", e.Type, a.As.Agency, a.As.Roles[0], e.TLP, e.ShareWith))
		}
	}
	return found, fmt.Sprintf("%d events hidden from %s (%s)", len(what), target.Sub, strings.Join(what, "; ")), nil
}
