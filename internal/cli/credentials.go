package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ExpiryMargin is how long before its expiry a token is treated as expired,
// so that a request does not carry a token that lapses on its way.
const ExpiryMargin = time.Minute

// secret is a credential that prints as a placeholder, so a stray %v in an
// error or a log line cannot show it.
type secret string

func (secret) String() string   { return "[redacted]" }
func (secret) GoString() string { return "[redacted]" }
func (s secret) reveal() string { return string(s) }

// tokenSource returns the bearer token of each request. A client-credentials
// token comes from the disk cache when one is still valid there, is fetched
// otherwise, and is fetched again when it expires during a long run.
func tokenSource(ctx context.Context, c *connFlags, hc *http.Client, cache *tokenCache) oauth2.TokenSource {
	if c.token != "" {
		return staticSource{secret(c.token)}
	}
	cc := &clientcredentials.Config{
		ClientID: c.clientID, ClientSecret: c.clientSecret, TokenURL: c.tokenURL,
		Scopes: strings.Fields(c.scope),
	}
	if c.audience != "" {
		cc.EndpointParams = url.Values{"audience": {c.audience}}
	}
	ctx = context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
	fetch := &cachingSource{ctx: ctx, cc: cc, cache: cache, key: cache.key(c)}
	cur := oauth2.ReuseTokenSourceWithExpiry(fetch.cached(), fetch, ExpiryMargin)
	return &renewableSource{fetch: fetch, cur: cur}
}

// renewer is a token source that can replace a token the server refused.
type renewer interface {
	// renew drops the current token so the next one is fetched anew; it
	// reports false when it will not, having done so once already.
	renew() bool
}

// renewableSource serves the cached or fetched token until imgpurged
// refuses it: a key rotated at the identity provider, say, leaves a token
// in the cache that looks valid for another hour. Then it fetches a new
// one, once per run, so a bad token cannot set off a fetch per purge.
type renewableSource struct {
	fetch   *cachingSource
	mu      sync.Mutex
	cur     oauth2.TokenSource
	renewed bool
}

func (s *renewableSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	src := s.cur
	s.mu.Unlock()
	return src.Token()
}

func (s *renewableSource) renew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renewed {
		return false
	}
	s.renewed = true
	s.fetch.cache.remove(s.fetch.key)
	s.cur = oauth2.ReuseTokenSourceWithExpiry(nil, s.fetch, ExpiryMargin)
	return true
}

type staticSource struct{ tok secret }

func (s staticSource) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: s.tok.reveal(), TokenType: "Bearer"}, nil
}

// cachingSource fetches a new token from the endpoint on every call and
// keeps it on disk. (The library's own TokenSource would hand back the
// token it holds, which is not what a renewal wants.)
type cachingSource struct {
	ctx   context.Context
	cc    *clientcredentials.Config
	cache *tokenCache
	key   cacheKey
}

// cached returns the token on disk if it is still valid, else nil.
func (s *cachingSource) cached() *oauth2.Token {
	tok := s.cache.load(s.key)
	if tok == nil || tok.Expiry.Add(-ExpiryMargin).Before(time.Now()) {
		return nil
	}
	return tok
}

func (s *cachingSource) Token() (*oauth2.Token, error) {
	tok, err := s.cc.Token(s.ctx)
	if err != nil {
		return nil, tokenError(err)
	}
	s.cache.store(s.key, tok)
	return tok, nil
}

// errCredentials marks a token endpoint that refused the client.
var errCredentials = errors.New("the token endpoint refused the client credentials")

// tokenError describes a token endpoint failure by its OAuth error code,
// never by its body, which a misbehaving endpoint might fill with anything.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("getting a token: %w", err)
	}
	desc := re.ErrorCode
	if desc == "" && re.Response != nil {
		desc = "HTTP " + re.Response.Status
	}
	if re.ErrorDescription != "" {
		desc += " (" + re.ErrorDescription + ")"
	}
	return fmt.Errorf("%w: %s", errCredentials, desc)
}
