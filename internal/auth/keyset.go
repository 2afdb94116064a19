package auth

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// maxJWKSBytes bounds a key set document; real ones are a few kilobytes.
const maxJWKSBytes = 1 << 20

var (
	errUnknownKey = errors.New("signing key is unknown")
	errBadSig     = errors.New("signature does not verify")
	// errKeysUnavailable is matched by its text in classify.go, because
	// go-oidc passes key set errors on with %v.
	errKeysUnavailable = errors.New("no signing keys are available")
)

// remoteKeySet is an oidc.KeySet over a JWKS URL. Unlike go-oidc's own, it
// limits how often tokens naming unknown keys can make it fetch: a flood of
// tokens with made-up kids would otherwise turn into a flood of requests to
// the identity provider (case C13).
type remoteKeySet struct {
	url      string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	cooldown time.Duration
	now      func() time.Time
	logger   *slog.Logger
	// withdrawn is called after a fetch drops a key that was in use.
	withdrawn func()

	keys  atomic.Pointer[[]jose.JSONWebKey]
	group singleflight.Group

	mu          sync.Mutex
	lastRefresh time.Time // guarded by mu
	lastErr     error     // guarded by mu; why the last fetch failed
}

// VerifySignature implements oidc.KeySet: it checks the signature with the
// key the token names and returns the payload.
func (s *remoteKeySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, s.algs)
	if err != nil {
		return nil, err
	}
	sig := jws.Signatures[0].Header
	cands := candidates(s.current(), sig.KeyID, sig.Algorithm)
	if len(cands) == 0 {
		// The issuer may have rotated its keys; look again, whether or not
		// this call was the one allowed to fetch. A failed fetch was logged
		// where it happened; the caller only learns the outcome.
		_ = s.refresh(ctx)
		keys := s.current()
		if len(keys) == 0 {
			return nil, errKeysUnavailable
		}
		cands = candidates(keys, sig.KeyID, sig.Algorithm)
	}
	if len(cands) == 0 {
		return nil, errUnknownKey
	}
	for _, k := range cands {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errBadSig
}

func (s *remoteKeySet) current() []jose.JSONWebKey {
	if p := s.keys.Load(); p != nil {
		return *p
	}
	return nil
}

// candidates returns the keys that may have signed a token with this kid
// and alg. A token without kid is tried against every key, and a kid is
// tried against keys published without one, as small issuers do both.
func candidates(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range keys {
		if (k.KeyID == kid || kid == "" || k.KeyID == "") &&
			(k.Algorithm == "" || k.Algorithm == alg) {
			out = append(out, k)
		}
	}
	return out
}

// ready reports whether any key is loaded, fetching if none is and the
// cooldown allows.
func (s *remoteKeySet) ready(ctx context.Context) error {
	if len(s.current()) > 0 {
		return nil
	}
	err := s.refresh(ctx)
	if len(s.current()) > 0 {
		return nil
	}
	if err == nil {
		// The cooldown held the fetch back; report why the last one failed.
		s.mu.Lock()
		err = cmp.Or(s.lastErr, errKeysUnavailable)
		s.mu.Unlock()
	}
	return fmt.Errorf("auth: no signing keys loaded from %s: %w", s.url, err)
}

// refresh fetches the key set at most once per cooldown, sharing one fetch
// among concurrent callers. A caller whose context ends stops waiting; the
// fetch itself runs on, bounded by the client's timeout, for the others.
func (s *remoteKeySet) refresh(ctx context.Context) error {
	ch := s.group.DoChan("jwks", func() (any, error) {
		if !s.mayRefresh() {
			return nil, nil
		}
		return nil, s.load(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mayRefresh claims the next refresh if the cooldown has passed. A failed
// fetch counts too, so an unreachable issuer is not hammered.
func (s *remoteKeySet) mayRefresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.lastRefresh.IsZero() && now.Sub(s.lastRefresh) < s.cooldown {
		return false
	}
	s.lastRefresh = now
	return true
}

// load fetches the key set and installs it. On failure the keys already
// loaded stay in use.
func (s *remoteKeySet) load(ctx context.Context) error {
	keys, err := s.fetch(ctx)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	if err != nil {
		s.logger.ErrorContext(ctx, "auth: fetching signing keys failed",
			slog.String("jwks_url", s.url), slog.Any("error", err))
		return err
	}
	old := s.keys.Swap(&keys)
	s.logger.InfoContext(ctx, "auth: signing keys loaded",
		slog.String("jwks_url", s.url), slog.Int("keys", len(keys)))
	if old != nil && dropsKey(*old, keys) && s.withdrawn != nil {
		s.withdrawn()
	}
	return nil
}

// dropsKey reports whether some key of old is missing from next.
func dropsKey(old, next []jose.JSONWebKey) bool {
	for _, o := range old {
		if !slices.ContainsFunc(next, func(n jose.JSONWebKey) bool { return n.KeyID == o.KeyID }) {
			return true
		}
	}
	return false
}

func (s *remoteKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, err
	}
	return s.parse(ctx, body)
}

// parse reads a JWKS document key by key, so that one key of a type go-jose
// does not know (issuers publish encryption keys beside signing keys) does
// not cost the whole set.
func (s *remoteKeySet) parse(ctx context.Context, body []byte) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a JSON Web Key Set: %w", s.url, err)
	}
	keys := make([]jose.JSONWebKey, 0, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			s.logger.WarnContext(ctx, "auth: skipping unreadable key",
				slog.String("jwks_url", s.url), slog.Any("error", err))
			continue
		}
		if usable(&k) {
			keys = append(keys, k.Public())
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no usable signing keys", s.url)
	}
	return keys, nil
}

// usable keeps asymmetric signing keys only. A symmetric key in the set
// must never verify anything: that is the HS256-with-public-key attack.
func usable(k *jose.JSONWebKey) bool {
	if !k.Valid() || (k.Use != "" && k.Use != "sig") {
		return false
	}
	switch k.Key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey,
		*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return true
	}
	return false
}
