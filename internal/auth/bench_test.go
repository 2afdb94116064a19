package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// benchVerifier is a verifier of ti's tokens that logs nothing.
func benchVerifier(tb testing.TB, ti *testIssuer, cacheSize int) *Verifier {
	tb.Helper()
	cfg := ti.config()
	cfg.TokenCacheSize = cacheSize
	v, err := newVerifier(context.Background(), cfg, tb.TempDir(),
		slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// A cached token, the path a CMS reusing its token takes on every request,
// allocates nothing. Not parallel: AllocsPerRun counts the whole process.
func TestCachedVerifyAllocations(t *testing.T) {
	ti := newTestIssuer(t, "A")
	v := benchVerifier(t, ti, 0)
	header := "Bearer " + key("A").sign(t, claimsFor(ti.url))
	ctx := context.Background()
	if _, err := v.Verify(ctx, header); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(ctx, header); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cached Verify allocates %.0f times, want 0", allocs)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name  string
		kid   string
		cache int
	}{
		{"cached", "A", 0},
		{"RS256 uncached", "A", -1},
		{"ES256 uncached", "E", -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ti := newTestIssuer(b, "A", "E")
			v := benchVerifier(b, ti, bc.cache)
			header := "Bearer " + key(bc.kid).sign(b, claimsFor(ti.url))
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, header); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
