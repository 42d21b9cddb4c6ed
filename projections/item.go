package projections

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liaison-hub/liaison/domain"
)

// Item is the envelope of one event, without its data: 48 bytes and no
// pointers, so that a million of them cost 46 MiB that the garbage collector
// does not scan (docs/targets.md, P8). Its strings are kept once for the whole
// process in intern tables and read through its methods; they never change.
type Item struct {
	// ID is the event's id (a UUID).
	ID [16]byte
	// Version is the event's version in its case (Items[i] has version i+1).
	Version uint64

	at         int64  // RecordedAt, Unix nanoseconds
	typ, class uint16 // in kinds
	originator uint32 // in names
	author     uint32 // in names
	share      uint32 // in shareLists
}

// Type returns the event's type.
func (it *Item) Type() domain.EventType { return domain.EventType(kinds.get(uint32(it.typ))) }

// RecordedAt returns when the log committed the event (UTC).
func (it *Item) RecordedAt() time.Time { return time.Unix(0, it.at).UTC() }

// Originator returns the organisation that wrote the event.
func (it *Item) Originator() string { return names.get(it.originator) }

// Author returns the subject of the user who wrote the event.
func (it *Item) Author() string { return names.get(it.author) }

// Classification returns the event's TLP classification.
func (it *Item) Classification() domain.TLP { return domain.TLP(kinds.get(uint32(it.class))) }

// ShareWith returns the organisations the event is explicitly shared with, or
// nil. The slice is shared by every item with the same list: do not modify it
// (appending to it copies).
func (it *Item) ShareWith() []string {
	if it.share == 0 {
		return nil
	}
	l := lists.get(it.share)
	return l[:len(l):len(l)]
}

// Intern tables, shared by every Projector of the process: entries are added,
// never removed (the values are organisations, user subjects, event types,
// classifications and share lists, of which there are few).
var (
	kinds = newTable[string]() // event types and classifications (uint16)
	names = newTable[string]() // originators and authors
	lists = newTable[[]string]()
)

// table is an append-only list of values, found by key under a lock when
// added and read by index without one.
type table[V any] struct {
	mu   sync.Mutex
	keys map[string]uint32
	vals atomic.Pointer[[]V] // index 0 is the zero value
}

func newTable[V any]() *table[V] {
	t := &table[V]{keys: map[string]uint32{}}
	vals := make([]V, 1, 64)
	t.vals.Store(&vals)
	return t
}

// get returns the value at index i, which add returned. An item's index was
// stored before its view was published, so every reader of the item sees a
// snapshot that holds it.
func (t *table[V]) get(i uint32) V { return (*t.vals.Load())[i] }

// add returns the index of key, adding it with the value made by mk if it is
// new. Readers holding an older snapshot never look past its length, so the
// append may write into the spare capacity they share.
func (t *table[V]) add(key string, mk func() V) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.keys[key]; ok {
		return i
	}
	vals := append(*t.vals.Load(), mk())
	i := uint32(len(vals) - 1)
	t.keys[strings.Clone(key)] = i
	t.vals.Store(&vals)
	return i
}

// maxKinds is how many event types and classifications an Item can refer to.
const maxKinds = 1 << 16

// symbols is a decoding goroutine's own cache in front of the intern tables,
// so that finding a known string takes a map look-up without locking or
// allocating.
type symbols struct {
	kinds, names, lists map[string]uint32
	key                 []byte
}

func newSymbols() *symbols {
	return &symbols{kinds: map[string]uint32{}, names: map[string]uint32{}, lists: map[string]uint32{}}
}

func (s *symbols) kind(b []byte) (uint16, bool) {
	i, ok := s.kinds[string(b)]
	if !ok {
		str := string(b)
		i = kinds.add(str, func() string { return str })
		s.kinds[str] = i
	}
	return uint16(i), i < maxKinds
}

func (s *symbols) kindOf(str string) (uint16, bool) {
	i, ok := s.kinds[str]
	if !ok {
		i = kinds.add(str, func() string { return str })
		s.kinds[str] = i
	}
	return uint16(i), i < maxKinds
}

func (s *symbols) name(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	i, ok := s.names[string(b)]
	if !ok {
		str := string(b)
		i = names.add(str, func() string { return str })
		s.names[str] = i
	}
	return i
}

// list interns a share list: one slice per distinct list.
func (s *symbols) list(l [][]byte) uint32 {
	if len(l) == 0 {
		return 0
	}
	s.key = s.key[:0]
	for _, b := range l {
		s.key = append(s.key, b...)
		s.key = append(s.key, 0)
	}
	i, ok := s.lists[string(s.key)]
	if !ok {
		key := string(s.key)
		i = lists.add(key, func() []string {
			out := make([]string, len(l))
			for k, b := range l {
				out[k] = names.get(s.name(b))
			}
			return out
		})
		s.lists[key] = i
	}
	return i
}
