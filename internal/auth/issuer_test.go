package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/imgpurge/imgpurge/internal/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Values from the test conventions in provider-and-input-cases.md.
const (
	testAudience = "purge-api"
	testRole     = "image-purger"
	testRoles    = "realm_access.roles"
	testTenant   = "media"
)

// signingKey is a private key of the fake issuer with its kid and alg.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// Keys are made once per test binary: RSA generation is slow, and the keys
// are never modified.
var testKeys = sync.OnceValue(func() map[string]signingKey {
	rsaKey := func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]signingKey{
		"A": {kid: "A", alg: jose.RS256, priv: rsaKey()},
		"B": {kid: "B", alg: jose.RS256, priv: rsaKey()},
		"E": {kid: "E", alg: jose.ES256, priv: ec},
		// Z is never published.
		"Z": {kid: "Z", alg: jose.RS256, priv: rsaKey()},
	}
})

func key(kid string) signingKey { return testKeys()[kid] }

// sign makes a real JWS over claims with k.
func (k signingKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return k.signRaw(t, payload)
}

func (k signingKey) signRaw(t testing.TB, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testIssuer is an OIDC issuer on 127.0.0.1: a discovery document and a
// JWKS endpoint whose keys and answers the test controls, counting fetches.
type testIssuer struct {
	srv *httptest.Server
	url string

	mu           sync.Mutex
	docIssuer    string // the issuer the discovery document names
	jwks         []byte
	jwksStatus   int
	failDiscover int  // answer 503 to this many discovery requests first
	omitJWKSURI  bool // leave jwks_uri out of the discovery document

	discoveries atomic.Int64
	jwksFetches atomic.Int64
}

func newTestIssuer(t testing.TB, kids ...string) *testIssuer {
	t.Helper()
	ti := &testIssuer{jwksStatus: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", ti.serveDiscovery)
	mux.HandleFunc("GET /jwks", ti.serveJWKS)
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.set(func() { ti.url, ti.docIssuer = ti.srv.URL, ti.srv.URL })
	ti.publish(t, kids...)
	return ti
}

func (ti *testIssuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	ti.discoveries.Add(1)
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.failDiscover > 0 {
		ti.failDiscover--
		http.Error(w, "starting up", http.StatusServiceUnavailable)
		return
	}
	doc := map[string]any{
		"issuer":   ti.docIssuer,
		"jwks_uri": ti.url + "/jwks",
		// An issuer advertising none and HS256 must not make them acceptable.
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "HS256", "none"},
	}
	if ti.omitJWKSURI {
		delete(doc, "jwks_uri")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// set changes the issuer's behaviour under its lock.
func (ti *testIssuer) set(change func()) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	change()
}

func (ti *testIssuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	ti.jwksFetches.Add(1)
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.jwksStatus != http.StatusOK {
		http.Error(w, "unavailable", ti.jwksStatus)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(ti.jwks)
}

// publish replaces the served key set with the public halves of kids.
func (ti *testIssuer) publish(t testing.TB, kids ...string) {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, kid := range kids {
		set.Keys = append(set.Keys, key(kid).public())
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	ti.serveRawJWKS(raw)
}

func (ti *testIssuer) serveRawJWKS(raw []byte) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.jwks = raw
}

func (ti *testIssuer) setJWKSStatus(status int) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.jwksStatus = status
}

// config is the service's auth configuration for this issuer.
func (ti *testIssuer) config() config.Auth {
	return config.Auth{
		Mode:          config.AuthModeOIDC,
		Issuer:        ti.url,
		Audience:      testAudience,
		RequiredClaim: testRoles,
		RequiredValue: testRole,
	}
}

// claims are those of a valid token from issuer, to be changed per test.
func claimsFor(issuer string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":          issuer,
		"aud":          testAudience,
		"sub":          "cms-publisher",
		"iat":          now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
		"tenant":       testTenant,
		"realm_access": map[string]any{"roles": []string{"offline_access", testRole}},
	}
}

// fakeClock is a settable clock for expiry and cooldown tests.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// logBuffer collects log output from concurrent verifications.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bundle is what most tests need: an issuer, a verifier of its tokens, the
// verifier's clock and its log.
type bundle struct {
	issuer   *testIssuer
	verifier *Verifier
	clock    *fakeClock
	logs     *logBuffer
}

type setupOpts struct {
	kids   []string
	config func(*config.Auth)
}

func setup(t *testing.T, opts setupOpts) *bundle {
	t.Helper()
	if opts.kids == nil {
		opts.kids = []string{"A", "E"}
	}
	b := &bundle{issuer: newTestIssuer(t, opts.kids...), clock: newFakeClock(), logs: &logBuffer{}}
	cfg := b.issuer.config()
	if opts.config != nil {
		opts.config(&cfg)
	}
	logger := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := newVerifier(context.Background(), cfg, t.TempDir(), logger, b.clock.Now)
	if err != nil {
		t.Fatalf("newVerifier: %v", err)
	}
	b.verifier = v
	return b
}

// verify runs Verify with token as a bearer token.
func (b *bundle) verify(t *testing.T, token string) (*Principal, error) {
	t.Helper()
	return b.verifier.Verify(context.Background(), "Bearer "+token)
}

// mustVerify fails the test unless token is accepted.
func (b *bundle) mustVerify(t *testing.T, token string) *Principal {
	t.Helper()
	p, err := b.verify(t, token)
	if err != nil {
		t.Fatalf("Verify: unexpected error %v", err)
	}
	return p
}

// requireRejected checks err is an *Error with the status, code and a
// description containing want, and that it leaks nothing of the token.
func requireRejected(t *testing.T, err error, token string, status int, code, want string) *Error {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Errorf("got %d %q, want %d %q (%s)", e.Status, e.Code, status, code, e.Description)
	}
	if !strings.Contains(e.Description, want) {
		t.Errorf("description %q does not say %q", e.Description, want)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 && strings.Contains(e.Description+e.WWWAuthenticate(), part) {
			t.Errorf("description %q quotes the token", e.Description)
		}
	}
	return e
}

// unsignedToken builds an alg none token by hand; go-jose will not make one.
func unsignedToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT","kid":"A"}`)) + "." + enc(payload) + "."
}
