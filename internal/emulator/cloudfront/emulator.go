package cloudfront

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Test credentials and distribution accepted when Options leaves them out.
// They are not real AWS credentials.
const (
	TestAccessKeyID     = "AKIAEMULATOR00000000"
	TestSecretAccessKey = "emulator-secret-key-not-for-aws-0000000000"
	TestDistribution    = "EDFDVBD6EXAMPLE"
)

// CloudFront's limits, as documented (InvalidationLimits.html).
const (
	// MaxInProgressPaths is the number of exact paths that may be in
	// progress per distribution.
	MaxInProgressPaths = 3000
	// MaxInProgressWildcards is the number of wildcard paths that may be in
	// progress per distribution, counted apart from exact ones.
	MaxInProgressWildcards = 15
	// MaxPathLength is the longest path accepted, in bytes.
	MaxPathLength = 4000
)

// Defaults for Options fields left zero.
const (
	RegionDefault        = "us-east-1"
	CompleteAfterDefault = 20 * time.Second
	MaxSkewDefault       = 15 * time.Minute
)

// ConflictMode is how a reused CallerReference with different paths fails.
type ConflictMode int

const (
	// ConflictAlreadyExists answers 409 InvalidationBatchAlreadyExists, as
	// the API reference documents.
	ConflictAlreadyExists ConflictMode = iota
	// ConflictInvalidArgument answers 400 InvalidArgument, "Your request
	// contains a caller reference that was used for a previous invalidation
	// batch for the same distribution.", as reported in the field
	// (aws-cdk issue 3878).
	ConflictInvalidArgument
)

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Credentials maps access key ids to secret keys. Default: the Test*
	// pair.
	Credentials map[string]string
	// Region is the signing region required in the credential scope.
	// Default us-east-1, which CloudFront always uses.
	Region string
	// Distributions are the distribution ids that exist. Default
	// TestDistribution.
	Distributions []string
	// Conflict picks how a reused CallerReference with other paths fails.
	Conflict ConflictMode
	// CompleteAfter is how long, on the emulator's clock, an invalidation
	// stays InProgress. Default 20s (CloudFront reports under 25 s at P95).
	CompleteAfter time.Duration
	// Now is the base clock; Advance adds to it. Default time.Now.
	Now func() time.Time
	// Rate and Burst, when Rate > 0, limit API calls with a token bucket on
	// the emulator's clock; a call over it gets 400 Throttling. CloudFront
	// publishes no rate, and users report throttling after 6 or 7 quick
	// calls, so Burst 6 and a Rate of a few per second is a faithful choice.
	Rate  rate.Limit
	Burst int
	// MaxSkew bounds the difference between X-Amz-Date and the wall clock.
	// Default 15 minutes; negative turns the check off.
	MaxSkew time.Duration
}

// Emulator is a CloudFront invalidation API. Use New.
type Emulator struct {
	opts    Options
	mux     *http.ServeMux
	limiter *rate.Limiter
	faults  fault.Queue[Fault, struct{}] // every call matches

	mu      sync.Mutex
	offset  time.Duration
	dists   map[string]*distribution
	calls   []Call
	failing map[string]string // path → error code
}

type distribution struct {
	invalidations []*Invalidation
	byRef         map[string]*Invalidation
	cache         map[string]bool
}

// Invalidation is one accepted invalidation batch.
type Invalidation struct {
	ID              string
	Distribution    string
	CallerReference string
	Paths           []string
	Created         time.Time
	// CompleteAt is when the emulator's clock makes it Completed.
	CompleteAt time.Time
}

func (inv *Invalidation) status(now time.Time) string {
	if now.Before(inv.CompleteAt) {
		return "InProgress"
	}
	return "Completed"
}

