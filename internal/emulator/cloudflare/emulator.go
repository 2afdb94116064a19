package cloudflare

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Defaults of a zero Options.
const (
	DefaultZoneID       = "023e105f4ecef8ad9ca31a8372d0c353"
	DefaultZone         = "example.test"
	DefaultToken        = "test-token"
	FilesPerCallDefault = 30
	// FilesPerCallEnterprise is the URLs per call of Enterprise zones.
	FilesPerCallEnterprise = 500
	ItemsPerCallDefault    = 100
)

// maxBody bounds a request body; 500 URLs of 2 KiB fit with room to spare.
const maxBody = 4 << 20

// Options configure an Emulator. The zero value serves DefaultZone under
// DefaultZoneID to DefaultToken, with Enterprise's buckets and 30 URLs per
// call.
type Options struct {
	// Zones maps zone ids (32 hex characters) to zone apex names. Default
	// {DefaultZoneID: DefaultZone}.
	Zones map[string]string
	// Tokens are the API tokens accepted as "Authorization: Bearer".
	// Default [DefaultToken] when Keys is empty too.
	Tokens []string
	// Keys maps account e-mail addresses to global API keys, accepted as
	// X-Auth-Email with X-Auth-Key.
	Keys map[string]string
	// Plan sets the account's token buckets, and on PlanEnterprise the
	// default FilesPerCall of 500. Left empty, the buckets are Enterprise's,
	// which no ordinary test reaches, and FilesPerCall stays 30.
	Plan Plan
	// Limits, when set, replaces the plan's buckets.
	Limits *Limits
	// FilesPerCall caps the URLs of one call. Default 30, or 500 on
	// PlanEnterprise: the documentation table of 2025 says 100 on Free, Pro
	// and Business, but those zones are still refused past 30
	// (cloudflare-docs issue 21338).
	FilesPerCall int
	// ItemsPerCall caps the tags, hosts or prefixes of one call. Default 100.
	ItemsPerCall int
	// RefusedStatus is the status of a body the API refuses (no kind, not
	// an array, too many items, an invalid item). Default 400; 200 answers
	// such bodies with success:false, as some fakes in the cases do.
	RefusedStatus int
	// Now is the clock of the token buckets. Default time.Now; Advance
	// moves it forward.
	Now func() time.Time
}

// Call is one request the emulator received, and how it answered.
type Call struct {
	// At is the arrival time, on the emulator's clock.
	At     time.Time
	Method string
	Path   string
	ZoneID string
	// Auth is "token", "key" or "" for the credentials presented.
	Auth string
	Body []byte
	// Kind and Items are the parsed purge, when the body could be read.
	Kind  string
	Items []string
	// Status, Success and Codes describe the answer; Faulted marks an
	// answer that came from an injected fault, and Dropped a connection
	// closed without one.
	Status  int
	Success bool
	Codes   []int
	PurgeID string
	Faulted bool
	Dropped bool
}

// Emulator is the Cloudflare purge API. Use it as the handler of an
// httptest server.
type Emulator struct {
	opts   Options
	faults fault.Queue[Fault, []string] // matched by the items a call names

	mu     sync.Mutex
	offset time.Duration
	calls  []Call
	cache  map[string]*object
	bulk   *bucket
	urls   *bucket
}

// New returns an emulator with opts, defaults applied.
func New(opts Options) *Emulator {
	if len(opts.Zones) == 0 {
		opts.Zones = map[string]string{DefaultZoneID: DefaultZone}
	}
	if len(opts.Tokens) == 0 && len(opts.Keys) == 0 {
		opts.Tokens = []string{DefaultToken}
	}
	if opts.FilesPerCall == 0 {
		opts.FilesPerCall = FilesPerCallDefault
		if opts.Plan == PlanEnterprise {
			opts.FilesPerCall = FilesPerCallEnterprise
		}
	}
	if opts.Plan == "" {
		opts.Plan = PlanEnterprise
	}
	if opts.ItemsPerCall == 0 {
		opts.ItemsPerCall = ItemsPerCallDefault
	}
	if opts.RefusedStatus == 0 {
		opts.RefusedStatus = http.StatusBadRequest
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lim := PlanLimits(opts.Plan)
	if opts.Limits != nil {
		lim = *opts.Limits
	}
	return &Emulator{
		opts:  opts,
		cache: map[string]*object{},
		bulk:  newBucket(lim.BulkRate, lim.BulkBurst),
		urls:  newBucket(lim.URLRate, lim.URLBurst),
	}
}

// Advance moves the emulator's clock forward, refilling the buckets.
func (e *Emulator) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
}

