package httpcache_test

import (
	"context"
	"slices"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/httpcache"
)

// TestVarnish runs against one real varnishd loaded with
// deploy/varnish/imgpurge.vcl. PURGE and BAN act on one Host only, so each
// subtest's own public host keeps the parallel subtests apart.
func TestVarnish(t *testing.T) {
	t.Parallel()
	b := varnishBed(t)

	t.Run("ConformancePurge", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, b.harness(httpcache.MethodPurge, true))
	})
	t.Run("ConformanceBan", func(t *testing.T) {
		t.Parallel()
		// One ban covers every selected rendition of a host, so a node cannot
		// fail some renditions and not others: no partial failure to inject.
		providertest.Run(t, b.harness(httpcache.MethodBan, false))
	})
	par := parallel(t)
	par("BanCannotBeWidened", func(t *testing.T) { testBanNotWidened(t, b) })
	par("BanAllStaysInImage", func(t *testing.T) { testBanAll(t, b) })
	par("PerHostPurge", func(t *testing.T) { testPerHost(t, b, httpcache.MethodPurge, 4) })
	par("PerHostBan", func(t *testing.T) { testPerHost(t, b, httpcache.MethodBan, 2) })
	par("EscapedNamesPurge", func(t *testing.T) { testEscaped(t, b, httpcache.MethodPurge) })
	par("EscapedNamesBan", func(t *testing.T) { testEscaped(t, b, httpcache.MethodBan) })
	par("ACLPurge", func(t *testing.T) { testACL(t, b, httpcache.MethodPurge, "HTTP405") })
	par("ACLBan", func(t *testing.T) { testACL(t, b, httpcache.MethodBan, "HTTP405") })
}

// TestVarnishXKey has a varnishd of its own: surrogate keys carry no host,
// so an xkey purge reaches every host's copies, other subtests' too.
func TestVarnishXKey(t *testing.T) {
	t.Parallel()
	b := varnishBed(t)
	t.Run("Conformance", func(t *testing.T) {
		providertest.Run(t, b.harness(httpcache.MethodXKey, true))
	})
	t.Run("EscapedNames", func(t *testing.T) { testEscaped(t, b, httpcache.MethodXKey) })
	t.Run("AllRenditionsEveryHost", func(t *testing.T) { testXKeyAll(t, b) })
	t.Run("ACL", func(t *testing.T) { testACL(t, b, httpcache.MethodXKey, "HTTP405") })
}