// Call is one API request as the emulator received and answered it.
type Call struct {
	Operation       string // CreateInvalidation, GetInvalidation, ListInvalidations
	Distribution    string
	AccessKeyID     string
	CallerReference string
	Paths           []string
	Body            []byte
	// Status is the HTTP status answered; 0 when the connection was dropped.
	Status int
	// Code is the error code answered, "" on success.
	Code string
	// InvalidationID is the invalidation created or returned, if any.
	InvalidationID string
	// Duplicate is true when a reused CallerReference returned an existing
	// invalidation instead of creating one.
	Duplicate bool
}

// New returns an emulator ready to serve.
func New(opts Options) *Emulator {
	if len(opts.Credentials) == 0 {
		opts.Credentials = map[string]string{TestAccessKeyID: TestSecretAccessKey}
	}
	if opts.Region == "" {
		opts.Region = RegionDefault
	}
	if len(opts.Distributions) == 0 {
		opts.Distributions = []string{TestDistribution}
	}
	if opts.CompleteAfter == 0 {
		opts.CompleteAfter = CompleteAfterDefault
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = MaxSkewDefault
	}
	e := &Emulator{opts: opts, dists: map[string]*distribution{}, failing: map[string]string{}}
	for _, id := range opts.Distributions {
		e.dists[id] = &distribution{byRef: map[string]*Invalidation{}, cache: map[string]bool{}}
	}
	if opts.Rate > 0 {
		e.limiter = rate.NewLimiter(opts.Rate, max(opts.Burst, 1))
	}
	e.routes()
	return e
}

func (e *Emulator) routes() {
	const base = "/2020-05-31/distribution/{dist}/invalidation"
	e.mux = http.NewServeMux()
	e.mux.HandleFunc("POST "+base, e.create)
	e.mux.HandleFunc("GET "+base+"/{inv}", e.get)
	e.mux.HandleFunc("GET "+base, e.list)
	e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "InvalidAction",
			"The requested operation does not exist in this emulator.")
	})
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Now returns the emulator's clock.
func (e *Emulator) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now()
}

func (e *Emulator) now() time.Time { return e.opts.Now().Add(e.offset) }

// Advance moves the emulator's clock forward, completing the invalidations
// whose time has come.
func (e *Emulator) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
}

// Seed makes the edge cache of distribution dist hold the given request
// paths, written as viewers request them (percent-encoded).
func (e *Emulator) Seed(dist string, paths ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.mustDist(dist)
	for _, p := range paths {
		d.cache[p] = true
	}
}

// Held reports whether the edge cache still holds path.
func (e *Emulator) Held(dist, path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mustDist(dist).cache[path]
}

func (e *Emulator) mustDist(dist string) *distribution {
	d, ok := e.dists[dist]
	if !ok {
		panic("cloudfront emulator: unknown distribution " + dist)
	}
	return d
}

// Calls returns every request received so far, in order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Invalidations returns the invalidations created on dist, oldest first.
func (e *Emulator) Invalidations(dist string) []Invalidation {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Invalidation
	for _, inv := range e.mustDist(dist).invalidations {
		out = append(out, *inv)
	}
	return out
}

// Status returns the status of invalidation id on dist, "" if unknown.
func (e *Emulator) Status(dist, id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, inv := range e.mustDist(dist).invalidations {
		if inv.ID == id {
			return inv.status(e.now())
		}
	}
	return ""
}

// InProgress returns the exact and wildcard paths in progress on dist.
func (e *Emulator) InProgress(dist string) (paths, wildcards int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inProgress(e.mustDist(dist))
}

func (e *Emulator) inProgress(d *distribution) (paths, wildcards int) {
	now := e.now()
	for _, inv := range d.invalidations {
		if inv.status(now) != "InProgress" {
			continue
		}
		p, w := countPaths(inv.Paths)
		paths, wildcards = paths+p, wildcards+w
	}
	return paths, wildcards
}

func countPaths(paths []string) (exact, wildcards int) {
	for _, p := range paths {
		if isWildcard(p) {
			wildcards++
		} else {
			exact++
		}
	}
	return exact, wildcards
}

func isWildcard(p string) bool { return len(p) > 0 && p[len(p)-1] == '*' }

func (e *Emulator) record(c Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}
