package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/testenv"
	"github.com/imgpurge/imgpurge/providers/httpcache"
	"go.yaml.in/yaml/v3"
)

const (
	imageA = providertest.ImageA
	imageB = providertest.ImageB
)

// newProvider builds a layer from settings as they would be written in the
// YAML file, for the given public hosts.
func newProvider(t *testing.T, hosts []string, settings map[string]any) *httpcache.Provider {
	t.Helper()
	p, err := build(hosts, settings)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.(*httpcache.Provider).Close() })
	return p.(*httpcache.Provider)
}

func build(hosts []string, settings map[string]any) (purge.Provider, error) {
	raw, err := yaml.Marshal(settings)
	if err != nil {
		return nil, err
	}
	decode, err := providertest.Decoder(string(raw))
	if err != nil {
		return nil, err
	}
	return httpcache.New(context.Background(), purge.LayerSpec{
		Datastore: "media", Layer: "origin", Tier: 1, PublicHosts: hosts, Decode: decode,
	})
}

func plan(t *testing.T, p purge.Provider, id string, renditions ...string) []string {
	t.Helper()
	items, err := p.Plan(purge.Target{ImageID: id, Renditions: renditions})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

func nodes(t *testing.T, res purge.Result) []httpcache.NodeResult {
	t.Helper()
	n, ok := res.Detail["nodes"].([]httpcache.NodeResult)
	if !ok {
		t.Fatalf("Detail[nodes] = %#v", res.Detail["nodes"])
	}
	return n
}

// newServer starts an httptest server on 127.0.0.1, closed when the test
// ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// bed is a real cache in front of the test origin, shared by the subtests
// of one test; each subtest gets its own public host, so what one seeds is
// invisible to the others.
type bed struct {
	origin *testenv.Origin
	cache  string // the cache's base URL
	nginx  bool
	seq    atomic.Int64
	client *http.Client
}

func newBed(t *testing.T, origin *testenv.Origin, cacheURL string, nginx bool) *bed {
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	t.Cleanup(c.CloseIdleConnections)
	return &bed{origin: origin, cache: cacheURL, nginx: nginx, client: c}
}

func varnishBed(t *testing.T) *bed {
	t.Helper()
	o := testenv.NewOrigin(t, testenv.OriginOptions{Header: func(id, r string) http.Header {
		return http.Header{"Xkey": {httpcache.XKeyHeader(id, r)}}
	}})
	v := testenv.StartVarnish(t, "deploy/varnish/imgpurge.vcl", o.Port)
	return newBed(t, o, v.URL, false)
}

func nginxBed(t *testing.T) *bed {
	t.Helper()
	o := testenv.NewOrigin(t, testenv.OriginOptions{})
	n := testenv.StartNginx(t, "deploy/nginx/imgpurge.conf", o.Port)
	return newBed(t, o, n.URL, true)
}

func (b *bed) host() string {
	return fmt.Sprintf("img%d.example.test", b.seq.Add(1))
}

func uri(id, rendition string) string {
	return "/image/" + url.PathEscape(id) + "/" + url.PathEscape(rendition)
}

// get fetches uri through the cache as host and returns its X-Cache.
func (b *bed) get(t *testing.T, host, uri string, probe bool) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = uri
	req.Host = host
	if probe {
		req.Header.Set(testenv.ProbeHeader, "1")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s %s: %v", host, uri, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s %s: %s", host, uri, resp.Status)
	}
	return resp.Header.Get("X-Cache")
}

// seed caches renditions of id under host, and checks they are cached.
func (b *bed) seed(t *testing.T, host, id string, renditions ...string) {
	t.Helper()
	for _, r := range renditions {
		b.get(t, host, uri(id, r), false)
		// nginx files the response just after sending it.
		deadline := time.Now().Add(2 * time.Second)
		for b.get(t, host, uri(id, r), false) != "HIT" {
			if time.Now().After(deadline) {
				t.Fatalf("%s %s is not cached after two GETs", host, uri(id, r))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// held reports whether the cache still holds a rendition. The probe asks
// through the cache, and the origin's count says whether it got past: a
// probe that reaches the origin is answered no-store, so checking does not
// put the rendition back. X-Cache must agree with the count.
func (b *bed) held(t *testing.T, host, id, rendition string) bool {
	t.Helper()
	u := uri(id, rendition)
	before := b.origin.Hits(host, u)
	xcache := b.get(t, host, u, true)
	held := b.origin.Hits(host, u) == before
	if held != (xcache == "HIT") {
		t.Errorf("%s %s: X-Cache %q but the origin saw %d new requests", host, u, xcache,
			b.origin.Hits(host, u)-before)
	}
	return held
}

// harness runs the conformance suite against the real cache through a
// fault proxy, which can make the cache's answer to chosen items a 503.
func (b *bed) harness(method string, partial bool) providertest.Harness {
	return func(t *testing.T) *providertest.Backend {
		host := b.host()
		proxy := newProxy(t, b.cache, b.nginx)
		p := onNode(t, []string{host}, method, proxy.URL)
		be := &providertest.Backend{
			Provider: p,
			Seed: func(t *testing.T, id string, names ...string) {
				b.seed(t, host, id, names...)
			},
			Held: func(t *testing.T, id, name string) bool { return b.held(t, host, id, name) },
		}
		if partial {
			be.FailItems = func(t *testing.T, id string, names ...string) string {
				proxy.fail(plan(t, p, id, names...)...)
				return "HTTP503"
			}
		}
		return be
	}
}

// proxy stands between the provider and a real cache node. It forwards
// every request unchanged, records what it saw as items, and answers 503
// instead of forwarding the items it was told to fail.
type proxy struct {
	URL string

	nginx   bool
	mu      sync.Mutex
	failing map[string]bool
	seen    []string
}

func newProxy(t *testing.T, target string, nginx bool) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{nginx: nginx, failing: map[string]bool{}}
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{Proxy: nil},
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: r.In.RequestURI}
			r.Out.Host = r.In.Host
		},
	}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.record(r) {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.URL = srv.URL
	return p
}

// record notes the item r carries and reports whether it must fail.
func (p *proxy) record(r *http.Request) bool {
	it := itemOf(r, p.nginx)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, it)
	return p.failing[it]
}

func (p *proxy) fail(items ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range items {
		p.failing[it] = true
	}
}

func (p *proxy) items() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// itemOf reads a request back into the item that produced it.
func itemOf(r *http.Request, nginx bool) string {
	switch {
	case r.Header.Get("Xkey-Purge") != "":
		return "XKEY " + r.Header.Get("Xkey-Purge")
	case r.Method == "BAN":
		return "BAN " + r.Host + " " + r.Header.Get("X-Ban-Url")
	case nginx:
		return "PURGE " + r.Host + " " + strings.TrimPrefix(r.RequestURI, "/purge")
	}
	return r.Method + " " + r.Host + " " + r.RequestURI
}

// onNode builds a layer of the given method ("" for the default) on nodes.
func onNode(t *testing.T, hosts []string, method string, nodes ...string) *httpcache.Provider {
	t.Helper()
	s := map[string]any{"nodes": nodes}
	if method != "" {
		s["method"] = method
	}
	return newProvider(t, hosts, s)
}

// parallel returns a t.Run whose subtests run in parallel.
func parallel(t *testing.T) func(name string, f func(t *testing.T)) {
	return func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t)
		})
	}
}
