package httpcache_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const publicHost = "img.example.test"

// fakeNode is a cache node that answers every request with status, after
// recording it.
func fakeNode(t *testing.T, status int, header http.Header) (func() []*http.Request, string) {
	t.Helper()
	var mu sync.Mutex
	var got []*http.Request
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	requests := func() []*http.Request {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	return requests, srv.URL
}

// closedNode returns the URL of a 127.0.0.1 port nothing listens on.
func closedNode(t *testing.T) string {
	t.Helper()
	return "http://" + testenv.FreeAddr(t)
}

// hangingNode accepts requests and never answers until the test ends.
func hangingNode(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Runs before srv.Close, which waits for the handlers.
	t.Cleanup(func() { close(release) })
	return srv.URL, arrived
}

func TestNodeFaults(t *testing.T) {
	t.Parallel()
	renditions := []string{"640x360.jpg", "1280x720.webp"}

	cases := []struct {
		name      string
		node      func(t *testing.T) string
		code      string
		retryable bool
		after     time.Duration
	}{
		{"ConnectionRefused", closedNode, "ConnectionRefused", true, 0},
		{"ServiceUnavailable", func(t *testing.T) string {
			_, u := fakeNode(t, 503, http.Header{"Retry-After": {"7"}})
			return u
		}, "HTTP503", true, 7 * time.Second},
		{"TooManyRequests", func(t *testing.T) string {
			_, u := fakeNode(t, 429, http.Header{"Retry-After": {"3"}})
			return u
		}, "HTTP429", true, 3 * time.Second},
		{"InternalError", func(t *testing.T) string { _, u := fakeNode(t, 500, nil); return u },
			"HTTP500", true, 0},
		{"ACLForbidden", func(t *testing.T) string { _, u := fakeNode(t, 403, nil); return u },
			"HTTP403", false, 0},
		{"ACLMethodNotAllowed", func(t *testing.T) string {
			// Varnish's synthetic answers carry Retry-After: 5 even here;
			// a refusal is not worth waiting for.
			_, u := fakeNode(t, 405, http.Header{"Retry-After": {"5"}})
			return u
		}, "HTTP405", false, 0},
		{"RedirectNotFollowed", func(t *testing.T) string {
			elsewhere, target := fakeNode(t, 200, nil)
			t.Cleanup(func() {
				if n := len(elsewhere()); n != 0 {
					t.Errorf("the redirect was followed %d times", n)
				}
			})
			_, u := fakeNode(t, 302, http.Header{"Location": {target + "/image/x"}})
			return u
		}, "HTTP302", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			node := c.node(t)
			p := onNode(t, []string{publicHost}, "", node)
			items := plan(t, p, imageA, renditions...)
			res, err := p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != c.code || pe.Retryable != c.retryable || pe.RetryAfter != c.after {
				t.Errorf("error = %s retryable=%v after=%v, want %s %v %v",
					pe.Code, pe.Retryable, pe.RetryAfter, c.code, c.retryable, c.after)
			}
			if !strings.Contains(pe.Message, node) {
				t.Errorf("message %q does not name the node", pe.Message)
			}
			if !slices.Equal(res.Remaining, items) {
				t.Errorf("Remaining = %q, want every item", res.Remaining)
			}
			n := nodes(t, res)
			if len(n) != 1 || n[0].Failed != len(items) || n[0].Error != c.code {
				t.Errorf("node results = %+v", n)
			}
		})
	}
}

// TestHangingNode: a node that never answers fails with Timeout when the
// layer's deadline passes, and the call returns then, not later.
func TestHangingNode(t *testing.T) {
	t.Parallel()
	node, _ := hangingNode(t)
	p := onNode(t, []string{publicHost}, "", node)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	res, err := p.Purge(ctx, plan(t, p, imageA, "640x360.jpg"))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Purge returned after %v, long past the 200ms deadline", took)
	}
	pe := providertest.AsError(t, err)
	if pe.Code != "Timeout" || !pe.Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v (code %s), want a retryable Timeout", err, pe.Code)
	}
	if len(res.Remaining) != 1 {
		t.Errorf("Remaining = %q", res.Remaining)
	}
}

