package policies

import (
	"encoding/json"
	"time"
)

// breakGlassMinutesPath is where a bundle says how long a break-glass grant
// lasts (docs/protocol.md, "Break-glass").
var breakGlassMinutesPath = []string{"protocol", "break_glass", "minutes"}

// BreakGlassFor returns how long a break-glass grant lasts under the bundle
// in force (data.protocol.break_glass.minutes, which the write decision of a
// BreakGlassInvoked also gives), 0 when the bundle does not say. The
// oversight body's review of break-glass use (hub) reads it to tell when a
// grant ended.
func (a *Authorizer) BreakGlassFor() time.Duration { return a.state.Load().breakGlassFor }

// breakGlassFor reads the duration of a break-glass grant out of the bundle's
// data: a positive whole number of minutes, else 0.
func breakGlassFor(b *Bundle) time.Duration {
	var minutes int64
	switch v := b.data(breakGlassMinutesPath...).(type) {
	case json.Number:
		minutes, _ = v.Int64()
	case float64:
		if v == float64(int64(v)) {
			minutes = int64(v)
		}
	}
	if minutes <= 0 || minutes > int64(time.Duration(1<<63-1)/time.Minute) {
		return 0
	}
	return time.Duration(minutes) * time.Minute
}
