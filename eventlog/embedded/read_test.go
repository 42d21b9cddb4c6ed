package embedded_test

import (
	"testing"

	"github.com/liaison-hub/liaison/eventlog"
)

// TestReadAllAfterAPositionJustBeforeAnEvent: ReadAll yields every event
// after its position in the log's whole order, Commit then Prepare, so a
// position just before an event's ({i, i-1}) yields that event too.
func TestReadAllAfterAPositionJustBeforeAnEvent(t *testing.T) {
	s := openStore(t, t.TempDir())
	mustAppend(t, s, "a", -1, event("1"))
	second := mustAppend(t, s, "b", -1, event("2")).Position
	mustAppend(t, s, "a", 1, event("3"))
	count := func(after eventlog.Position) int {
		n := 0
		for _, err := range s.ReadAll(t.Context(), after) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if n := count(second); n != 1 {
		t.Errorf("after the second event: %d events, want 1", n)
	}
	if n := count(eventlog.Position{Commit: second.Commit, Prepare: second.Prepare - 1}); n != 2 {
		t.Errorf("just before the second event: %d events, want 2 (it and the third)", n)
	}
}
