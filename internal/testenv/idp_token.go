package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// TokenClient is an OAuth 2 client that the token endpoint knows.
type TokenClient struct {
	ID, Secret string
	// Claims change the IdP's default claims (see IdP.Claims) in this
	// client's tokens; a nil value deletes a claim.
	Claims map[string]any
	// TTL is the lifetime of its tokens. Default one hour.
	TTL time.Duration
}

// TokenEndpoint is the IdP's OAuth 2 token endpoint for the
// client-credentials grant (RFC 6749 section 4.4): it authenticates a
// client by HTTP Basic or by form fields and returns an access token signed
// with one of the IdP's keys, so imgpurged verifies it like any other.
//
// Known limitation: it listens on its own 127.0.0.1 port, not under
// IdP.URL, because the IdP's handler has no hook for more routes; the
// discovery document's token_endpoint therefore names a path that answers
// 404. Clients here are given the token URL, as a cron job would be.
type TokenEndpoint struct {
	// URL is the endpoint's address, ending in /token.
	URL string

	idp      *IdP
	kid      string
	clients  map[string]TokenClient
	requests atomic.Int64
	issued   atomic.Int64
}

// StartTokenEndpoint serves a token endpoint that signs with the key kid
// and accepts the given clients.
func (p *IdP) StartTokenEndpoint(t testing.TB, kid string, clients ...TokenClient) *TokenEndpoint {
	t.Helper()
	e := &TokenEndpoint{idp: p, kid: kid, clients: map[string]TokenClient{}}
	for _, c := range clients {
		e.clients[c.ID] = c
	}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.URL = srv.URL + "/token"
	return e
}

// Requests counts every request to the endpoint, refused ones included.
func (e *TokenEndpoint) Requests() int64 { return e.requests.Load() }

// Issued counts the tokens handed out.
func (e *TokenEndpoint) Issued() int64 { return e.issued.Load() }

func (e *TokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	client, ok := e.authenticate(w, r)
	if !ok {
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials")
		return
	}
	e.issue(w, r, client)
}

// authenticate checks the client's credentials: HTTP Basic, whose parts are
// form-encoded (RFC 6749 section 2.3.1), or client_id and client_secret
// in the body.
func (e *TokenEndpoint) authenticate(w http.ResponseWriter, r *http.Request) (TokenClient, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, known := e.clients[id]
	if !known || id == "" || c.Secret != secret {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="testenv"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return TokenClient{}, false
	}
	return c, true
}

func (e *TokenEndpoint) issue(w http.ResponseWriter, r *http.Request, c TokenClient) {
	ttl := c.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	now := time.Now()
	claims := e.idp.Claims()
	claims["sub"], claims["jti"] = c.ID, uuid.NewString()
	claims["iat"], claims["exp"] = now.Unix(), now.Add(ttl).Unix()
	for k, v := range c.Claims {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	if s := r.PostForm.Get("scope"); s != "" {
		claims["scope"] = s
	}
	if a := r.PostForm.Get("audience"); a != "" {
		claims["aud"] = a
	}
	tok, err := e.sign(claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	e.issued.Add(1)
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds())}
	if s, ok := claims["scope"].(string); ok {
		resp["scope"] = s
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// sign is IdP.Sign for a handler, which has no testing.TB to fail.
func (e *TokenEndpoint) sign(claims map[string]any) (string, error) {
	e.idp.mu.Lock()
	k := e.idp.keys[e.kid]
	e.idp.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(algOf(k)), Key: k},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", e.kid))
	if err != nil {
		return "", err
	}
	return jwt.Signed(sig).Claims(claims).Serialize()
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
