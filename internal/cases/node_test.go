package cases

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// nodeRequest is one request an origin cache node received.
type nodeRequest struct {
	At     time.Time
	Method string
	Host   string
	// URI is the request target exactly as it came on the request line.
	URI    string
	Header http.Header
}

// String is how tests compare requests: "PURGE img.example.test /image/…".
func (r nodeRequest) String() string { return r.Method + " " + r.Host + " " + r.URI }

// cacheNode stands in for origin-cache.internal, a Varnish node in front of
// the resizer: it records every request and answers 200 "Purged".
type cacheNode struct {
	URL string

	mu   sync.Mutex
	reqs []nodeRequest
}

func startCacheNode(t *testing.T) *cacheNode {
	t.Helper()
	n := &cacheNode{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.reqs = append(n.reqs, nodeRequest{At: time.Now(), Method: r.Method, Host: r.Host,
			URI: r.RequestURI, Header: r.Header.Clone()})
		n.mu.Unlock()
		_, _ = w.Write([]byte("Purged\n"))
	}))
	t.Cleanup(srv.Close)
	n.URL = srv.URL
	return n
}

func (n *cacheNode) requests() []nodeRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.reqs)
}

// received returns every request as its String, sorted.
func (n *cacheNode) received() []string {
	var out []string
	for _, r := range n.requests() {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}
