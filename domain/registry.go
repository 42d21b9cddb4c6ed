package domain

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The registry of event types. Each event type is registered once, in
// events.go, with its data, its decoder and its spec; everything that is a
// list or a map of event types derives from it: EventTypes, KnownEventType,
// SectionsOf, StageOf, Sealed, OwnEndpoint, DecodeData, RehydrateData,
// DataSchema, the refusals of ParseAppendRequest and what may follow
// closure (Case.CheckAppend).

// spec is what the registry says of an event type besides its data.
type spec struct {
	// Sections are the sections the type feeds (docs/protocol.md, "Sections
	// and the events that feed them"); none for a type that no reader reads.
	Sections []Section
	// Stage is the stage the type moves a case to, "" for none
	// (docs/protocol.md, "Stages").
	Stage Stage
	// Unsealed marks a type whose data is not case content (codes and
	// references only): it is stored in clear and outlives the case's
	// erasure. The zero value seals the data, the safe side.
	Unsealed bool
	// AfterClose lets the type follow CaseClosed (Case.CheckAppend).
	AfterClose bool
	// Endpoint, for a type that is not appended through the events
	// endpoint, says where it is: the hint of ParseAppendRequest's refusal.
	Endpoint string
	// Example is a valid data object of the type with every field given (for
	// CaseOpened, the body of POST /v1/cases), naming organisations of the
	// demo directory: the documentation's example and the tests' "a valid X".
	Example string
}

// entry is one registered event type.
type entry struct {
	spec
	typ       EventType
	decode    func(*fieldReader) Data
	rehydrate func([]byte) (Data, bool)
	schema    Schema
}

// register registers event type typ, whose data is T (and T's EventType
// must say typ), read and validated by decode.
func register[T Data](typ EventType, s spec, decode func(*fieldReader) T) *entry {
	var zero T
	if got := zero.EventType(); got != typ {
		panic(fmt.Sprintf("domain: %T is registered as the data of %s, but says %s", zero, typ, got))
	}
	return &entry{
		spec:   s,
		typ:    typ,
		decode: func(r *fieldReader) Data { return decode(r) },
		rehydrate: func(b []byte) (Data, bool) {
			var v T
			if err := json.Unmarshal(b, &v); err != nil {
				return nil, false
			}
			return v, true
		},
	}
}

// eventRegistry holds the registered event types, in the contract's order.
type eventRegistry struct {
	order  []EventType
	byType map[EventType]*entry
}

// newRegistry checks the registrations and describes each type's data
// (DataSchema). A wrong registration is a defect of the build: it panics.
func newRegistry(entries ...*entry) eventRegistry {
	reg := eventRegistry{byType: make(map[EventType]*entry, len(entries))}
	for _, e := range entries {
		if _, dup := reg.byType[e.typ]; dup || e.typ == "" {
			panic(fmt.Sprintf("domain: event type %q registered twice or empty", e.typ))
		}
		if e.Stage != "" && e.Stage.Rank() < 0 {
			panic(fmt.Sprintf("domain: %s moves a case to the unknown stage %q", e.typ, e.Stage))
		}
		for _, s := range e.Sections {
			if _, ok := ParseSection(string(s)); !ok {
				panic(fmt.Sprintf("domain: %s feeds the unknown section %q", e.typ, s))
			}
		}
		e.Sections = slices.Clip(e.Sections)
		r := describer("")
		e.decode(r)
		e.schema = r.described()
		reg.order = append(reg.order, e.typ)
		reg.byType[e.typ] = e
	}
	return reg
}

// EventTypes lists every event type, in the contract's order.
var EventTypes = slices.Clone(registry.order)

// KnownEventType reports whether t is an event type of the contract.
func KnownEventType(t EventType) bool {
	_, ok := registry.byType[t]
	return ok
}

// SectionsOf returns the sections that events of type t feed (nil for none). The
// slice must not be modified.
func SectionsOf(t EventType) []Section {
	if e, ok := registry.byType[t]; ok {
		return e.Sections
	}
	return nil
}

// StageOf returns the stage an event of type t moves a case to, and false for
// a type that moves none.
func StageOf(t EventType) (Stage, bool) {
	if e, ok := registry.byType[t]; ok && e.Stage != "" {
		return e.Stage, true
	}
	return "", false
}

// Sealed reports whether the data of events of type t is case content, sealed
// under the case's key and erased with it. The erasure's own events hold codes
// and references only (the legal basis, the reference, the request id): they
// are stored unsealed, so that the register of erasures outlives the content.
// An unknown type is sealed.
func Sealed(t EventType) bool {
	e, ok := registry.byType[t]
	return !ok || !e.Unsealed
}

// OwnEndpoint says where events of type t are appended when it is not through
// the events endpoint (POST /v1/cases/{id}/events), in words ("open a case
// with POST /v1/cases"); it returns "" for a type appended there, and for an
// unknown type.
func OwnEndpoint(t EventType) string {
	if e, ok := registry.byType[t]; ok {
		return e.Endpoint
	}
	return ""
}

// Example returns a valid data object of type t with every field given (for
// CaseOpened, the body of POST /v1/cases), naming organisations of the demo
// directory, as a copy the caller may change; nil for an unknown type. Tests
// that need "a valid X" and the API's documentation take it from here.
func Example(t EventType) json.RawMessage {
	if e, ok := registry.byType[t]; ok {
		return json.RawMessage(e.Example)
	}
	return nil
}

// mayFollowClosure reports whether an event of type t may be appended to a
// closed case (the erasure's events).
func mayFollowClosure(t EventType) bool {
	e, ok := registry.byType[t]
	return ok && e.AfterClose
}

// DataSchema describes the data of events of type t as DecodeData accepts it,
// derived from the type's decoder (see Schema). It returns the zero Schema for
// an unknown type. The result is the caller's own.
func DataSchema(t EventType) Schema {
	if e, ok := registry.byType[t]; ok {
		return e.schema.clone()
	}
	return Schema{}
}

// DecodeData validates raw as the data of an event of type t, strictly: unknown
// and duplicate fields, missing required fields, wrong types, bad enum values,
// bad dates, unknown organisations and oversize values are refused. It returns
// the typed data and its canonical JSON encoding (the bytes to store), or a
// KindInvalid *Error whose Fields name every field at fault under path (e.g.
// "data.needs[0].level").
func DecodeData(t EventType, raw json.RawMessage, dir Directory, path string) (Data, []byte, error) {
	e, ok := registry.byType[t]
	if !ok {
		return nil, nil, Invalid("unknown event type", FieldError{Field: "type", Message: "is not an event type of the contract"})
	}
	var errs []FieldError
	r := readObject(raw, path, dir, &errs)
	if r == nil {
		return nil, nil, Invalid("invalid event data", errs...)
	}
	d := e.decode(r)
	r.done()
	if len(errs) > 0 {
		return nil, nil, Invalid("invalid event data", errs...)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, nil, Internal(err)
	}
	return d, b, nil
}

// RehydrateData decodes stored data of an event of type t without validating it:
// the log holds what was valid when it was written, and fields that later
// versions of the hub added are ignored. Use DecodeData for anything new. It
// returns a KindInternal error when the bytes do not decode.
func RehydrateData(t EventType, stored []byte) (Data, error) {
	e, ok := registry.byType[t]
	if !ok {
		return nil, Internal(fmt.Errorf("stored event of unknown type %q", t))
	}
	d, ok := e.rehydrate(stored)
	if !ok {
		return nil, Internal(fmt.Errorf("stored %s data does not decode", t))
	}
	return d, nil
}
