package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
)

func devConfig() config.Auth {
	return config.Auth{
		Mode:          config.AuthModeDev,
		Audience:      testAudience,
		RequiredClaim: testRoles,
		RequiredValue: testRole,
	}
}

func TestDevMode(t *testing.T) {
	t.Parallel()

	t.Run("key created private on first use", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if _, err := New(t.Context(), devConfig(), dir, nil); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]os.FileMode{
			filepath.Join(dir, "keys"): 0o700,
			DevKeyPath(dir):            0o600,
		} {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("%s has mode %o, want %o", path, got, want)
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, "keys", ".dev-signing-key-*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left behind: %v", leftovers)
		}
	})
	t.Run("MintDev round trip", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := devConfig()
		// Minting first creates the key the verifier then loads.
		tok, err := MintDev(cfg, dir, "alice", []string{"media", "legacy"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		v, err := New(t.Context(), cfg, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(t.Context(), "Bearer "+tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "alice" || !slices.Equal(p.Tenants, []string{"media", "legacy"}) {
			t.Errorf("principal = %+v", p)
		}
		if err := v.Ready(t.Context()); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
	t.Run("scope claim", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := devConfig()
		cfg.RequiredClaim, cfg.RequiredValue = "scope", "images:purge"
		tok, err := MintDev(cfg, dir, "bob", nil, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		v, err := New(t.Context(), cfg, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), "Bearer "+tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("another key is refused", func(t *testing.T) {
		t.Parallel()
		tok, err := MintDev(devConfig(), t.TempDir(), "mallory", nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		v, err := New(t.Context(), devConfig(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(t.Context(), "Bearer "+tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descSignature)
	})
	t.Run("RS256 token is refused", func(t *testing.T) {
		t.Parallel()
		v, err := New(t.Context(), devConfig(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		tok := key("A").sign(t, claimsFor(config.DevIssuer))
		_, err = v.Verify(t.Context(), "Bearer "+tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descAlgorithm)
	})
	t.Run("bad lifetime", func(t *testing.T) {
		t.Parallel()
		if _, err := MintDev(devConfig(), t.TempDir(), "x", nil, 0); err == nil {
			t.Error("MintDev accepted a zero lifetime")
		}
	})
}

// Two processes starting on a fresh data dir end up with one key.
func TestDevKeyCreationRace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 8
	keys := make([]*devKey, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			keys[i], errs[i] = loadDevKey(dir)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if keys[i].kid != keys[0].kid || !keys[i].priv.Equal(keys[0].priv) {
			t.Fatal("concurrent first uses made different keys")
		}
	}
	raw, err := os.ReadFile(DevKeyPath(dir))
	if err != nil || !bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatalf("key file: %v", err)
	}
}