// TestOneNodeFails: with two nodes, the healthy one's result is reported
// beside the failing one's, and the items stay because one node failed them.
func TestOneNodeFails(t *testing.T) {
	t.Parallel()
	okRequests, okNode := fakeNode(t, 200, nil)
	badNode := closedNode(t)
	p := onNode(t, []string{publicHost}, "", okNode, badNode)
	items := plan(t, p, imageA, "640x360.jpg", "1280x720.webp")

	res, err := p.Purge(context.Background(), items)
	pe := providertest.AsError(t, err)
	if pe.Code != "ConnectionRefused" || !strings.Contains(pe.Message, badNode) ||
		strings.Contains(pe.Message, okNode) {
		t.Errorf("error = %v, want ConnectionRefused naming only %s", err, badNode)
	}
	n := nodes(t, res)
	want := []struct {
		node           string
		purged, failed int
	}{{okNode, 2, 0}, {badNode, 0, 2}}
	for i, w := range want {
		if n[i].Node != w.node || n[i].Purged != w.purged || n[i].Failed != w.failed {
			t.Errorf("nodes[%d] = %+v, want %s purged %d failed %d",
				i, n[i], w.node, w.purged, w.failed)
		}
	}
	if len(okRequests()) != 2 {
		t.Errorf("healthy node got %d requests, want 2", len(okRequests()))
	}
	if !slices.Equal(res.Remaining, items) {
		t.Errorf("Remaining = %q, want both items", res.Remaining)
	}
}

// TestMixedFailures: one node refuses for good, another is briefly down.
// A retry cannot fix the refusal, so the layer's error is the refusal and
// not retryable.
func TestMixedFailures(t *testing.T) {
	t.Parallel()
	_, down := fakeNode(t, 503, http.Header{"Retry-After": {"2"}})
	_, refusing := fakeNode(t, 403, nil)
	p := onNode(t, []string{publicHost}, "", down, refusing)
	_, err := p.Purge(context.Background(), plan(t, p, imageA, "640x360.jpg"))
	pe := providertest.AsError(t, err)
	if pe.Code != "HTTP403" || pe.Retryable || pe.RetryAfter != 2*time.Second {
		t.Errorf("error = %s retryable=%v after=%v, want HTTP403, not retryable, 2s",
			pe.Code, pe.Retryable, pe.RetryAfter)
	}
	if !strings.Contains(pe.Message, "HTTP503") || !strings.Contains(pe.Message, "HTTP403") {
		t.Errorf("message %q should report both nodes", pe.Message)
	}
}

// TestPartialItems: a node that fails one item leaves exactly that item.
func TestPartialItems(t *testing.T) {
	t.Parallel()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.RequestURI, "/1280x720.webp") {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	p := onNode(t, []string{publicHost}, "", srv.URL)
	res, err := p.Purge(context.Background(), plan(t, p, imageA, "1280x720.webp", "640x360.jpg"))
	if pe := providertest.AsError(t, err); pe.Code != "HTTP502" {
		t.Errorf("code = %s", pe.Code)
	}
	if want := plan(t, p, imageA, "1280x720.webp"); !slices.Equal(res.Remaining, want) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, want)
	}
	if n := nodes(t, res)[0]; n.Purged != 1 || n.Failed != 1 {
		t.Errorf("node = %+v", n)
	}
}

// TestCanceledMidFlight: a caller that leaves while a node hangs gets
// context.Canceled back, not a node failure.
func TestCanceledMidFlight(t *testing.T) {
	t.Parallel()
	node, arrived := hangingNode(t)
	p := onNode(t, []string{publicHost}, "", node)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	res, err := p.Purge(ctx, plan(t, p, imageA, "640x360.jpg"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if pe := providertest.AsError(t, err); pe.Code != "Canceled" {
		t.Errorf("code = %s, want Canceled", pe.Code)
	}
	if len(res.Remaining) != 1 {
		t.Errorf("Remaining = %q", res.Remaining)
	}
}

// TestNotCachedStatuses: 404 and 412 to a purge mean "not held" (nginx,
// Traffic Server); to a ban or key purge, which name no object, 404 is a
// failure.
func TestNotCachedStatuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method string
		status int
		fail   bool
	}{
		{"purge", 404, false}, {"purge", 412, false}, {"nginx", 404, false}, {"nginx", 412, false},
		{"ban", 404, true}, {"xkey", 404, true},
	} {
		_, node := fakeNode(t, c.status, nil)
		p := onNode(t, []string{publicHost}, c.method, node)
		res, err := p.Purge(context.Background(), plan(t, p, imageA, "640x360.jpg"))
		if (err != nil) != c.fail {
			t.Errorf("%s answered %d: error %v, want failure %v", c.method, c.status, err, c.fail)
		}
		if !c.fail && nodes(t, res)[0].NotCached != 1 {
			t.Errorf("%s answered %d: %+v, want not_cached 1", c.method, c.status, nodes(t, res)[0])
		}
	}
}

