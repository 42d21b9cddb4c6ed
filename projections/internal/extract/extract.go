// Package extract reads the few fields of an event's data that the
// projections need (docs/targets.md, P6).
//
// The aggregate and the statistics read a few fields of a few event types
// (Reads). Data reads just those from the stored canonical JSON,
// without reflection, and gives the same values as domain.RehydrateData
// followed by dropping the other fields (TestExtractMatchesRehydrate,
// FuzzExtract). It reads only what it fully understands: any other form (an
// escape in a kept string or a key, a key in upper case or not ASCII, a
// repeated key, a value of the wrong type, a field of a form it does not
// read, invalid JSON) makes it give up, and the caller decodes with
// domain.RehydrateData, which then decides.
//
// Which types and fields the projections keep is written here (keeps);
// which fields the data has, and their forms, come from the domain's
// registry (domain.DataSchema).
package extract

import (
	"strconv"
	"unicode/utf8"

	"github.com/liaison-hub/liaison/domain"
)

// fieldKind is the JSON form of a field of an event's data, as Data reads
// it.
type fieldKind uint8

const (
	kString  fieldKind = iota
	kBool              // *bool or bool
	kInt               // *int
	kStrings           // []string
	kFlags             // an object of optional booleans (*Reintegration)
	kOther             // any other form: Data gives up when it is present
)

// field is one field of an event type's data: its JSON name, its kind, and
// where Data keeps it (slot < 0: checked, not kept); for kFlags, its members.
type field struct {
	name    string
	kind    fieldKind
	slot    int8
	members []field
}

// keeps names the types whose data the projections read (the aggregate or
// the statistics) and, of each, the fields they keep, with where Data keeps
// them: str[slot] for a string, flags[slot] for a boolean; strs and reint
// for the one list and object of booleans kept. The values are built from them in
// Data. Every other field of the data is read and checked, not kept: that
// list comes from the type's schema (domain.DataSchema, derived from its
// decoder), so that a field the data gains is checked (a value of the wrong
// type noticed) without an edit here.
var keeps = map[domain.EventType]map[string]int8{
	domain.CaseOpened:           {"target_group": 0, "gender": 1, "regime": 2, "programme": 3, "subject_ref": 4, "participation": 5},
	domain.ConsentGiven:         {"organisations": 0, "expires_at": 0},
	domain.ConsentWithdrawn:     {"organisations": 0, "all": 0},
	domain.ReleaseScheduled:     {"release_date": 0},
	domain.Released:             {"released_at": 0},
	domain.BreakGlassInvoked:    {"expires_at": 0},
	domain.InterventionRecorded: {"practice_code": 0},
	domain.OutcomeRecorded: {"reintegration": 0, "recidivism": 0, "follow_up_at": 1,
		"heavy_psychological_support": 0, "citizenship_lost": 1, "no_support_after_release": 2, "deceased": 3, "lost_to_follow_up": 4},
	// The statistics follow the detention path (docs/api.md, "Statistics").
	domain.ParticipationChanged: {"participation": 0},
	domain.Transferred:          {"regime": 0},
	// The register of erasures keeps every field of the erasure's events.
	domain.ErasureRequested: {"legal_basis": 0, "reference": 1, "expires_at": 2},
	domain.ErasureCancelled: {"request_id": 0},
	domain.CaseErased:       {"legal_basis": 0, "reference": 1, "request_id": 2},
}

// flagSlots says where Data keeps each member of a kept object of booleans
// (OutcomeData.Reintegration); other members are checked, not kept.
var flagSlots = map[string]int8{"housing": 0, "employment": 1, "social_network": 2, "education": 3, "family": 4}

// schemas lists every field of the data of the types in keeps, derived once
// from their schemas. A type whose fields Data cannot keep as keeps says is
// left out (Data then always gives up on it; TestEveryReadTypeHasAFastPath
// fails).
var schemas = deriveSchemas()

func deriveSchemas() map[domain.EventType][]field {
	out := make(map[domain.EventType][]field, len(keeps))
	for t, keep := range keeps {
		if fields, ok := fieldsOf(domain.DataSchema(t), keep); ok {
			out[t] = fields
		}
	}
	return out
}

// fieldsOf lists the fields of data of schema s, keeping those of keep; false
// when Data cannot keep them so (a kept field missing or of a form it does
// not keep, two kept in one place, too many fields to tell repeats).
func fieldsOf(s domain.Schema, keep map[string]int8) ([]field, bool) {
	if len(s.Properties) > 64 {
		return nil, false
	}
	var fields []field
	used := map[[2]int]bool{}
	for _, p := range s.Properties {
		f := field{name: p.Name, kind: kindOf(p.Schema), slot: -1}
		if slot, ok := keep[p.Name]; ok {
			f.slot = slot
			where := [2]int{int(f.kind), int(slot)}
			if used[where] || slot < 0 || f.kind == kString && int(slot) >= len(kept{}.str) || f.kind == kBool && int(slot) >= len(kept{}.flags) || f.kind == kInt || f.kind == kOther || f.kind != kString && f.kind != kBool && slot != 0 {
				return nil, false
			}
			used[where] = true
		}
		for _, m := range p.Schema.Properties {
			if f.kind != kFlags {
				break
			}
			slot, ok := flagSlots[m.Name]
			if !ok {
				slot = -1
			}
			f.members = append(f.members, field{name: m.Name, kind: kBool, slot: slot})
		}
		fields = append(fields, f)
	}
	if len(used) != len(keep) {
		return nil, false
	}
	return fields, true
}

