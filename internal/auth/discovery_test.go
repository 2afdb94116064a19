package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// Case C12, first run: an issuer that differs from the discovery document
// only by a trailing slash fails the start with an error naming the field
// and both values.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		configured, docs func(url string) string
	}{
		{"document has the slash", func(u string) string { return u },
			func(u string) string { return u + "/" }},
		{"configuration has the slash", func(u string) string { return u + "/" },
			func(u string) string { return u }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ti := newTestIssuer(t, "A")
			ti.set(func() { ti.docIssuer = tc.docs(ti.url) })
			cfg := ti.config()
			cfg.Issuer = tc.configured(ti.url)

			_, err := New(t.Context(), cfg, t.TempDir(), nil)
			if err == nil {
				t.Fatal("New accepted a mismatched issuer")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "auth.issuer:") {
				t.Errorf("error %q does not start with auth.issuer:", msg)
			}
			for _, want := range []string{`"` + cfg.Issuer + `"`, `"` + tc.docs(ti.url) + `"`,
				"trailing slash"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %s", msg, want)
				}
			}
			if n := ti.discoveries.Load(); n != 1 {
				t.Errorf("a mismatch was retried: %d discovery requests", n)
			}
		})
	}
}

func TestDiscoveryUnreachable(t *testing.T) {
	t.Parallel()
	addr := testenv.FreeAddr(t) // nothing listens here

	cfg := config.Auth{Issuer: "http://" + addr + "/realms/media", Audience: testAudience,
		DiscoveryTimeout: config.Duration(600 * time.Millisecond)}
	started := time.Now()
	_, err := New(t.Context(), cfg, t.TempDir(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "auth.issuer:") {
		t.Fatalf("New = %v, want an auth.issuer error", err)
	}
	t.Log(err)
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Errorf("discovery took %v, past its 600ms bound", elapsed)
	}
}

// An issuer that is starting up answers 503 at first; discovery retries
// within its bound.
func TestDiscoveryRetries(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t, "A")
	ti.set(func() { ti.failDiscover = 2 })
	v, err := New(t.Context(), ti.config(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := ti.discoveries.Load(); n != 3 {
		t.Errorf("%d discovery requests, want 3", n)
	}
	if err := v.Ready(t.Context()); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

func TestDiscoveryWithoutJWKSURI(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t, "A")
	ti.set(func() { ti.omitJWKSURI = true })
	_, err := New(t.Context(), ti.config(), t.TempDir(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "auth.issuer:") ||
		!strings.Contains(err.Error(), "jwks_uri") {
		t.Fatalf("New = %v, want an auth.issuer error about jwks_uri", err)
	}
}

// With auth.jwks_url the issuer is never asked for its discovery document,
// so the issuer may be any name, here the one of the test conventions.
func TestJWKSURLSkipsDiscovery(t *testing.T) {
	t.Parallel()
	const issuer = "https://idp.example.test/realms/media"
	ti := newTestIssuer(t, "A")
	cfg := ti.config()
	cfg.Issuer, cfg.JWKSURL = issuer, ti.url+"/jwks"
	v, err := New(t.Context(), cfg, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{issuer: ti, verifier: v}
	b.mustVerify(t, key("A").sign(t, claimsFor(issuer)))
	if n := ti.discoveries.Load(); n != 0 {
		t.Errorf("%d discovery requests with jwks_url set, want 0", n)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   config.Auth
		field string
	}{
		{"no issuer", config.Auth{Audience: testAudience}, "auth.issuer"},
		{"no audience", config.Auth{Issuer: "https://idp.example.test"}, "auth.audience"},
		{"symmetric algorithm", config.Auth{Issuer: "https://idp.example.test",
			Audience: testAudience, Algorithms: []string{"HS256"}}, "auth.algorithms[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(t.Context(), tc.cfg, t.TempDir(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}
