package api

import (
	"strconv"
	"sync"

	"golang.org/x/time/rate"

	"github.com/liaison-hub/liaison/domain"
)

// limiter limits each identity (organisation and subject) to a request rate,
// with a burst. A zero rate means no limit.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

const maxLimitedIdentities = 100_000

func newLimiter(perSecond float64, burst int) *limiter {
	if burst <= 0 {
		burst = max(1, int(2*perSecond))
	}
	return &limiter{rate: rate.Limit(perSecond), burst: burst, by: map[string]*rate.Limiter{}}
}

// allow reports whether the identity (a subject of an issuer, in an
// organisation) may make one more request now.
func (l *limiter) allow(issuer, agency, sub string) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	// Length-prefixed: no two identities share a key.
	key := strconv.Itoa(len(issuer)) + ":" + issuer + strconv.Itoa(len(agency)) + ":" + agency + sub
	l.mu.Lock()
	lim := l.by[key]
	if lim == nil {
		if len(l.by) >= maxLimitedIdentities {
			l.by = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.by[key] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}

var errTooMany = &domain.Error{Kind: domain.KindTooMany, Message: "this identity exceeds its request rate; slow down"}
