// Package fastly is a local emulator of the Fastly purge API, for tests and
// demos. It is an http.Handler: serve it with httptest (or any server bound
// to 127.0.0.1) and point the provider's base_url at it.
//
// It answers the routes imgpurge and other clients use:
//
//	POST /service/{service_id}/purge          batch of surrogate keys
//	POST /service/{service_id}/purge/{key}    one surrogate key
//	POST /service/{service_id}/purge_all      everything (hourly rate limit)
//	POST /purge/{host}/{path}                 one URL
//
// It checks Fastly-Key, validates bodies as Fastly does (at most 256 keys
// per batch, keys without spaces and at most 1,024 bytes), honours
// Fastly-Soft-Purge, counts purge_all against an hourly bucket (URL and key
// purges are not counted, as on Fastly), keeps a small cache of seeded
// objects that purges evict or mark stale, records every call, and injects
// faults on demand.
package fastly

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Defaults for Options.
const (
	APIKeyDefault          = "test-fastly-key"
	ServiceIDDefault       = "SU1Z0isxPaozGVKXdv0eY"
	MaxKeysPerCallDefault  = 256
	MaxKeyBytesDefault     = 1024
	PurgeAllPerHourDefault = 1000
)

// Options configure an Emulator. Zero fields take the defaults above.
type Options struct {
	// APIKey is the one token with purge rights.
	APIKey string
	// ReadOnlyKey, if set, is a valid token without purge scopes: 403.
	ReadOnlyKey string
	// ServiceID is the one service that exists; others are 404.
	ServiceID string
	// MaxKeysPerCall caps a batch purge (Fastly: 256).
	MaxKeysPerCall int
	// PurgeAllPerHour is the hourly bucket purge_all draws on (Fastly: 1,000
	// non-read requests per hour).
	PurgeAllPerHour int
	// Now is the emulator's clock. Default time.Now.
	Now func() time.Time
}

// Call is one request the emulator received.
type Call struct {
	// Kind is "batch", "key", "url", "purge_all" or "other".
	Kind   string
	Method string
	// Path is the request path exactly as sent, still percent-encoded.
	Path   string
	Header http.Header
	Body   []byte
	// Items are the surrogate keys named, or "host/path" for a URL purge.
	Items []string
	Soft  bool
	// Status is the answer's status; 0 when the connection was dropped or
	// the client left first.
	Status int
}

type object struct {
	keys  []string
	stale bool
}

// Emulator is a fake Fastly API. Its methods are safe for concurrent use.
type Emulator struct {
	opts   Options
	faults fault.Queue[Fault, Call]

	mu      sync.Mutex
	calls   []Call
	objects map[string]*object // by host + path
	ids     int
	window  time.Time // start of the purge_all hour
	used    int       // purge_all calls in that hour
}

// New returns an emulator with opts.
func New(opts Options) *Emulator {
	if opts.APIKey == "" {
		opts.APIKey = APIKeyDefault
	}
	if opts.ServiceID == "" {
		opts.ServiceID = ServiceIDDefault
	}
	if opts.MaxKeysPerCall == 0 {
		opts.MaxKeysPerCall = MaxKeysPerCallDefault
	}
	if opts.PurgeAllPerHour == 0 {
		opts.PurgeAllPerHour = PurgeAllPerHourDefault
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Emulator{opts: opts, objects: map[string]*object{}}
}

// Options returns the emulator's effective options.
func (e *Emulator) Options() Options { return e.opts }

// Seed caches an object at host and path (percent-encoded, as a client
// requests it) tagged with surrogate keys.
func (e *Emulator) Seed(host, path string, keys ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.objects[objectID(host, path)] = &object{keys: slices.Clone(keys)}
}

// Cached reports whether a fresh copy of host+path is held.
func (e *Emulator) Cached(host, path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.objects[objectID(host, path)]
	return o != nil && !o.stale
}

// Stale reports whether host+path is held but marked stale by a soft purge.
func (e *Emulator) Stale(host, path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.objects[objectID(host, path)]
	return o != nil && o.stale
}

// Calls returns a copy of every call received so far, in arrival order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func objectID(host, path string) string { return strings.ToLower(host) + path }

// reply is an answer before it is written.
type reply struct {
	status int
	header http.Header
	body   any
}

func apiError(status int, msg, detail string) reply {
	b := map[string]string{"msg": msg}
	if detail != "" {
		b["detail"] = detail
	}
	return reply{status: status, body: b}
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	c := parseCall(r, body)
	f := e.takeFault(c)
	if !fault.Wait(r.Context(), f.Delay, f.Hold) {
		e.record(c, 0)
		return
	}
	if f.Drop {
		e.record(c, 0)
		fault.Drop(w)
		return
	}
	var rep reply
	if f.Status != 0 {
		rep = e.faultReply(f)
	} else {
		rep = e.handle(r, &c)
	}
	rep.header = fault.AddHeader(rep.header, f.Header)
	e.record(c, rep.status)
	write(w, rep, f.Malformed)
}

func (e *Emulator) record(c Call, status int) {
	c.Status = status
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
		// Cut mid-value, as a proxy that dropped the tail would.
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

// parseCall classifies a request by its raw path, so encoded bytes in a
// purged URL are seen as the client sent them.
func parseCall(r *http.Request, body []byte) Call {
	path := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	c := Call{Kind: "other", Method: r.Method, Path: path, Header: r.Header.Clone(), Body: body,
		Soft: r.Header.Get("Fastly-Soft-Purge") == "1"}
	if rest, ok := strings.CutPrefix(r.RequestURI, "/purge/"); ok {
		// The purged URL keeps its query: it is part of the cache key.
		c.Kind, c.Items = "url", []string{rest}
		return c
	}
	_, op, ok := serviceRoute(path)
	switch {
	case !ok:
	case op == "purge_all":
		c.Kind = "purge_all"
	case op == "purge":
		c.Kind = "batch"
		c.Items = batchKeys(r.Header, body)
	case strings.HasPrefix(op, "purge/"):
		c.Kind = "key"
		if k, err := unescapeSegment(strings.TrimPrefix(op, "purge/")); err == nil {
			c.Items = []string{k}
		}
	}
	return c
}

// serviceRoute splits "/service/{sid}/{op}".
func serviceRoute(path string) (sid, op string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/service/")
	if !ok {
		return "", "", false
	}
	sid, op, ok = strings.Cut(rest, "/")
	return sid, op, ok && sid != ""
}

// batchKeys reads the keys of a batch purge from the JSON body or, without
// one, from the Surrogate-Key header. Unreadable JSON yields nil; handle
// reports it.
func batchKeys(h http.Header, body []byte) []string {
	if len(body) == 0 {
		return strings.Fields(h.Get("Surrogate-Key"))
	}
	var b struct {
		Keys []string `json:"surrogate_keys"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	return b.Keys
}

func (e *Emulator) purgeID() string {
	e.ids++
	return fmt.Sprintf("%d-%d-%d", 100+e.ids%50, e.opts.Now().Unix(), 974000+e.ids)
}
