package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"
)

// tokenCache keeps client-credentials tokens between runs, so a cron job
// that runs every minute asks the identity provider once per token
// lifetime. Files are private to the user (0600 in a 0700 directory) and
// named by a hash, so the directory listing shows no client id.
type tokenCache struct {
	// dir is "" when no cache directory could be found; then tokens are
	// fetched on every run.
	dir string
}

// newTokenCache places the cache in IMGPURGE_CACHE_DIR, else in the user's
// cache directory ($XDG_CACHE_HOME or ~/.cache on Linux) under imgpurge.
func newTokenCache(getenv func(string) string) *tokenCache {
	if d := getenv("IMGPURGE_CACHE_DIR"); d != "" {
		return &tokenCache{dir: filepath.Join(d, "tokens")}
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return &tokenCache{}
	}
	return &tokenCache{dir: filepath.Join(base, "imgpurge", "tokens")}
}

// cacheKey names one cached token. The scope and the audience are part of
// it: a token obtained for other ones must not be reused.
type cacheKey struct {
	TokenURL string `json:"token_url"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	Audience string `json:"audience,omitempty"`
}

func (c *tokenCache) key(f *connFlags) cacheKey {
	return cacheKey{TokenURL: f.tokenURL, ClientID: f.clientID, Scope: f.scope, Audience: f.audience}
}

func (c *tokenCache) path(k cacheKey) string {
	sum := sha256.Sum256([]byte(k.TokenURL + "\x00" + k.ClientID + "\x00" + k.Scope + "\x00" + k.Audience))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16])+".json")
}

type cachedToken struct {
	cacheKey
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Expiry      time.Time `json:"expiry"`
}

// load returns the cached token for k, or nil. A file that cannot be read
// or was written for another key is ignored; the next fetch replaces it.
func (c *tokenCache) load(k cacheKey) *oauth2.Token {
	if c.dir == "" {
		return nil
	}
	raw, err := os.ReadFile(c.path(k))
	if err != nil {
		return nil
	}
	var ct cachedToken
	if json.Unmarshal(raw, &ct) != nil || ct.cacheKey != k || ct.AccessToken == "" {
		return nil
	}
	return &oauth2.Token{AccessToken: ct.AccessToken, TokenType: ct.TokenType, Expiry: ct.Expiry}
}

// store writes tok for k. A token without an expiry is not cached, since
// nothing would say when to stop using it. Failing to write only costs a
// fetch on the next run, so errors are dropped.
func (c *tokenCache) store(k cacheKey, tok *oauth2.Token) {
	if c.dir == "" || tok.Expiry.IsZero() {
		return
	}
	raw, err := json.Marshal(cachedToken{cacheKey: k, AccessToken: tok.AccessToken,
		TokenType: tok.TokenType, Expiry: tok.Expiry.UTC()})
	if err != nil {
		return
	}
	_ = writePrivate(c.path(k), raw)
}

// remove deletes the cached token for k.
func (c *tokenCache) remove(k cacheKey) {
	if c.dir != "" {
		_ = os.Remove(c.path(k))
	}
}

// writePrivate replaces path with raw through a private temporary file,
// so a concurrent run never reads half a token and no one else ever can.
func writePrivate(path string, raw []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".token-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(raw)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
