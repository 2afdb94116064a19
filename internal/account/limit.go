package account

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Limited holds calls to a provider account to a token bucket, so imgpurge
// does not cause the 429s it would then have to retry. A call that splits
// into several API calls takes one token per API call.
type Limited struct {
	inner   purge.Provider
	limiter *rate.Limiter
	perCall int
	// OnWait, when set, is told of each call the bucket held, and whether
	// it was refused because the wait would outlast the caller's deadline.
	OnWait func(d time.Duration, refused bool)
}

// NewLimited wraps p with a bucket refilled at perSecond tokens a second,
// holding at most burst. perCall is the provider's items per API call.
func NewLimited(p purge.Provider, perSecond float64, burst, perCall int) *Limited {
	return Share(p, NewBucket(perSecond, burst), perCall)
}

// NewBucket is an account's token bucket, for Share.
func NewBucket(perSecond float64, burst int) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// Share holds p to a bucket other providers of the same account share.
func Share(p purge.Provider, bucket *rate.Limiter, perCall int) *Limited {
	return &Limited{inner: p, limiter: bucket, perCall: max(perCall, 1)}
}

// Plan implements purge.Provider.
func (l *Limited) Plan(t purge.Target) ([]string, error) { return l.inner.Plan(t) }

// Purge implements purge.Provider. When the wait would outlast ctx's
// deadline it fails at once with a retryable error that says how long to
// wait, so the journal, not the request, does the waiting.
func (l *Limited) Purge(ctx context.Context, items []string) (purge.Result, error) {
	n := min((len(items)+l.perCall-1)/l.perCall, l.limiter.Burst())
	r := l.limiter.ReserveN(time.Now(), max(n, 1))
	delay := r.Delay()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		r.Cancel()
		if l.OnWait != nil {
			l.OnWait(delay, true)
		}
		return purge.Result{Remaining: items}, &purge.Error{Code: "RateLimited", Retryable: true,
			RetryAfter: delay, Message: fmt.Sprintf("account rate limit: next call in %s", delay.Round(time.Millisecond))}
	}
	if delay > 0 {
		if l.OnWait != nil {
			l.OnWait(delay, false)
		}
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			r.Cancel()
			return purge.Result{Remaining: items}, ctx.Err()
		}
	}
	return l.inner.Purge(ctx, items)
}

// Waits reports whether a call made now would wait; for metrics.
func (l *Limited) Waits() bool { return l.limiter.Tokens() < 1 }
