package cloudflare

import (
	"math"
	"time"
)

// Plan is a Cloudflare plan; it sets the account's purge token buckets.
type Plan string

// Plans, with the limits Cloudflare published on 2025-04-01.
const (
	PlanFree       Plan = "free"
	PlanPro        Plan = "pro"
	PlanBusiness   Plan = "business"
	PlanEnterprise Plan = "enterprise"
)

// Limits are an account's purge token buckets.
type Limits struct {
	// BulkRate and BulkBurst bound tag, host, prefix and everything purges,
	// in requests per second and bucket size.
	BulkRate  float64
	BulkBurst float64
	// URLRate and URLBurst bound purges by URL, counted in URLs.
	URLRate  float64
	URLBurst float64
}

// PlanLimits returns the published buckets of a plan; an unknown plan gets
// Enterprise's. The URL bucket's size is not published: it is taken to be
// one second's worth of its rate.
func PlanLimits(p Plan) Limits {
	switch p {
	case PlanFree:
		return Limits{BulkRate: 5.0 / 60, BulkBurst: 25, URLRate: 800, URLBurst: 800}
	case PlanPro:
		return Limits{BulkRate: 5, BulkBurst: 25, URLRate: 1500, URLBurst: 1500}
	case PlanBusiness:
		return Limits{BulkRate: 10, BulkBurst: 50, URLRate: 1500, URLBurst: 1500}
	default:
		return Limits{BulkRate: 50, BulkBurst: 500, URLRate: 3000, URLBurst: 3000}
	}
}

// bucket is a token bucket on the emulator's clock. A refused take uses no
// tokens, as Cloudflare documents for its purge buckets.
type bucket struct {
	rate, capacity float64
	tokens         float64
	last           time.Time
}

func newBucket(rate, capacity float64) *bucket {
	return &bucket{rate: rate, capacity: capacity, tokens: capacity}
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
}

// take removes n tokens, or reports how long until n tokens are there. A
// request larger than the bucket is let through once the bucket is full,
// so it is slowed down rather than refused for ever.
func (b *bucket) take(now time.Time, n float64) (bool, time.Duration) {
	b.refill(now)
	n = math.Min(n, b.capacity)
	if b.tokens >= n {
		b.tokens -= n
		return true, 0
	}
	return false, time.Duration((n - b.tokens) / b.rate * float64(time.Second))
}

// untilFull is how long the bucket takes to refill completely.
func (b *bucket) untilFull() time.Duration {
	return time.Duration((b.capacity - b.tokens) / b.rate * float64(time.Second))
}

// window is the time an empty bucket takes to fill, the policy's window.
func (b *bucket) window() time.Duration {
	return time.Duration(b.capacity / b.rate * float64(time.Second))
}

// ceilSeconds rounds up to whole seconds, as Retry-After is written.
func ceilSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	return max(s, 1)
}
