package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProbeHeader marks a request sent only to learn whether a cache holds an
// object. The origin answers it with Cache-Control: no-store, so a probe
// that misses does not put the object back into the cache it is checking.
const ProbeHeader = "X-Testenv-Probe"

// OriginOptions shape the test origin's answers.
type OriginOptions struct {
	// MaxAge is the Cache-Control max-age of renditions. Default 1h.
	MaxAge time.Duration
	// Header adds response headers for a rendition, such as xkey. The id and
	// rendition are decoded from the request path.
	Header func(id, rendition string) http.Header
}

// Origin stands in for the resizer behind a cache: it answers
// GET /image/{id}/{rendition} with a cacheable body and counts, per host and
// raw request URI, the requests that reach it.
type Origin struct {
	URL  string
	Port int

	opts OriginOptions
	mu   sync.Mutex
	hits map[string]int
}

// NewOrigin starts an origin on 127.0.0.1, stopped when the test ends.
func NewOrigin(t testing.TB, opts OriginOptions) *Origin {
	t.Helper()
	if opts.MaxAge <= 0 {
		opts.MaxAge = time.Hour
	}
	o := &Origin{opts: opts, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	o.URL = srv.URL
	o.Port, _ = strconv.Atoi(u.Port())
	return o
}

func (o *Origin) serve(w http.ResponseWriter, r *http.Request) {
	id, rendition, ok := splitImagePath(r.URL.Path)
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		w.Header().Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	n := o.count(r.Host, r.RequestURI)
	if o.opts.Header != nil {
		for k, v := range o.opts.Header(id, rendition) {
			w.Header()[k] = v
		}
	}
	cc := fmt.Sprintf("public, max-age=%d", int(o.opts.MaxAge.Seconds()))
	if r.Header.Get(ProbeHeader) != "" {
		cc = "no-store"
	}
	w.Header().Set("Cache-Control", cc)
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = fmt.Fprintf(w, "rendition %s of %s, fetch %d\n", rendition, id, n)
}

func splitImagePath(p string) (id, rendition string, ok bool) {
	rest, found := strings.CutPrefix(p, "/image/")
	if !found {
		return "", "", false
	}
	id, rendition, found = strings.Cut(rest, "/")
	return id, rendition, found && id != "" && rendition != "" && !strings.Contains(rendition, "/")
}

func (o *Origin) count(host, uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := strings.ToLower(host) + " " + uri
	o.hits[k]++
	return o.hits[k]
}

// Hits returns how many requests for host and the raw request URI reached
// the origin.
func (o *Origin) Hits(host, uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[strings.ToLower(host)+" "+uri]
}
