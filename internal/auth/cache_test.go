package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
)

// keySetFunc adapts a function to oidc.KeySet.
type keySetFunc func(ctx context.Context, jwt string) ([]byte, error)

func (f keySetFunc) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	return f(ctx, jwt)
}

// countChecks makes b's verifier count its signature checks.
func countChecks(b *bundle) *atomic.Int64 {
	var n atomic.Int64
	inner := b.verifier.remote
	b.verifier.useKeySet(keySetFunc(func(ctx context.Context, jwt string) ([]byte, error) {
		n.Add(1)
		return inner.VerifySignature(ctx, jwt)
	}), []string{"RS256", "ES256"})
	return &n
}

func TestTokenCache(t *testing.T) {
	t.Parallel()

	t.Run("a reused token is checked once", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		checks := countChecks(b)
		tok := key("A").sign(t, claimsFor(b.issuer.url))
		first := b.mustVerify(t, tok)
		second := b.mustVerify(t, tok)
		if n := checks.Load(); n != 1 {
			t.Errorf("%d signature checks for one token used twice, want 1", n)
		}
		if first != second {
			t.Error("the second Verify did not answer from the cache")
		}
		b.mustVerify(t, key("E").sign(t, claimsFor(b.issuer.url)))
		if n := checks.Load(); n != 2 {
			t.Errorf("%d signature checks after a second token, want 2", n)
		}
	})
	t.Run("never used past expiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		checks := countChecks(b)
		c := claimsFor(b.issuer.url)
		c["exp"] = time.Now().Add(time.Minute).Unix()
		tok := key("A").sign(t, c)
		b.mustVerify(t, tok)

		b.clock.Advance(2 * time.Minute)
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descExpired)
		if n := checks.Load(); n != 2 {
			t.Errorf("%d signature checks, want the expired token checked again", n)
		}
		if n := b.verifier.cache.size(); n != 0 {
			t.Errorf("cache holds %d entries after expiry, want 0", n)
		}
	})
	t.Run("rejections are not cached", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		checks := countChecks(b)
		c := claimsFor(b.issuer.url)
		delete(c, "realm_access")
		tok := key("A").sign(t, c)
		for range 2 {
			_, err := b.verify(t, tok)
			requireRejected(t, err, tok, 403, CodeInsufficientScope, testRole)
		}
		if n := checks.Load(); n != 2 {
			t.Errorf("%d signature checks, want 2", n)
		}
	})
	t.Run("turned off", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{config: func(c *config.Auth) { c.TokenCacheSize = -1 }})
		checks := countChecks(b)
		tok := key("A").sign(t, claimsFor(b.issuer.url))
		b.mustVerify(t, tok)
		b.mustVerify(t, tok)
		if n := checks.Load(); n != 2 {
			t.Errorf("%d signature checks with the cache off, want 2", n)
		}
	})
}

func TestTokenCacheBound(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newTokenCache(4)
	for i := range 20 {
		p := &Principal{Expiry: now.Add(time.Duration(i+1) * time.Minute)}
		c.put(keyOf(fmt.Sprint(i)), p, now)
		if n := c.size(); n > 4 {
			t.Fatalf("cache holds %d entries, bound 4", n)
		}
	}
	if c.get(keyOf("19"), now) == nil {
		t.Error("the newest entry was evicted")
	}

	t.Run("expired entries go first", func(t *testing.T) {
		c := newTokenCache(2)
		c.put(keyOf("old"), &Principal{Expiry: now.Add(time.Second)}, now)
		c.put(keyOf("live"), &Principal{Expiry: now.Add(time.Hour)}, now)
		later := now.Add(time.Minute)
		c.put(keyOf("new"), &Principal{Expiry: later.Add(time.Hour)}, later)
		if c.get(keyOf("live"), later) == nil || c.get(keyOf("new"), later) == nil {
			t.Error("a live entry was evicted while an expired one was there")
		}
	})
	t.Run("already expired is not stored", func(t *testing.T) {
		c := newTokenCache(2)
		c.put(keyOf("x"), &Principal{Expiry: now}, now)
		if c.size() != 0 {
			t.Error("stored a principal that had expired")
		}
	})
}
