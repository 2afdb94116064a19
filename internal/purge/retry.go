package purge

import (
	"math/rand/v2"
	"time"
)

// Retry defaults, used when a RetryPolicy field is zero.
const (
	RetryBaseDefault        = 100 * time.Millisecond
	RetryMaxDelayDefault    = 5 * time.Second
	RetryMaxAttemptsDefault = 3
)

// RetryPolicy is the one retry policy every provider call goes through:
// exponential backoff with full jitter, a provider's Retry-After honoured, and
// never past the caller's deadline.
type RetryPolicy struct {
	// Base is the first backoff; each later one doubles. Default 100ms.
	Base time.Duration
	// MaxDelay caps one backoff. Default 5s.
	MaxDelay time.Duration
	// MaxAttempts bounds the calls made within one request. Default 3.
	MaxAttempts int
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = RetryBaseDefault
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = RetryMaxDelayDefault
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = RetryMaxAttemptsDefault
	}
	return p
}

// Delay returns how long to wait before attempt n+1 after attempt n (from 1)
// failed with e. A provider's Retry-After wins over a shorter backoff.
func (p RetryPolicy) Delay(n int, e *Error) time.Duration {
	p = p.withDefaults()
	ceiling := p.Base << min(n-1, 20)
	if ceiling > p.MaxDelay || ceiling <= 0 {
		ceiling = p.MaxDelay
	}
	// Full jitter spreads retries of many purges that failed together.
	d := time.Duration(rand.Int64N(int64(ceiling)) + 1)
	if e != nil && e.RetryAfter > d {
		d = e.RetryAfter
	}
	return d
}