// kindOf returns the kind of a field of schema s.
func kindOf(s domain.Schema) fieldKind {
	switch s.Type {
	case "string":
		return kString
	case "boolean":
		return kBool
	case "integer":
		return kInt
	case "array":
		if s.Items != nil && s.Items.Type == "string" {
			return kStrings
		}
	case "object":
		if s.Values != nil {
			return kOther
		}
		for _, m := range s.Properties {
			if m.Schema.Type != "boolean" {
				return kOther
			}
		}
		return kFlags
	}
	return kOther
}

// kept is what Data keeps of one event's data.
type kept struct {
	str   [6]string
	strs  []string
	flags [5]*bool
	reint *domain.Reintegration
}

// Reads reports whether the projections read the data of events of type t
// (the aggregate or the statistics do); the data of the others stays sealed
// during projection.
func Reads(t domain.EventType) bool {
	_, ok := keeps[t]
	return ok
}

// Data returns the fields of data b of an event of type t that the aggregate
// and the statistics read (the other fields zero), and false when it cannot
// tell (see the package documentation) or t is not one it reads.
func Data(t domain.EventType, b []byte, strs *Strings) (domain.Data, bool) {
	fields, ok := schemas[t]
	if !ok {
		return nil, false
	}
	s := scanner{b: b, strs: strs}
	var k kept
	s.ws()
	if !s.object(fields, func(f *field) bool { return s.keep(f, &k) }) {
		return nil, false
	}
	if s.ws(); s.i != len(s.b) {
		return nil, false
	}
	switch t {
	case domain.CaseOpened:
		return domain.CaseOpenedData{TargetGroup: k.str[0], Gender: k.str[1], Regime: k.str[2], Programme: k.str[3], SubjectRef: k.str[4], Participation: k.str[5]}, true
	case domain.ConsentGiven:
		return domain.ConsentGivenData{Organisations: k.strs, ExpiresAt: k.str[0]}, true
	case domain.ConsentWithdrawn:
		return domain.ConsentWithdrawnData{Organisations: k.strs, All: k.flags[0] != nil && *k.flags[0]}, true
	case domain.ReleaseScheduled:
		return domain.ReleaseScheduledData{ReleaseDate: k.str[0]}, true
	case domain.Released:
		return domain.ReleasedData{ReleasedAt: k.str[0]}, true
	case domain.BreakGlassInvoked:
		return domain.BreakGlassData{ExpiresAt: k.str[0]}, true
	case domain.InterventionRecorded:
		return domain.InterventionData{PracticeCode: k.str[0]}, true
	case domain.OutcomeRecorded:
		return domain.OutcomeData{
			Reintegration: k.reint, Recidivism: k.str[0], FollowUpAt: k.str[1],
			HeavyPsychologicalSupport: k.flags[0], CitizenshipLost: k.flags[1], NoSupportAfterRelease: k.flags[2],
			Deceased: k.flags[3], LostToFollowUp: k.flags[4],
		}, true
	case domain.ParticipationChanged:
		return domain.ParticipationChangedData{Participation: k.str[0]}, true
	case domain.Transferred:
		return domain.TransferredData{Regime: k.str[0]}, true
	case domain.ErasureRequested:
		return domain.ErasureRequestedData{LegalBasis: k.str[0], Reference: k.str[1], ExpiresAt: k.str[2]}, true
	case domain.ErasureCancelled:
		return domain.ErasureCancelledData{RequestID: k.str[0]}, true
	case domain.CaseErased:
		return domain.CaseErasedData{LegalBasis: k.str[0], Reference: k.str[1], RequestID: k.str[2]}, true
	}
	return nil, false
}

// Strings shares the strings kept from event data (codes, dates) within one
// decoding goroutine; it forgets them all when it holds too many.
type Strings struct{ m map[string]string }

func (s *Strings) get(b []byte) string {
	if v, ok := s.m[string(b)]; ok {
		return v
	}
	v := string(b)
	if s.m == nil || len(s.m) >= 4096 {
		s.m = make(map[string]string, 256)
	}
	s.m[v] = v
	return v
}

// scanner reads JSON from b at i.
type scanner struct {
	b     []byte
	i     int
	depth int
	strs  *Strings
}