// testBanNotWidened: every part of a ban that comes from a rendition name
// matches only itself, though "." "+" and "$" survive URL escaping and are
// regex metacharacters, and the rest of a name such as ".*" or "a|b" is
// escaped away.
func testBanNotWidened(t *testing.T, b *bed) {
	host := b.host()
	selected := []string{"a.b.jpg", "a+b.jpg", "x$y.jpg", ".*", "a|b", "640x360.jpg"}
	kept := []string{"aXbXjpg", "aab.jpg", "x.jpg", "zz", "a", "640x3600.jpg", "640x360.jpg.bak"}
	b.seed(t, host, imageA, append(selected, kept...)...)
	b.seed(t, host, imageB, "a.b.jpg")

	p := onNode(t, []string{host}, "ban", b.cache)
	if _, err := p.Purge(context.Background(), plan(t, p, imageA, selected...)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, r := range selected {
		if b.held(t, host, imageA, r) {
			t.Errorf("selected %q still cached", r)
		}
	}
	for _, r := range kept {
		if !b.held(t, host, imageA, r) {
			t.Errorf("%q was banned by a regex built for other names", r)
		}
	}
	if !b.held(t, host, imageB, "a.b.jpg") {
		t.Error("the other image's a.b.jpg was banned")
	}
}

// testBanAll bans every rendition of img-42 and none of img-420, whose id
// starts with the same characters.
func testBanAll(t *testing.T, b *bed) {
	host := b.host()
	b.seed(t, host, "img-42", "640x360.jpg", "unlisted.webp")
	b.seed(t, host, "img-420", "640x360.jpg")
	p := onNode(t, []string{host}, "ban", b.cache)
	items, err := p.Plan(purge.Target{ImageID: "img-42", All: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, r := range []string{"640x360.jpg", "unlisted.webp"} {
		if b.held(t, host, "img-42", r) {
			t.Errorf("img-42/%s still cached", r)
		}
	}
	if !b.held(t, host, "img-420", "640x360.jpg") {
		t.Error("img-420 was banned with img-42")
	}
}

// testPerHost is case C9: two public hosts, so each rendition is purged
// once per Host, and a third host's copies stay.
func testPerHost(t *testing.T, b *bed, method string, wantRequests int) {
	hosts := []string{b.host(), b.host()}
	other := b.host()
	renditions := []string{"640x360.jpg", "1280x720.webp"}
	for _, h := range append([]string{other}, hosts...) {
		b.seed(t, h, imageA, renditions...)
	}
	proxy := newProxy(t, b.cache, b.nginx)
	p := onNode(t, hosts, method, proxy.URL)
	items := plan(t, p, imageA, renditions...)
	if _, err := p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}

	seen := proxy.items()
	slices.Sort(seen)
	slices.Sort(items)
	if len(seen) != wantRequests || !slices.Equal(seen, items) {
		t.Errorf("node received %q, want each of the %d planned items once: %q",
			seen, wantRequests, items)
	}
	for _, h := range hosts {
		for _, r := range renditions {
			if b.held(t, h, imageA, r) {
				t.Errorf("%s %s still cached", h, r)
			}
		}
	}
	for _, r := range renditions {
		if !b.held(t, other, imageA, r) {
			t.Errorf("unconfigured host %s lost %s", other, r)
		}
	}
}

// testEscaped purges names that must be escaped in a URL (case C4's names)
// and checks the cache drops exactly the copies visitors fetched.
func testEscaped(t *testing.T, b *bed, method string) {
	host := b.host()
	names := []string{"640x360 q=80.jpg", "café.jpg", "v~2.jpg", "a,b.jpg", "100%.png"}
	b.seed(t, host, imageA, append(names, "plain.jpg")...)
	p := onNode(t, []string{host}, method, b.cache)
	res, err := p.Purge(context.Background(), plan(t, p, imageA, names...))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n := nodes(t, res)[0]; n.Failed != 0 || n.NotCached != 0 {
		t.Errorf("node result %+v, want every item purged", n)
	}
	for _, r := range names {
		if b.held(t, host, imageA, r) {
			t.Errorf("%q still cached", r)
		}
	}
	if !b.held(t, host, imageA, "plain.jpg") {
		t.Error("plain.jpg was purged too")
	}
}

// testACL: a client outside the cache's purgers list is refused, which no
// retry can change, and nothing is purged.
func testACL(t *testing.T, b *bed, method, code string) {
	host := b.host()
	b.seed(t, host, imageA, "640x360.jpg")
	p := onNode(t, []string{host}, method, b.cache)
	httpcache.DialFrom(p, "127.0.0.2")
	items := plan(t, p, imageA, "640x360.jpg")
	res, err := p.Purge(context.Background(), items)
	pe := providertest.AsError(t, err)
	if pe.Code != code || pe.Retryable {
		t.Errorf("error %q retryable=%v, want %s, not retryable", pe.Code, pe.Retryable, code)
	}
	if !slices.Equal(res.Remaining, items) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, items)
	}
	if !b.held(t, host, imageA, "640x360.jpg") {
		t.Error("a refused purge removed the object")
	}
}

// testXKeyAll: one image key removes every rendition on every host, listed
// or not, and a repeat succeeds.
func testXKeyAll(t *testing.T, b *bed) {
	hosts := []string{b.host(), b.host()}
	for _, h := range hosts {
		b.seed(t, h, imageA, "640x360.jpg", "unlisted.webp")
		b.seed(t, h, imageB, "640x360.jpg")
	}
	p := onNode(t, nil, "xkey", b.cache)
	items, err := p.Plan(purge.Target{ImageID: imageA, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"XKEY image-" + imageA}; !slices.Equal(items, want) {
		t.Fatalf("items = %q, want %q", items, want)
	}
	res, err := p.Purge(context.Background(), items)
	if err != nil || nodes(t, res)[0].Purged != 1 {
		t.Fatalf("Purge = %+v, %v", res, err)
	}
	if _, err := p.Purge(context.Background(), items); err != nil {
		t.Errorf("repeat: %v", err)
	}
	for _, h := range hosts {
		for _, r := range []string{"640x360.jpg", "unlisted.webp"} {
			if b.held(t, h, imageA, r) {
				t.Errorf("%s %s still cached", h, r)
			}
		}
		if !b.held(t, h, imageB, "640x360.jpg") {
			t.Errorf("%s: the other image was purged", h)
		}
	}
}
