package liaison_test

// The read half of the reference model of the protocol (see refmodel_test.go):
// which case, which sections, which items, which fields a reader gets, and
// the reader's view that numbers them (issue 13 N).

import (
	"slices"
	"time"
)

// refItem is one item as the model expects a reader to see it.
type refItem struct {
	Version    int      `json:"version"`
	Type       string   `json:"type"`
	Originator string   `json:"originator"`
	TLP        string   `json:"classification"`
	ShareWith  []string `json:"share_with"` // sorted
	Redacted   []string `json:"redacted"`   // sorted
	AuthorNull bool     `json:"author_null"`
}

// refAnswer is the part of an answer that the model predicts. For a write,
// Status and (for an append's 201) Version: the writer's view version after it.
type refAnswer struct {
	Status     int       `json:"status"`
	Stage      string    `json:"stage,omitempty"`
	Version    int       `json:"version,omitempty"`
	Sections   []string  `json:"sections,omitempty"` // GET /v1/cases/{id}
	Items      []refItem `json:"items,omitempty"`    // sections and /events
	BreakGlass bool      `json:"break_glass,omitempty"`
}

// caseGate is the status of any access to a case as a whole, before purpose
// and sections: 404 for a case the reader cannot see, 410 for an erased one
// that the reader's organisation could see when it was erased, 0 when the
// reader reaches the case (interp. 1; issue 13 E).
func caseGate(id identity, st caseState, now time.Time) int {
	t := refDirectory[id.Agency]
	switch {
	case !st.exists:
		return 404
	case st.erased && slices.Contains(st.erasedFor, id.Agency):
		return 410 // gone, for those who could see it
	case st.erased:
		return 404 // everyone else: as if it never existed
	case t == oversight || t == research:
		return 404 // they never read case content, so no case exists for them
	case !profileReadable(id, st, now) && !st.hasGrant(id, now):
		return 404 // no profile, no break-glass grant: an unknown case
	}
	return 0
}

// readGate adds the purpose to caseGate (interp. 2): no purpose 400, then 404,
// 410, then 403 for a purpose outside the type's remit (an unknown purpose
// included), 0 when the reader may go on.
func readGate(id identity, purpose string, st caseState, now time.Time) int {
	if purpose == "" {
		return 400
	}
	if s := caseGate(id, st, now); s != 0 {
		return s
	}
	if !slices.Contains(refPurposes[refDirectory[id.Agency]], purpose) {
		return 403
	}
	return 0
}

// listGate is the status of GET /v1/cases before any case (0: go on): 400
// without a purpose; 403 for oversight and research, which never read case
// content, and for a purpose outside the type's remit ("any other purpose is
// refused (403)"). The list then holds the cases whose GET /v1/cases/{id} is
// 200; erased cases are never listed (README).
func listGate(id identity, purpose string) int {
	t := refDirectory[id.Agency]
	switch {
	case purpose == "":
		return 400
	case t == oversight || t == research || !slices.Contains(refPurposes[t], purpose):
		return 403
	}
	return 0
}

// profileReadable says whether the table (with consent) lets the reader read
// the profile: the test of whether a case exists for the reader.
func profileReadable(id identity, st caseState, now time.Time) bool {
	granted, _ := tableGrants(id, "profile", st, now)
	return granted
}

// tableGrants evaluates the read table's cell for the reader: whether the
// table grants the section, and whether only summary fields are shown. "own"
// and "–" cells do not grant (see sectionMode). A "t" cell reads the stage of
// the state given: for a reader, the stage of its view (issue 13 N).
func tableGrants(id identity, section string, st caseState, now time.Time) (granted, summary bool) {
	switch cell(section, refDirectory[id.Agency]) {
	case "✓":
		return true, false
	case "c":
		return st.consentCovers(id.Agency, now), false
	case "t":
		return st.fromStage("transition"), false
	case "c,sum":
		return st.consentCovers(id.Agency, now), true
	case "security-officer":
		return hasRole(id, []string{"security-officer"}), false
	}
	return false, false // "own", "–"
}

// roleCell says whether a cell names roles (the prison's security cell).
func roleCell(c string) bool {
	switch c {
	case "✓", "c", "t", "c,sum", "own", "–":
		return false
	}
	return true
}

