package auth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Case C13: after the issuer rotates from A to B, a B token is accepted
// after one fetch, and A tokens, cached or not, are no longer.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{kids: []string{"A"}})
	ti := b.issuer
	oldToken := key("A").sign(t, claimsFor(ti.url))
	b.mustVerify(t, oldToken)
	if n := ti.jwksFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", n)
	}

	ti.publish(t, "B")
	b.mustVerify(t, key("B").sign(t, claimsFor(ti.url)))
	if n := ti.jwksFetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times after rotation, want 2", n)
	}

	t.Run("withdrawn key", func(t *testing.T) {
		// The cached A token is dropped with its key, and the cooldown keeps
		// a new A token from fetching again.
		_, err := b.verify(t, oldToken)
		requireRejected(t, err, oldToken, 401, CodeInvalidToken, descSignature)
		c := claimsFor(ti.url)
		c["sub"] = "another"
		tok := key("A").sign(t, c)
		_, err = b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descSignature)
		if n := ti.jwksFetches.Load(); n != 2 {
			t.Errorf("JWKS fetched %d times, want still 2", n)
		}
	})
}

// Case C13: a burst of tokens naming an unknown kid costs the issuer a
// small bounded number of fetches, and every one of them gets 401.
func TestUnknownKidBurst(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{kids: []string{"A"}})
	before := b.issuer.jwksFetches.Load()

	const burst = 50
	tokens := make([]string, burst)
	for i := range tokens {
		c := claimsFor(b.issuer.url)
		c["sub"] = fmt.Sprintf("caller-%d", i)
		tokens[i] = key("Z").sign(t, c)
	}
	start := make(chan struct{})
	errs := make([]error, burst)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			<-start
			_, errs[i] = b.verify(t, tokens[i])
		})
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		requireRejected(t, err, tokens[i], 401, CodeInvalidToken, descSignature)
	}
	if n := b.issuer.jwksFetches.Load() - before; n < 1 || n > 2 {
		t.Errorf("burst caused %d JWKS fetches, want 1 or 2", n)
	}
}

// The cooldown limits fetches for unknown kids and lifts once it passes.
func TestKeyRefreshCooldown(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{kids: []string{"A"}})
	ti := b.issuer
	unknown := key("Z").sign(t, claimsFor(ti.url))

	_, err := b.verify(t, unknown)
	requireRejected(t, err, unknown, 401, CodeInvalidToken, descSignature)
	if n := ti.jwksFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (start and one refresh)", n)
	}

	ti.publish(t, "A", "B")
	tokB := key("B").sign(t, claimsFor(ti.url))
	_, err = b.verify(t, tokB)
	requireRejected(t, err, tokB, 401, CodeInvalidToken, descSignature)
	if n := ti.jwksFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times within the cooldown, want 2", n)
	}

	b.clock.Advance(11 * time.Second) // the default interval is 10s
	b.mustVerify(t, tokB)
	if n := ti.jwksFetches.Load(); n != 3 {
		t.Errorf("JWKS fetched %d times after the cooldown, want 3", n)
	}
}

// An issuer whose JWKS cannot be fetched at start leaves the verifier not
// ready, rejecting tokens with a reason that says so, until it recovers.
func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t, "A")
	ti.setJWKSStatus(http.StatusInternalServerError)
	logs := &logBuffer{}
	clock := newFakeClock()
	v, err := newVerifier(t.Context(), ti.config(), t.TempDir(),
		slog.New(slog.NewJSONHandler(logs, nil)), clock.Now)
	if err != nil {
		t.Fatalf("a JWKS outage must not fail the start: %v", err)
	}
	b := &bundle{issuer: ti, verifier: v, clock: clock, logs: logs}

	for i := range 2 { // the second within the cooldown, without a fetch
		err := v.Ready(t.Context())
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Errorf("Ready %d with no keys = %v, want the fetch error", i, err)
		}
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) ||
		!strings.Contains(logs.String(), `"jwks_url"`) {
		t.Errorf("fetch failure not logged at Error with jwks_url:\n%s", logs)
	}
	tok := key("A").sign(t, claimsFor(ti.url))
	_, err = b.verify(t, tok)
	requireRejected(t, err, tok, 401, CodeInvalidToken, descKeysMissing)

	ti.setJWKSStatus(http.StatusOK)
	clock.Advance(11 * time.Second)
	if err := v.Ready(t.Context()); err != nil {
		t.Fatalf("Ready after recovery: %v", err)
	}
	b.mustVerify(t, tok)
}

// Keys that cannot verify a signature, or that must not, are left out of
// the set; one unreadable key does not cost the others.
func TestKeySetParse(t *testing.T) {
	t.Parallel()
	rsaPub := key("A").public()
	encKey := key("B").public()
	encKey.Use = "enc"
	good, err := json.Marshal(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(encKey)
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"keys":[` + string(good) + `,` + string(enc) + `,
		{"kty":"oct","kid":"S","k":"c2VjcmV0"},
		{"kty":"XYZ","kid":"odd"}]}`
	s := &remoteKeySet{url: "test", logger: slog.New(slog.DiscardHandler)}

	keys, err := s.parse(t.Context(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KeyID != "A" || !keys[0].IsPublic() {
		t.Errorf("kept %+v, want only the public key A", keys)
	}
	t.Run("nothing usable", func(t *testing.T) {
		_, err := s.parse(t.Context(), []byte(`{"keys":[{"kty":"oct","kid":"S","k":"c2VjcmV0"}]}`))
		if err == nil {
			t.Error("a set with only a symmetric key was accepted")
		}
	})
	t.Run("not a key set", func(t *testing.T) {
		if _, err := s.parse(t.Context(), []byte(`<html>`)); err == nil {
			t.Error("HTML accepted as a key set")
		}
	})
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	keys := []jose.JSONWebKey{
		{KeyID: "A", Algorithm: "RS256"},
		{KeyID: "E", Algorithm: "ES256"},
		{KeyID: ""},
	}
	for _, tc := range []struct {
		kid, alg string
		want     int
	}{
		{"A", "RS256", 2}, // A and the key without kid
		{"A", "ES256", 1}, // A's alg does not match
		{"", "ES256", 2},  // no kid: every key of that alg
		{"Q", "RS256", 1}, // only the key without kid
	} {
		t.Run(tc.kid+"/"+tc.alg, func(t *testing.T) {
			t.Parallel()
			if got := candidates(keys, tc.kid, tc.alg); len(got) != tc.want {
				t.Errorf("got %d candidates, want %d", len(got), tc.want)
			}
		})
	}
}
