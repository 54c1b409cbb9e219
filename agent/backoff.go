package agent

import (
	"math/rand/v2"
	"time"
)

// backoff returns how long to wait before trying again after failures
// consecutive failures: base doubled for each failure after the first, capped
// at limit, then spread by up to a quarter either way so that many payments
// held back by the same outage do not all come back at the same instant.
func backoff(base, limit time.Duration, failures int, r *rand.Rand) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if d <= 0 {
		return 0
	}
	spread := int64(d / 4)
	if spread > 0 {
		d += time.Duration(r.Int64N(2*spread+1) - spread)
	}
	return d
}
