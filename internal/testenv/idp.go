package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// IdP is an OpenID Connect issuer served on 127.0.0.1: a discovery document
// and a JWKS whose keys tests can rotate, and a signer for real tokens.
type IdP struct {
	URL string
	// Issuer is what the discovery document and tokens say; it defaults to
	// URL and may be changed to test mismatches.
	Issuer string

	mu         sync.Mutex
	keys       map[string]crypto.Signer
	published  []string
	jwksFetchs atomic.Int64
}

// StartIdP serves an issuer with one RSA key "rsa-1" and one P-256 key
// "ec-1", both published.
func StartIdP(t testing.TB) *IdP {
	t.Helper()
	idp := &IdP{keys: map[string]crypto.Signer{}}
	idp.AddKey(t, "rsa-1", "RS256")
	idp.AddKey(t, "ec-1", "ES256")
	idp.Publish("rsa-1", "ec-1")
	srv := httptest.NewServer(http.HandlerFunc(idp.serve))
	t.Cleanup(srv.Close)
	idp.URL, idp.Issuer = srv.URL, srv.URL
	return idp
}

// AddKey makes a new signing key; alg is RS256 or ES256. It is not
// published until Publish names it.
func (p *IdP) AddKey(t testing.TB, kid, alg string) {
	t.Helper()
	var k crypto.Signer
	var err error
	if alg == "ES256" {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = k
	p.mu.Unlock()
}

// Publish replaces the JWKS with the named keys.
func (p *IdP) Publish(kids ...string) {
	p.mu.Lock()
	p.published = kids
	p.mu.Unlock()
}

// JWKSFetches counts requests for the JWKS.
func (p *IdP) JWKSFetches() int64 { return p.jwksFetchs.Load() }

func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.Issuer, "jwks_uri": p.URL + "/jwks",
			"authorization_endpoint": p.URL + "/auth", "token_endpoint": p.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "HS256"},
		})
	case "/jwks":
		p.jwksFetchs.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, kid := range p.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: p.keys[kid].Public(), KeyID: kid, Use: "sig",
				Algorithm: algOf(p.keys[kid])})
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	default:
		http.NotFound(w, r)
	}
}

func algOf(k crypto.Signer) string {
	if _, ok := k.(*ecdsa.PrivateKey); ok {
		return "ES256"
	}
	return "RS256"
}

// Claims returns a valid claim set for audience purge-api: issuer, subject,
// expiry in an hour, tenant "media" and scope "images:purge".
func (p *IdP) Claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.Issuer, "sub": "cms-publisher", "aud": "purge-api",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"tenant": "media", "scope": "images:purge",
	}
}

// Sign signs claims with the key kid.
func (p *IdP) Sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	p.mu.Lock()
	k := p.keys[kid]
	p.mu.Unlock()
	alg := jose.SignatureAlgorithm(algOf(k))
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Token signs the default claims with modifications applied; a nil value
// deletes a claim.
func (p *IdP) Token(t testing.TB, kid string, mods map[string]any) string {
	t.Helper()
	c := p.Claims()
	for k, v := range mods {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return p.Sign(t, kid, c)
}