func (e *Emulator) now() time.Time { return e.opts.Now().Add(e.offset) }

// Calls returns every request received so far, oldest first. A call still
// being answered is listed with Status 0.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Purged returns the items of every successful call, in arrival order.
func (e *Emulator) Purged() []string {
	var items []string
	for _, c := range e.Calls() {
		if c.Success {
			items = append(items, c.Items...)
		}
	}
	return items
}

var routeRE = regexp.MustCompile(`^/client/v4/zones/([^/]+)/purge_cache/?$`)
var zoneIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return
	}
	call := &Call{Method: r.Method, Path: r.URL.Path, Body: body, Auth: authScheme(r)}
	// The call is listed from its arrival, so a test holding it sees it,
	// and its outcome is recorded before the answer leaves, so a client
	// that has its answer finds the call complete.
	at := e.arrive(call)
	record := func() { e.record(at, call) }
	defer record()
	w := &answerWriter{ResponseWriter: rw, before: record}
	if len(body) > maxBody {
		e.refuse(w, call, &apiError{http.StatusRequestEntityTooLarge, CodeInvalidItem, "request body too large"})
		return
	}
	m := routeRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		e.refuse(w, call, &apiError{http.StatusNotFound, CodeNoRoute, "No route for that URI"})
		return
	}
	call.ZoneID = m[1]
	if r.Method != http.MethodPost {
		e.refuse(w, call, &apiError{http.StatusMethodNotAllowed, CodeMethod, "Method not allowed for this route"})
		return
	}
	req, perr := parseBody(body, e.opts.RefusedStatus)
	call.Kind, call.Items = req.kind, req.items
	if f, ok := e.faults.Take(req.items); ok && e.applyFault(w, r, call, &f) {
		return
	}
	if aerr := e.admit(r, call.ZoneID); aerr != nil {
		e.refuse(w, call, aerr)
		return
	}
	if perr == nil {
		perr = e.checkRequest(req, e.opts.Zones[call.ZoneID])
	}
	if perr != nil {
		e.refuse(w, call, perr)
		return
	}
	e.purge(w, call, req)
}

// applyFault plays f and reports whether it answered the call.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, call *Call, f *Fault) bool {
	call.Faulted = true
	if !f.hold(r) {
		call.Dropped = true
		return true
	}
	if f.Drop {
		call.Dropped = true
		fault.Drop(w)
		return true
	}
	if !f.answers() {
		call.Faulted = false
		return false
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	call.Status = status
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return true
	}
	var errs []responseInfo
	if f.Code != 0 || f.Message != "" {
		errs = append(errs, responseInfo{Code: f.Code, Message: f.Message})
		call.Codes = []int{f.Code}
	}
	writeEnvelope(w, status, false, errs, nil)
	return true
}

// admit checks the credentials and the zone.
func (e *Emulator) admit(r *http.Request, zoneID string) *apiError {
	authz, email, key := r.Header.Get("Authorization"), r.Header.Get("X-Auth-Email"), r.Header.Get("X-Auth-Key")
	switch {
	case authz != "":
		token, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || token == "" {
			return &apiError{http.StatusBadRequest, CodeBadHeaders, "Invalid request headers"}
		}
		if !slices.Contains(e.opts.Tokens, token) {
			return &apiError{http.StatusForbidden, CodeAuthentication, "Authentication error"}
		}
	case email != "" || key != "":
		if email == "" || key == "" {
			return &apiError{http.StatusBadRequest, CodeBadHeaders, "Invalid request headers"}
		}
		if want, ok := e.opts.Keys[email]; !ok || want != key {
			return &apiError{http.StatusForbidden, CodeAuthentication, "Authentication error"}
		}
	default:
		return &apiError{http.StatusBadRequest, CodeMissingAuth,
			"Missing X-Auth-Key, X-Auth-Email or Authorization headers"}
	}
	if !zoneIDRE.MatchString(zoneID) {
		return &apiError{http.StatusBadRequest, CodeBadZoneID, fmt.Sprintf(
			"Could not route to /zones/%s/purge_cache, perhaps your object identifier is invalid?", zoneID)}
	}
	if _, ok := e.opts.Zones[zoneID]; !ok {
		// A zone the credentials cannot reach looks the same as one that
		// does not exist.
		return &apiError{http.StatusForbidden, CodeAuthentication, "Authentication error"}
	}
	return nil
}