// How a reader reads a section of a case it can see.
const (
	modeClosed     = iota // 403
	modeOwnOnly           // 200, the reader organisation's own items only
	modeGranted           // 200, the table grants the section
	modeBreakGlass        // 200, only the reader's break-glass grant opens it
)

// sectionMode decides how the reader reads a section (interp. 3 and 6).
func sectionMode(id identity, section string, st caseState, now time.Time) (mode int, summary bool) {
	c := cell(section, refDirectory[id.Agency])
	if c == "own" {
		return modeOwnOnly, false // an own cell is always readable
	}
	if granted, summary := tableGrants(id, section, st, now); granted {
		return modeGranted, summary
	}
	// Break-glass opens every section but counselling, regardless of consent,
	// stage and role. The summary restriction belongs to "sum" cells only.
	if section != "counselling" && st.hasGrant(id, now) {
		return modeBreakGlass, c == "c,sum"
	}
	// Reading back one's own items never widens a role restriction: a cell
	// that names roles stays closed to the other roles of the organisation,
	// even after it wrote there (the protocol's "Role-restricted cells and the
	// originator"; issue 13 R).
	if roleCell(c) {
		return modeClosed, false
	}
	// A section closed to the reader: its own items, once it wrote one there.
	if st.wrote[[2]string{section, id.Agency}] {
		return modeOwnOnly, false
	}
	return modeClosed, false
}

// itemVisible says whether the reader sees an event in a section read in a
// mode, and whether the break-glass grant is what made it visible (the
// protocol's "Classification"; interp. 4 and 6). An AMBER item with an empty
// share list is shared with every organisation the section grants; a RED one
// with none, with nobody but its originator (issue 13 L).
func itemVisible(id identity, e refEvent, mode int, st caseState, now time.Time) (visible, byGrant bool) {
	if mode == modeClosed {
		return false, false
	}
	if e.Org == id.Agency {
		return true, false // the originator always reads its own items
	}
	grant := st.hasGrant(id, now)
	switch mode {
	case modeOwnOnly:
		return false, false
	case modeBreakGlass:
		// Only the grant opens the section: CLEAR, GREEN and AMBER (whatever
		// its share list) items of others; never AMBER+STRICT or RED.
		switch e.TLP {
		case tlpClear, tlpGreen, tlpAmber:
			return true, true
		}
		return false, false
	}
	switch e.TLP { // modeGranted
	case tlpClear, tlpGreen:
		return true, false
	case tlpAmber:
		if len(e.ShareWith) == 0 || slices.Contains(e.ShareWith, id.Agency) {
			return true, false
		}
		return grant, grant // break-glass ignores AMBER share lists
	case tlpRed:
		return slices.Contains(e.ShareWith, id.Agency), false
	}
	return false, false // TLP:AMBER+STRICT: the originator only
}

// readerView is what a reader's answers are computed from (issue 13 N): the
// case state with the stage of the reader's view, and the view, the indices
// (in the history) of the events the reader may read, in log order. An
// event's version for this reader is its 1-based place in the view; the
// case's version is the view's length.
type readerView struct {
	st   caseState
	view []int
}

// viewFor computes a reader's view of a case it reaches (caseGate 0). The view
// is the events visible through at least one section the reader can read;
// its stage is the furthest stage its events reached, and the reader's
// stage-gated ("t") cells are decided on that stage: decide with the case's
// true stage, compute the view's stage; if lower, decide again with it, until
// it holds (issue 13 N). The stage only goes down, so this ends within as
// many rounds as there are stages.
func viewFor(id identity, h refHistory, st caseState, now time.Time) readerView {
	for {
		view := visibleEvents(id, h, st, now)
		stage := ""
		for _, i := range view {
			if s, ok := refStageOf[h[i].Type]; ok && stageRank(s) > stageRank(stage) {
				stage = s
			}
		}
		if stageRank(stage) >= stageRank(st.stage) {
			return readerView{st: st, view: view}
		}
		st.stage = stage
	}
}