// maxDepth bounds the nesting of skipped values; deeper data is left to
// domain.RehydrateData.
const maxDepth = 64

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads an object whose known fields are fields: for each, value is
// called with the scanner at its value, and must read it; other members are
// skipped. A repeated known field, or a key that is escaped or not plain
// lower-case ASCII (encoding/json matches keys regardless of case), fails.
func (s *scanner) object(fields []field, value func(*field) bool) bool {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	var seen uint64
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		key, plain, ok := s.str()
		if !ok || !plain || !lowerASCII(key) {
			return false
		}
		if !s.colon() {
			return false
		}
		f := -1
		for n := range fields {
			if fields[n].name == string(key) {
				f = n
				break
			}
		}
		if f >= 0 {
			if seen&(1<<f) != 0 || !value(&fields[f]) {
				return false
			}
			seen |= 1 << f
		} else if !s.skip() {
			return false
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

func lowerASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// keep reads the value of field f into k, as encoding/json would set the
// field: null leaves a string or a bool as it is and sets a slice or a pointer
// to nil.
func (s *scanner) keep(f *field, k *kept) bool {
	null := s.lit("null")
	switch f.kind {
	case kString:
		if null {
			return true
		}
		if f.slot < 0 {
			_, _, ok := s.str()
			return ok
		}
		v, ok := s.keptStr()
		k.str[f.slot] = v
		return ok
	case kBool:
		if null {
			return true
		}
		v, ok := s.boolean()
		if f.slot >= 0 {
			k.flags[f.slot] = &v
		}
		return ok
	case kInt:
		return null || s.integer()
	case kStrings:
		if f.slot < 0 {
			return null || s.stringList(nil)
		}
		if null {
			k.strs = nil
			return true
		}
		return s.stringList(&k.strs)
	case kFlags:
		if null {
			if f.slot >= 0 {
				k.reint = nil
			}
			return true
		}
		var r domain.Reintegration
		flags := [5]**bool{&r.Housing, &r.Employment, &r.SocialNetwork, &r.Education, &r.Family}
		s.depth++
		ok := s.object(f.members, func(m *field) bool {
			if s.lit("null") {
				if m.slot >= 0 {
					*flags[m.slot] = nil
				}
				return true
			}
			v, ok := s.boolean()
			if m.slot >= 0 {
				*flags[m.slot] = &v
			}
			return ok
		})
		s.depth--
		if f.slot >= 0 {
			k.reint = &r
		}
		return ok
	}
	return null // kOther: only an absent value is understood
}

// keptStr reads a string that is kept: without escapes and valid UTF-8
// (encoding/json replaces invalid bytes; then the slow path does).
func (s *scanner) keptStr() (string, bool) {
	v, plain, ok := s.str()
	if !ok || !plain || !utf8.Valid(v) {
		return "", false
	}
	return s.strs.get(v), true
}

// stringList reads an array of strings into out, or only checks it when out
// is nil.
func (s *scanner) stringList(out *[]string) bool {
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	l := []string{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		if out != nil {
			*out = l
		}
		return true
	}
	for {
		if out == nil {
			if _, _, ok := s.str(); !ok {
				return false
			}
		} else {
			v, ok := s.keptStr()
			if !ok {
				return false
			}
			l = append(l, v)
		}
		if more, ok := s.next(']'); !ok {
			return false
		} else if !more {
			if out != nil {
				*out = l
			}
			return true
		}
	}
}

// colon reads the colon between a key and its value, and the white space
// around it.
func (s *scanner) colon() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false
	}
	s.i++
	s.ws()
	return true
}

// next reads what follows an element of an object or array that ends with
// end: a comma (more: another element follows), or end (the container is
// read). ok is false for anything else.
func (s *scanner) next(end byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		s.ws()
		return true, true
	case end:
		s.i++
		return false, true
	}
	return false, false
}

func (s *scanner) boolean() (bool, bool) {
	if s.lit("true") {
		return true, true
	}
	return false, s.lit("false")
}

// integer reads a number that encoding/json stores in an int: an integer
// literal in range.
func (s *scanner) integer() bool {
	start := s.i
	if !s.number() {
		return false
	}
	_, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return err == nil
}

// lit reads the literal word if it is next.
func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// str reads a string and returns its raw contents, and whether it has no
// escape (then the contents are the value).
func (s *scanner) str() (v []byte, plain, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return nil, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		default:
			s.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number reads a JSON number.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return true
}

// skip reads any JSON value.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{' || c == '[':
		if s.depth >= maxDepth {
			return false
		}
		s.depth++
		defer func() { s.depth-- }()
		return s.skipContainer(c)
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		return s.number()
	}
}

func (s *scanner) skipContainer(open byte) bool {
	end := byte('}')
	if open == '[' {
		end = ']'
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return true
	}
	for {
		if open == '{' {
			if _, _, ok := s.str(); !ok || !s.colon() {
				return false
			}
		}
		if !s.skip() {
			return false
		}
		if more, ok := s.next(end); !more {
			return ok
		}
	}
}
