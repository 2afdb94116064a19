package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/cli"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

const clientSecret = "s3cret-of-the-cron-job"

// ccEnv is the environment of a cron job that holds client credentials
// and no token.
func (b *bundle) ccEnv(te *testenv.TokenEndpoint, mods map[string]string) map[string]string {
	env := b.env(map[string]string{
		"IMGPURGE_TOKEN": "", "IMGPURGE_TOKEN_URL": te.URL,
		"IMGPURGE_CLIENT_ID": "cron", "IMGPURGE_CLIENT_SECRET": clientSecret,
	})
	for k, v := range mods {
		env[k] = v
	}
	return env
}

func tokenEndpoint(t *testing.T, b *bundle, ttl time.Duration) *testenv.TokenEndpoint {
	return b.idp.StartTokenEndpoint(t, "rsa-1", testenv.TokenClient{
		ID: "cron", Secret: clientSecret, TTL: ttl, Claims: map[string]any{"tenant": "local"},
	})
}

func TestClientCredentialsTokenIsCachedAcrossRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	te := tokenEndpoint(t, b, time.Hour)
	env := b.ccEnv(te, nil)

	o := run(t, env, "", "purge", imageID).want(t, cli.ExitOK)
	if !strings.Contains(o.stdout, "succeeded") {
		t.Fatalf("output:\n%s", o.stdout)
	}
	run(t, env, "", "purges", "--image", imageID).want(t, cli.ExitOK)
	run(t, env, "", "purge", "--from", "-", "--progress", "none").want(t, cli.ExitOK)
	if n := te.Requests(); n != 1 {
		t.Fatalf("token endpoint asked %d times over three runs, want once", n)
	}

	files, _ := filepath.Glob(filepath.Join(b.cache, "tokens", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(files[0])); di.Mode().Perm() != 0o700 {
		t.Errorf("cache directory mode %v", di.Mode())
	}
	raw, _ := os.ReadFile(files[0])
	if strings.Contains(string(raw), clientSecret) {
		t.Error("the client secret was written to the cache")
	}

	// Another scope is another token.
	run(t, b.ccEnv(te, map[string]string{"IMGPURGE_SCOPE": "images:purge"}), "", "purge", imageID).want(t, cli.ExitOK)
	if n := te.Issued(); n != 2 {
		t.Fatalf("issued %d tokens, want 2", n)
	}
}

// TestClientCredentialsTokenNearExpiryIsFetchedAgain: a token that expires
// within the margin is not reused.
func TestClientCredentialsTokenNearExpiryIsFetchedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	te := tokenEndpoint(t, b, cli.ExpiryMargin/2)
	env := b.ccEnv(te, nil)
	run(t, env, "", "purge", imageID).want(t, cli.ExitOK)
	run(t, env, "", "purge", imageID).want(t, cli.ExitOK)
	if n := te.Issued(); n != 2 {
		t.Fatalf("issued %d tokens, want one per run", n)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	te := tokenEndpoint(t, b, time.Hour)
	bad := b.ccEnv(te, map[string]string{"IMGPURGE_CLIENT_SECRET": "wrong-secret-value"})
	o := run(t, bad, "", "purge", imageID).want(t, cli.ExitNoReach)
	if !strings.Contains(o.stderr, "invalid_client") {
		t.Errorf("stderr:\n%s", o.stderr)
	}
	// A bulk run stops before its first purge.
	bulk := run(t, bad, imageID+"\n", "purge", "--from", "-").want(t, cli.ExitNoReach)
	if bulk.stdout != "" {
		t.Errorf("a bulk run started: %s", bulk.stdout)
	}
	gone := b.ccEnv(te, map[string]string{"IMGPURGE_TOKEN_URL": "http://" + b.closed + "/token"})
	o = run(t, gone, "", "status", "0193a0e0-0000-7000-8000-00000000dead").want(t, cli.ExitNoReach)
	if !strings.Contains(o.stderr, "connection refused") {
		t.Errorf("stderr:\n%s", o.stderr)
	}
	if te.Issued() != 0 {
		t.Errorf("issued %d tokens", te.Issued())
	}
}

// TestFlagsWinOverEnvironment: a --token-url flag picks the client-
// credentials flow even when IMGPURGE_TOKEN is set.
func TestFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	te := tokenEndpoint(t, b, time.Hour)
	env := b.env(map[string]string{"IMGPURGE_TOKEN": "not.a.jwt", "IMGPURGE_CLIENT_ID": "cron"})
	run(t, env, "", "purge", imageID, "--token-url", te.URL, "--client-secret", clientSecret).want(t, cli.ExitOK)
	run(t, env, "", "purge", imageID, "--token", b.token).want(t, cli.ExitOK)
	run(t, env, "", "purge", imageID, "--token", b.token, "--token-url", te.URL).want(t, cli.ExitUsage)
	if te.Issued() != 1 {
		t.Errorf("issued %d tokens", te.Issued())
	}
}

// TestRefusedCachedTokenIsReplaced: a cached token that imgpurged refuses
// (its key rotated away, say) is dropped and a new one fetched, once.
func TestRefusedCachedTokenIsReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	te := tokenEndpoint(t, b, time.Hour)
	env := b.ccEnv(te, nil)
	run(t, env, "", "purge", imageID).want(t, cli.ExitOK)

	files, _ := filepath.Glob(filepath.Join(b.cache, "tokens", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	var cached map[string]any
	if err := json.Unmarshal(raw, &cached); err != nil {
		t.Fatal(err)
	}
	cached["access_token"] = b.idp.Token(t, "rsa-1", map[string]any{"tenant": "local", "aud": "someone-else"})
	raw, _ = json.Marshal(cached)
	if err := os.WriteFile(files[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}

	run(t, env, "", "purge", imageID).want(t, cli.ExitOK)
	run(t, env, "", "purge", imageID).want(t, cli.ExitOK)
	if n := te.Issued(); n != 2 {
		t.Fatalf("issued %d tokens, want 2", n)
	}
	// A server that refuses every token: one more fetch, then exit 3.
	wrong := b.idp.StartTokenEndpoint(t, "rsa-1", testenv.TokenClient{ID: "cron", Secret: clientSecret,
		Claims: map[string]any{"tenant": "local", "aud": "someone-else"}})
	o := run(t, b.ccEnv(wrong, nil), strings.Repeat(imageID+"\n", 20), "purge", "--from", "-").want(t, cli.ExitNoReach)
	if n := wrong.Issued(); n != 2 {
		t.Fatalf("issued %d tokens, want the first and one renewal:\n%s", n, o.stderr)
	}
}