// visibleEvents lists the indices of the events visible to a reader through
// at least one section it can read, decided on st.
func visibleEvents(id identity, h refHistory, st caseState, now time.Time) []int {
	var view []int
	for i, e := range h {
		for _, s := range sectionsFedBy(e.Type) {
			mode, _ := sectionMode(id, s, st, now)
			if ok, _ := itemVisible(id, e, mode, st, now); ok {
				view = append(view, i)
				break
			}
		}
	}
	return view
}

// writerVersion is a writer's view version (issue 13 N: what expected_version
// is checked against, and what an append answers): the length of its view,
// which a write computes without a purpose; 0 for a writer that does not reach
// the case (oversight and research always).
func writerVersion(id identity, h refHistory, now time.Time) int {
	st := h.state()
	if caseGate(id, st, now) != 0 {
		return 0
	}
	return len(viewFor(id, h, st, now).view)
}

// itemAs renders an event as the reader gets it: for a summary cell, others'
// risk assessments keep only the summary fields and hide their author
// (interp. 5); everything else is shown whole.
func itemAs(id identity, e refEvent, version int, summary bool) refItem {
	it := refItem{Version: version, Type: e.Type, Originator: e.Org, TLP: e.TLP,
		ShareWith: sortedCopy(e.ShareWith), Redacted: []string{}}
	if summary && e.Org != id.Agency {
		for field := range e.Data {
			if !slices.Contains(refSummaryFields, field) {
				it.Redacted = append(it.Redacted, field)
			}
		}
		slices.Sort(it.Redacted)
		it.AuthorNull = true
	}
	return it
}

// expectSection is the answer to GET /v1/cases/{id}/sections/{section}.
func expectSection(id identity, purpose string, h refHistory, section string, now time.Time) refAnswer {
	st := h.state()
	if s := readGate(id, purpose, st, now); s != 0 {
		return refAnswer{Status: s}
	}
	rv := viewFor(id, h, st, now)
	mode, summary := sectionMode(id, section, rv.st, now)
	if mode == modeClosed {
		return refAnswer{Status: 403}
	}
	ans := refAnswer{Status: 200, Stage: rv.st.stage, Version: len(rv.view), BreakGlass: mode == modeBreakGlass}
	// Every item the section shows is in the view: number it there.
	for n, i := range rv.view {
		e := h[i]
		if !slices.Contains(refFeeds[section], e.Type) {
			continue
		}
		if ok, byGrant := itemVisible(id, e, mode, rv.st, now); ok {
			ans.Items = append(ans.Items, itemAs(id, e, n+1, summary))
			ans.BreakGlass = ans.BreakGlass || byGrant
		}
	}
	return ans
}

// expectCase is the answer to GET /v1/cases/{id}: the view's stage and
// version, and the sections the reader can read (a 200 section answer), in
// protocol order.
func expectCase(id identity, purpose string, h refHistory, now time.Time) refAnswer {
	st := h.state()
	if s := readGate(id, purpose, st, now); s != 0 {
		return refAnswer{Status: s}
	}
	rv := viewFor(id, h, st, now)
	ans := refAnswer{Status: 200, Stage: rv.st.stage, Version: len(rv.view), Sections: []string{}}
	for _, s := range refSections {
		if mode, _ := sectionMode(id, s, rv.st, now); mode != modeClosed {
			ans.Sections = append(ans.Sections, s)
		}
	}
	return ans
}

// expectEvents is the answer to GET /v1/cases/{id}/events?after_version=n (0:
// none): the reader's view, each event shown as the first section (in
// protocol order) that shows it shows it (interp. 9), from view version n+1
// on (issue 13 N: after_version counts in the view).
func expectEvents(id identity, purpose string, h refHistory, after int, now time.Time) refAnswer {
	st := h.state()
	if s := readGate(id, purpose, st, now); s != 0 {
		return refAnswer{Status: s}
	}
	rv := viewFor(id, h, st, now)
	ans := refAnswer{Status: 200}
	for n, i := range rv.view {
		if n+1 <= after {
			continue
		}
		e := h[i]
		for _, s := range sectionsFedBy(e.Type) {
			mode, summary := sectionMode(id, s, rv.st, now)
			if ok, _ := itemVisible(id, e, mode, rv.st, now); ok {
				ans.Items = append(ans.Items, itemAs(id, e, n+1, summary))
				break
			}
		}
	}
	return ans
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}
