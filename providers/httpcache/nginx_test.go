package httpcache_test

import (
	"context"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/providers/httpcache"
)

// TestNginx runs against one real nginx with Debian's cache-purge module,
// loaded with deploy/nginx/imgpurge.conf. The cache key holds the host, so
// each subtest's own public host keeps the parallel subtests apart.
func TestNginx(t *testing.T) {
	t.Parallel()
	b := nginxBed(t)

	t.Run("Conformance", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, b.harness(httpcache.MethodNginx, true))
	})
	par := parallel(t)
	par("PerHost", func(t *testing.T) { testPerHost(t, b, httpcache.MethodNginx, 4) })
	par("EscapedNames", func(t *testing.T) { testEscaped(t, b, httpcache.MethodNginx) })
	par("ACL", func(t *testing.T) { testACL(t, b, httpcache.MethodNginx, "HTTP403") })
	par("NotCachedIsSuccess", func(t *testing.T) { testNotCached(t, b) })
}

// testNotCached: the module answers 404 for a key it does not hold, which
// is what a repeated purge gets; both count as done.
func testNotCached(t *testing.T, b *bed) {
	host := b.host()
	b.seed(t, host, imageA, "640x360.jpg")
	p := onNode(t, []string{host}, "nginx", b.cache)
	items := plan(t, p, imageA, "640x360.jpg", "never-cached.jpg")

	res, err := p.Purge(context.Background(), items)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n := nodes(t, res)[0]; n.Purged != 1 || n.NotCached != 1 || n.Failed != 0 {
		t.Errorf("first purge: %+v, want 1 purged and 1 not cached", n)
	}
	res, err = p.Purge(context.Background(), items)
	if err != nil {
		t.Fatalf("repeat: %v", err)
	}
	if n := nodes(t, res)[0]; n.NotCached != 2 {
		t.Errorf("repeat: %+v, want 2 not cached", n)
	}
}
