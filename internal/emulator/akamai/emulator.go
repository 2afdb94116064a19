// Package akamai is a local emulator of Akamai's Fast Purge API (CCU v3) for
// tests and demos. It is an http.Handler: serve it with httptest (or any
// server bound to 127.0.0.1) and point the provider's host at it with scheme
// http.
//
// It answers POST /ccu/v3/{invalidate|delete}/{url|tag|cpcode}[/{staging|production}]
// and, like the real API:
//
//   - requires an EG1-HMAC-SHA256 Authorization header and verifies its
//     signature with the client secret, its tokens, its timestamp (against
//     the emulator's clock) and that its nonce is not reused;
//   - refuses bodies over 50,000 bytes with 413, objects of another type than
//     the route's, relative URLs, wildcards and malformed tags with 400;
//   - draws on four token buckets (requests, URLs, CP codes, tags) that
//     refill on its clock, answering 429 with the X-Ratelimit-* headers and
//     the rateLimit fields when one is short, without spending tokens;
//   - answers 201 with purgeId, supportId and estimatedSeconds 5, and errors
//     as problem JSON with supportId, httpStatus, title, detail, describedBy.
//
// It keeps a cache of seeded objects per network that invalidations mark
// stale and deletions evict, records every call, and injects faults.
package akamai

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Defaults for Options. The secret is a test value, never a real credential.
const (
	ClientTokenDefault     = "akab-test-client-token-0000000000000000"
	ClientSecretDefault    = "dGVzdC1jbGllbnQtc2VjcmV0LWZvci1pbWdwdXJnZQ=="
	AccessTokenDefault     = "akab-test-access-token-0000000000000000"
	MaxBodyDefault         = 131072
	MaxClockSkewDefault    = 2 * time.Minute
	MaxRequestBytesDefault = 50000
)

// Options configure an Emulator. Zero fields take the defaults above.
type Options struct {
	// ClientToken, ClientSecret and AccessToken are the one valid set of
	// EdgeGrid credentials.
	ClientToken, ClientSecret, AccessToken string
	// MaxBody is how many body bytes a signature covers.
	MaxBody int
	// HeadersToSign lists the headers clients must sign, in order.
	HeadersToSign []string
	// MaxClockSkew bounds how far a request's timestamp may be from Now.
	MaxClockSkew time.Duration
	// MaxRequestBytes is the body limit (Akamai: 50,000 bytes).
	MaxRequestBytes int
	// Limits are the token buckets; zero buckets take Akamai's published
	// sizes (see DefaultLimits).
	Limits Limits
	// Now is the emulator's clock, for buckets, timestamps and nonces.
	// Default time.Now.
	Now func() time.Time
}

// Call is one request the emulator received.
type Call struct {
	Method string
	// Path is the request path as sent.
	Path   string
	Header http.Header
	Body   []byte
	// Action, Type and Network come from the route; Network defaults to
	// production when the route leaves it out.
	Action, Type, Network string
	// Objects are the body's objects; CP codes are written in decimal.
	Objects []string
	// Status is the answer's status; 0 when the connection was dropped or
	// the client left first. Title is the problem title of an error.
	Status int
	Title  string
}

type object struct {
	tags  []string
	stale bool
}

// Emulator is a fake Fast Purge API. Its methods are safe for concurrent
// use.
type Emulator struct {
	opts   Options
	faults fault.Queue[Fault, Call]

	mu      sync.Mutex
	calls   []Call
	cache   map[string]map[string]*object // network → object key → object
	buckets map[string]*bucket            // "requests", "url", "tag", "cpcode"
	nonces  map[string]time.Time
	ids     int
}

// New returns an emulator with opts.
func New(opts Options) *Emulator {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&opts.ClientToken, ClientTokenDefault)
	def(&opts.ClientSecret, ClientSecretDefault)
	def(&opts.AccessToken, AccessTokenDefault)
	if opts.MaxBody == 0 {
		opts.MaxBody = MaxBodyDefault
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = MaxClockSkewDefault
	}
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = MaxRequestBytesDefault
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Limits = opts.Limits.withDefaults()
	return &Emulator{
		opts:    opts,
		cache:   map[string]map[string]*object{"production": {}, "staging": {}},
		buckets: newBuckets(opts.Limits),
		nonces:  map[string]time.Time{},
	}
}

// Options returns the emulator's effective options.
func (e *Emulator) Options() Options { return e.opts }

// Seed caches the object at rawURL on network ("production" or "staging"),
// tagged with cache tags.
func (e *Emulator) Seed(network, rawURL string, tags ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cache[network][objectKey(rawURL)] = &object{tags: slices.Clone(tags)}
}

// Cached reports whether a fresh copy of rawURL is held on network.
func (e *Emulator) Cached(network, rawURL string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.cache[network][objectKey(rawURL)]
	return o != nil && !o.stale
}

// Stale reports whether rawURL is held on network but was invalidated.
func (e *Emulator) Stale(network, rawURL string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.cache[network][objectKey(rawURL)]
	return o != nil && o.stale
}

// Calls returns a copy of every call received so far, in arrival order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// objectKey drops the scheme and folds the host's case: a purge by either
// scheme clears the object, and paths stay case-sensitive and encoded.
func objectKey(rawURL string) string {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		rest = rawURL
	}
	host, path, _ := strings.Cut(rest, "/")
	return strings.ToLower(host) + "/" + path
}

// reply is an answer before it is written.
type reply struct {
	status int
	header http.Header
	body   any
	// contentType defaults to application/json.
	contentType string
	title       string
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read past the limit so an oversized body is measured, not cut.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	c := parseCall(r, body)
	f := e.takeFault(c)
	if !fault.Wait(r.Context(), f.Delay, f.Hold) {
		e.record(c, reply{})
		return
	}
	if f.Drop {
		e.record(c, reply{})
		fault.Drop(w)
		return
	}
	var rep reply
	if f.Status != 0 {
		rep = e.faultReply(f, c)
	} else {
		rep = e.handle(r, &c)
	}
	rep.header = fault.AddHeader(rep.header, f.Header)
	e.record(c, rep)
	write(w, rep, f.Malformed)
}

func (e *Emulator) record(c Call, rep reply) {
	c.Status, c.Title = rep.status, rep.title
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}

func write(w http.ResponseWriter, rep reply, malformed bool) {
	for k, v := range rep.header {
		w.Header()[k] = v
	}
	b, _ := json.Marshal(rep.body)
	if malformed {
		b = b[:len(b)/2]
	}
	ct := rep.contentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}