// TestWire checks what each method puts on the wire: method, exact request
// target, Host, the ban and key headers, and the configured extra header.
func TestWire(t *testing.T) {
	t.Setenv("HTTPCACHE_TEST_TOKEN", "s3cret")
	id := "img-1"
	for _, c := range []struct {
		method, target, host, header, value string
	}{
		{"purge", "/image/img-1/caf%C3%A9%20640.jpg", publicHost, "", ""},
		{"nginx", "/purge/image/img-1/caf%C3%A9%20640.jpg", publicHost, "", ""},
		{"ban", "/", publicHost, "X-Ban-Url", `^/image/img-1/(caf%C3%A9%20640\.jpg)$`},
		{"xkey", "/", "", "Xkey-Purge", "image-img-1/caf%C3%A9%20640.jpg"},
	} {
		requests, node := fakeNode(t, 200, nil)
		p := newProvider(t, []string{publicHost}, map[string]any{"nodes": []string{node},
			"method":  c.method,
			"headers": map[string]string{"X-Purge-Token": "${HTTPCACHE_TEST_TOKEN}"}})
		if _, err := p.Purge(context.Background(), plan(t, p, id, "café 640.jpg")); err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		r := requests()[0]
		wantMethod := map[string]string{"ban": "BAN"}[c.method]
		if wantMethod == "" {
			wantMethod = "PURGE"
		}
		host := c.host
		if host == "" {
			host = strings.TrimPrefix(node, "http://")
		}
		if r.Method != wantMethod || r.RequestURI != c.target || r.Host != host {
			t.Errorf("%s: %s %s Host %s, want %s %s Host %s", c.method, r.Method, r.RequestURI,
				r.Host, wantMethod, c.target, host)
		}
		if c.header != "" && r.Header.Get(c.header) != c.value {
			t.Errorf("%s: %s = %q, want %q", c.method, c.header, r.Header.Get(c.header), c.value)
		}
		if r.Header.Get("X-Purge-Token") != "s3cret" {
			t.Errorf("%s: extra header not sent", c.method)
		}
	}
}

// TestPurgeMethodOverride: purge_method replaces PURGE.
func TestPurgeMethodOverride(t *testing.T) {
	t.Parallel()
	requests, node := fakeNode(t, 200, nil)
	p := newProvider(t, []string{publicHost}, map[string]any{"nodes": []string{node},
		"method": "nginx", "purge_method": "GET"})
	if _, err := p.Purge(context.Background(), plan(t, p, imageA, "a.jpg")); err != nil {
		t.Fatal(err)
	}
	if r := requests()[0]; r.Method != http.MethodGet {
		t.Errorf("method = %s, want GET", r.Method)
	}
}

// TestConcurrencyPerNode: no more requests in flight to one node than the
// setting allows, while every item still gets through.
func TestConcurrencyPerNode(t *testing.T) {
	t.Parallel()
	var inFlight, peak, total atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		total.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}))
	p := newProvider(t, []string{publicHost},
		map[string]any{"nodes": []string{srv.URL}, "concurrency": 3})
	var names []string
	for i := range 12 {
		names = append(names, strings.Repeat("x", i+1)+".jpg")
	}
	if _, err := p.Purge(context.Background(), plan(t, p, imageA, names...)); err != nil {
		t.Fatal(err)
	}
	if total.Load() != 12 || peak.Load() > 3 || peak.Load() < 2 {
		t.Errorf("requests %d, peak in flight %d; want 12 with at most 3 at once",
			total.Load(), peak.Load())
	}
}

// TestBadItems: items that did not come from Plan (a damaged or edited
// journal) are refused before anything is sent.
func TestBadItems(t *testing.T) {
	t.Parallel()
	requests, node := fakeNode(t, 200, nil)
	p := onNode(t, []string{publicHost}, "", node)
	for _, it := range []string{
		"PURGE img.example.test /image/x\r\nX-Injected: 1",
		"PURGE img.example.test //other.example/x",
		"PURGE img.example.test /image/x y",
		"PURGE img.example.test image/x",
		"PURGE Img.Example.Test/x /image/x",
		"BAN img.example.test .*",
		"BAN img.example.test ^/image/x/(a|b)$ && obj.http.x-host ~ .",
		`BAN img.example.test ^/image/"x`,
		"XKEY a,b",
		"XKEY a b",
		"DELETE img.example.test /image/x",
		"",
	} {
		res, err := p.Purge(context.Background(), []string{it})
		if pe := providertest.AsError(t, err); pe.Code != "BadItem" || pe.Retryable {
			t.Errorf("item %q: %v, want a BadItem failure", it, err)
		}
		if len(res.Remaining) != 1 {
			t.Errorf("item %q: Remaining = %q", it, res.Remaining)
		}
	}
	if n := len(requests()); n != 0 {
		t.Errorf("%d requests sent for bad items", n)
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	requests, node := fakeNode(t, 200, nil)
	p := onNode(t, []string{publicHost}, "", node)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Purge(ctx, plan(t, p, imageA, "a.jpg"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if len(requests()) != 0 {
		t.Error("a request was sent after cancellation")
	}
}
