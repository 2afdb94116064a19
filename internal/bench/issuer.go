package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Audience and scope the benchmark's tokens carry and imgpurged requires.
const (
	tokenAudience = "purge-api"
	tokenScope    = "images:purge"
	tokenTenant   = "media"
)

// issuer is an OpenID Connect issuer on 127.0.0.1 with one RS256 and one
// ES256 key, so imgpurged verifies real signatures of both kinds, fetched
// through discovery and JWKS as from a real identity provider.
type issuer struct {
	URL  string
	keys map[string]crypto.Signer // by algorithm, which is also the key id
	stop func()
}

func startIssuer() (*issuer, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	is := &issuer{keys: map[string]crypto.Signer{"RS256": rk, "ES256": ek}}
	is.URL, is.stop, err = serve(http.HandlerFunc(is.serveHTTP))
	return is, err
}

func (is *issuer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.URL, "jwks_uri": is.URL + "/jwks",
			"authorization_endpoint": is.URL + "/auth", "token_endpoint": is.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	case "/jwks":
		set := jose.JSONWebKeySet{}
		for alg, k := range is.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: alg, Use: "sig", Algorithm: alg})
		}
		_ = json.NewEncoder(w).Encode(set)
	default:
		http.NotFound(w, r)
	}
}

// authConfig is imgpurged's auth section for this issuer.
func (is *issuer) authConfig() string {
	return fmt.Sprintf("{mode: oidc, issuer: %q, audience: %s, algorithms: [RS256, ES256], "+
		"required_claim: scope, required_value: %q}", is.URL, tokenAudience, tokenScope)
}

// tokens signs n distinct tokens with the key of alg, valid for ttl, on
// every core: RS256 signing costs close to a millisecond a token.
func (is *issuer) tokens(ctx context.Context, alg string, n int, ttl time.Duration) ([]string, error) {
	out := make([]string, n)
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = is.sign(ctx, alg, out, w, workers, ttl) })
	}
	wg.Wait()
	return out, errors.Join(append(errs, ctx.Err())...)
}

// sign fills out[first], out[first+step], ... with its own signer, as
// go-jose does not promise that one signer may be shared.
func (is *issuer) sign(ctx context.Context, alg string, out []string, first, step int, ttl time.Duration) error {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: is.keys[alg]},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", alg))
	if err != nil {
		return err
	}
	for i := first; i < len(out) && ctx.Err() == nil; i += step {
		if out[i], err = jwt.Signed(sig).Claims(is.claims(i, ttl)).Serialize(); err != nil {
			return err
		}
	}
	return nil
}

func (is *issuer) claims(i int, ttl time.Duration) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "sub": "bench-cms", "aud": tokenAudience,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"tenant": tokenTenant, "scope": tokenScope,
		// jti makes every token of a batch distinct, so none is answered
		// from the service's cache of verified tokens.
		"jti": fmt.Sprintf("bench-%d", i),
	}
}

// writeTokens puts tokens in a file, one a line, for the load generator.
func writeTokens(path string, toks []string) error {
	return os.WriteFile(path, []byte(strings.Join(toks, "\n")+"\n"), 0o600)
}

// tokenFile mints n tokens signed with alg into a file for the load
// generator and returns its path.
func (b *Bench) tokenFile(ctx context.Context, name, alg string, n int) (string, error) {
	toks, err := b.iss.tokens(ctx, alg, n, 2*time.Hour)
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.tmp, fmt.Sprintf("%s-%s-%d.tokens", name, alg, n))
	return path, writeTokens(path, toks)
}
