package auth

import (
	"context"
	"log/slog"
)

// Verify checks an Authorization header value ("Bearer <token>") and returns
// the caller it proves, or an *Error. A token seen before is answered from
// the cache until it expires, without checking its signature again.
func (v *Verifier) Verify(ctx context.Context, authorization string) (*Principal, error) {
	token, aerr := bearerToken(authorization)
	if aerr != nil {
		return nil, v.reject(ctx, aerr)
	}
	key := keyOf(token)
	now := v.now()
	if p := v.cache.get(key, now); p != nil {
		return p, nil
	}
	p, aerr := v.verify(ctx, token)
	if aerr != nil {
		return nil, v.reject(ctx, aerr)
	}
	v.cache.put(key, p, now)
	return p, nil
}

// verify runs the full check: signature, iss, aud and exp in go-oidc, then
// the required scope or role here.
func (v *Verifier) verify(ctx context.Context, token string) (*Principal, *Error) {
	tok, err := v.oidc.Verify(ctx, token)
	if err != nil {
		return nil, v.rejection(err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, invalidToken(descMalformed)
	}
	if v.requiredClaim != "" {
		c, _ := lookupClaim(claims, v.requiredClaim)
		if !hasValue(c, v.requiredValue) {
			return nil, forbidden("token does not carry " + v.requiredValue +
				" in " + v.requiredClaim)
		}
	}
	p := &Principal{Subject: tok.Subject, Expiry: tok.Expiry}
	if c, ok := lookupClaim(claims, v.tenantClaim); ok {
		p.Tenants = stringList(c)
	}
	if v.datastoreClaim != "" {
		c, _ := lookupClaim(claims, v.datastoreClaim)
		p.Datastore, _ = c.(string)
	}
	return p, nil
}

// reject logs a refused request with its reason only, never the token, and
// returns e as an error.
func (v *Verifier) reject(ctx context.Context, e *Error) error {
	v.logger.InfoContext(ctx, "auth: request rejected",
		slog.Int("status", e.Status), slog.String("reason", e.Description))
	return e
}
