package liaison_test

// The read half of the reference model of PROTOCOL.md (see refmodel_test.go):
// which case, which sections, which items, which fields a reader gets.

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

// refAnswer is the part of an answer that the model predicts.
type refAnswer struct {
	Status     int       `json:"status"`
	Stage      string    `json:"stage,omitempty"`
	Version    int       `json:"version,omitempty"`
	Sections   []string  `json:"sections,omitempty"` // GET /v1/cases/{id}
	Items      []refItem `json:"items,omitempty"`    // sections and /events
	BreakGlass bool      `json:"break_glass,omitempty"`
}

// caseGate is the status of any access to a case as a whole, before purpose
// and sections: 404 for a case the reader cannot see, 410 for an erased one, 0
// when the reader reaches the case (interp. 1).
func caseGate(id identity, st caseState, now time.Time) int {
	t := refDirectory[id.Agency]
	switch {
	case !st.exists:
		return 404
	case t == oversight || t == research:
		return 404 // they never read case content, so no case exists for them
	case st.erased:
		return 410 // erased: gone for every type that reads case content
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
// and "–" cells do not grant (see sectionMode).
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

// How a reader reads a section of a case it can see.
const (
	modeClosed     = iota // 403
	modeOwnOnly           // 200, the reader organisation's own items only
	modeGranted           // 200, the table grants the section
	modeBreakGlass        // 200, only the reader's break-glass grant opens it
)

// sectionMode decides how the reader reads a section (interp. 3 and 6).
func sectionMode(id identity, section string, st caseState, now time.Time) (mode int, summary bool) {
	if cell(section, refDirectory[id.Agency]) == "own" {
		return modeOwnOnly, false // an own cell is always readable
	}
	if granted, summary := tableGrants(id, section, st, now); granted {
		return modeGranted, summary
	}
	// Break-glass opens every section but counselling, regardless of consent,
	// stage and role. The summary restriction belongs to "sum" cells only.
	if section != "counselling" && st.hasGrant(id, now) {
		return modeBreakGlass, cell(section, refDirectory[id.Agency]) == "c,sum"
	}
	// A section closed to the reader: its own items, once it wrote one there.
	if st.writers[section][id.Agency] {
		return modeOwnOnly, false
	}
	return modeClosed, false
}

// itemVisible says whether the reader sees an event in a section read in a
// mode, and whether the break-glass grant is what made it visible
// (PROTOCOL.md "Classification"; interp. 4 and 6).
func itemVisible(id identity, e refEvent, mode int, st caseState, now time.Time) (visible, byGrant bool) {
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
	mode, summary := sectionMode(id, section, st, now)
	if mode == modeClosed {
		return refAnswer{Status: 403}
	}
	ans := refAnswer{Status: 200, Stage: st.stage, Version: len(h), BreakGlass: mode == modeBreakGlass}
	for i, e := range h {
		if !slices.Contains(refFeeds[section], e.Type) {
			continue
		}
		if ok, byGrant := itemVisible(id, e, mode, st, now); ok {
			ans.Items = append(ans.Items, itemAs(id, e, i+1, summary))
			ans.BreakGlass = ans.BreakGlass || byGrant
		}
	}
	return ans
}

// expectCase is the answer to GET /v1/cases/{id}: the sections the reader can
// read (a 200 section answer), in protocol order.
func expectCase(id identity, purpose string, h refHistory, now time.Time) refAnswer {
	st := h.state()
	if s := readGate(id, purpose, st, now); s != 0 {
		return refAnswer{Status: s}
	}
	ans := refAnswer{Status: 200, Stage: st.stage, Version: len(h), Sections: []string{}}
	for _, s := range refSections {
		if mode, _ := sectionMode(id, s, st, now); mode != modeClosed {
			ans.Sections = append(ans.Sections, s)
		}
	}
	return ans
}

// expectEvents is the answer to GET /v1/cases/{id}/events: every event visible
// through at least one section the reader can read, in version order, each
// shown as the first section (in protocol order) that shows it shows it
// (interp. 9).
func expectEvents(id identity, purpose string, h refHistory, now time.Time) refAnswer {
	st := h.state()
	if s := readGate(id, purpose, st, now); s != 0 {
		return refAnswer{Status: s}
	}
	ans := refAnswer{Status: 200}
	for i, e := range h {
		for _, s := range sectionsFedBy(e.Type) {
			mode, summary := sectionMode(id, s, st, now)
			if ok, _ := itemVisible(id, e, mode, st, now); ok && mode != modeClosed {
				ans.Items = append(ans.Items, itemAs(id, e, i+1, summary))
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