func (e *Emulator) checkRequest(req purgeRequest, zone string) *apiError {
	limit := e.opts.ItemsPerCall
	if req.kind == KindFiles {
		limit = e.opts.FilesPerCall
	}
	if len(req.items) > limit {
		return &apiError{e.opts.RefusedStatus, CodeTooManyItems, fmt.Sprintf(
			"Too many %s in one request: %d, at most %d allowed", req.kind, len(req.items), limit)}
	}
	return checkItems(req, zone, e.opts.RefusedStatus)
}

// purge takes tokens from the account's bucket, evicts and answers.
func (e *Emulator) purge(w http.ResponseWriter, call *Call, req purgeRequest) {
	e.mu.Lock()
	b, n := e.bulk, 1.0
	if req.kind == KindFiles {
		b, n = e.urls, float64(len(req.items))
	}
	ok, wait := b.take(e.now(), n)
	setRateHeaders(w, b, wait)
	if !ok {
		e.mu.Unlock()
		w.Header().Set("Retry-After", fmt.Sprint(ceilSeconds(wait)))
		e.refuse(w, call, &apiError{http.StatusTooManyRequests, CodeRateLimited,
			"Rate limit exceeded for cache purge; retry after the time in Retry-After"})
		return
	}
	e.evict(e.opts.Zones[call.ZoneID], req)
	e.mu.Unlock()

	call.PurgeID = newID()
	call.Status, call.Success = http.StatusOK, true
	writeEnvelope(w, http.StatusOK, true, nil, map[string]string{"id": call.PurgeID})
}

// setRateHeaders writes the Ratelimit headers Cloudflare has sent on every
// REST response since 2025-09-03: what is left and when it is full again,
// and the bucket's size and refill window. e.mu is held.
func setRateHeaders(w http.ResponseWriter, b *bucket, wait time.Duration) {
	reset := max(b.untilFull(), wait)
	w.Header().Set("Ratelimit", fmt.Sprintf(`"default";r=%d;t=%d`, int64(b.tokens), ceilSeconds(reset)))
	w.Header().Set("Ratelimit-Policy", fmt.Sprintf(`"burst";q=%d;w=%d`, int64(b.capacity), ceilSeconds(b.window())))
}

func (e *Emulator) refuse(w http.ResponseWriter, call *Call, aerr *apiError) {
	call.Status, call.Codes = aerr.status, []int{aerr.code}
	writeEnvelope(w, aerr.status, false, []responseInfo{{Code: aerr.code, Message: aerr.message}}, nil)
}

// answerWriter runs before once, as the answer starts or the connection is
// taken over.
type answerWriter struct {
	http.ResponseWriter
	before  func()
	started bool
}

func (w *answerWriter) start() {
	if !w.started {
		w.started = true
		w.before()
	}
}

func (w *answerWriter) WriteHeader(status int) {
	w.start()
	w.ResponseWriter.WriteHeader(status)
}

func (w *answerWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

func (w *answerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.start()
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be taken over")
	}
	return hj.Hijack()
}

func (e *Emulator) arrive(call *Call) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	call.At = e.now()
	e.calls = append(e.calls, *call)
	return len(e.calls) - 1
}

func (e *Emulator) record(at int, call *Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[at] = *call
}

type responseInfo struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeEnvelope(w http.ResponseWriter, status int, success bool, errs []responseInfo, result any) {
	if errs == nil {
		errs = []responseInfo{}
	}
	body, _ := json.Marshal(struct {
		Success  bool           `json:"success"`
		Errors   []responseInfo `json:"errors"`
		Messages []responseInfo `json:"messages"`
		Result   any            `json:"result"`
	}{success, errs, []responseInfo{}, result})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cf-Ray", newID()[:16]+"-EMU")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func authScheme(r *http.Request) string {
	switch {
	case r.Header.Get("Authorization") != "":
		return "token"
	case r.Header.Get("X-Auth-Key") != "":
		return "key"
	}
	return ""
}

// newID returns 32 hex characters, the form of Cloudflare's purge ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
