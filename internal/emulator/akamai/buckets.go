package akamai

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Bucket is one token bucket: it holds at most Burst tokens and gains
// PerSecond tokens each second.
type Bucket struct {
	Burst     float64
	PerSecond float64
}

// Limits are Fast Purge's per-account buckets: one for requests and one per
// object type.
type Limits struct {
	Requests, URLs, CPCodes, Tags Bucket
}

// DefaultLimits are Akamai's published figures: 100 requests refilled at
// 50/s, 10,000 URLs at 200/s, 300 CP codes at 30/min, 5,000 tags at
// 500/min.
var DefaultLimits = Limits{
	Requests: Bucket{100, 50},
	URLs:     Bucket{10000, 200},
	CPCodes:  Bucket{300, 30.0 / 60},
	Tags:     Bucket{5000, 500.0 / 60},
}

func (l Limits) withDefaults() Limits {
	fill := func(b *Bucket, d Bucket) {
		if b.Burst == 0 {
			*b = d
		}
	}
	fill(&l.Requests, DefaultLimits.Requests)
	fill(&l.URLs, DefaultLimits.URLs)
	fill(&l.CPCodes, DefaultLimits.CPCodes)
	fill(&l.Tags, DefaultLimits.Tags)
	return l
}

type bucket struct {
	Bucket
	tokens float64
	at     time.Time
}

func newBuckets(l Limits) map[string]*bucket {
	return map[string]*bucket{
		"requests": {Bucket: l.Requests, tokens: l.Requests.Burst},
		"url":      {Bucket: l.URLs, tokens: l.URLs.Burst},
		"cpcode":   {Bucket: l.CPCodes, tokens: l.CPCodes.Burst},
		"tag":      {Bucket: l.Tags, tokens: l.Tags.Burst},
	}
}

func (b *bucket) refill(now time.Time) {
	if !b.at.IsZero() && now.After(b.at) {
		b.tokens = math.Min(b.Burst, b.tokens+now.Sub(b.at).Seconds()*b.PerSecond)
	}
	b.at = now
}

// objectBucketTitle names the 429 of each object bucket as Akamai does
// ("URL Rate Limit exceeded"; the tag and CP code titles are by analogy).
var objectBucketTitle = map[string]string{
	"url": "URL Rate Limit exceeded", "tag": "Tag Rate Limit exceeded", "cpcode": "CP Code Rate Limit exceeded",
}

// take spends one request token and n tokens of typ's bucket, or nothing
// when either is short, in which case it returns the 429 to send. The
// returned headers describe both buckets either way. e.mu must be held.
func (e *Emulator) take(typ string, n int) (http.Header, *reply) {
	req, obj := e.peek(typ)
	var limited *reply
	switch {
	case req.tokens < 1:
		limited = rateLimited("Rate Limit exceeded", req, 1)
	case obj.tokens < float64(n):
		limited = rateLimited(objectBucketTitle[typ], obj, n)
	default:
		req.tokens--
		obj.tokens -= float64(n)
	}
	h := bucketHeaders(req, obj)
	if limited != nil {
		limited.header = h
	}
	return h, limited
}

func rateLimited(title string, b *bucket, size int) *reply {
	rep := ccuError(http.StatusTooManyRequests, title,
		fmt.Sprintf("the request needs %d tokens and %d are available", size, int(b.tokens)))
	body := rep.body.(map[string]any)
	body["rateLimit"] = int(b.Burst)
	body["rateLimitCurrentRequestSize"] = size
	body["rateLimitRemaining"] = int(b.tokens)
	return &rep
}

// bucketHeaders describes the request bucket and one object bucket.
func bucketHeaders(req, obj *bucket) http.Header {
	return http.Header{
		"X-Ratelimit-Limit":                    {strconv.Itoa(int(req.Burst))},
		"X-Ratelimit-Remaining":                {strconv.Itoa(int(req.tokens))},
		"X-Ratelimit-Limit-Per-Second":         {fmt.Sprintf("%.2f", req.PerSecond)},
		"X-Ratelimit-Limit-Objects":            {strconv.Itoa(int(obj.Burst))},
		"X-Ratelimit-Remaining-Objects":        {strconv.Itoa(int(obj.tokens))},
		"X-Ratelimit-Limit-Per-Second-Objects": {fmt.Sprintf("%.2f", obj.PerSecond)},
	}
}

// peek refills and describes the buckets a request of typ draws on,
// spending nothing. e.mu must be held.
func (e *Emulator) peek(typ string) (req, obj *bucket) {
	now := e.opts.Now()
	req, obj = e.buckets["requests"], e.buckets[typ]
	if obj == nil {
		obj = e.buckets["url"]
	}
	req.refill(now)
	obj.refill(now)
	return req, obj
}
