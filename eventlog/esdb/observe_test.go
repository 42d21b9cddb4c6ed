package esdb

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

// TestObserveKeepsALossAgainstAnEarlierCall: a call in flight when the
// cluster went away that ends well just after does not clear the loss (the
// hub's readiness flapped back to ready on one, and a healthcheck passed
// with the cluster down); a call started after the loss does.
func TestObserveKeepsALossAgainstAnEarlierCall(t *testing.T) {
	l := &Log{log: slog.New(slog.DiscardHandler)}
	before := time.Now()
	time.Sleep(time.Millisecond)
	l.observe(time.Now(), errors.New("unavailable"))
	lost := l.LostSince()
	if lost.IsZero() {
		t.Fatal("a failed call did not mark the cluster lost")
	}
	l.observe(before, nil)
	if l.LostSince() != lost {
		t.Fatalf("a call started before the loss cleared it: LostSince %v, want %v", l.LostSince(), lost)
	}
	l.observe(time.Now(), errors.New("unavailable again"))
	if l.LostSince() != lost {
		t.Fatalf("a second failure moved the loss from %v to %v", lost, l.LostSince())
	}
	time.Sleep(time.Millisecond)
	l.observe(time.Now(), nil)
	if !l.LostSince().IsZero() {
		t.Fatalf("a call started after the loss did not clear it: LostSince %v", l.LostSince())
	}
}
