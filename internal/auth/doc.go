// Package auth turns the Authorization header of a purge request into a
// verified Principal, or into an Error that the HTTP layer can show as is.
//
// In oidc mode tokens are checked with go-oidc against the configured issuer:
// discovery at start-up (an issuer that differs from the discovery document,
// even by a trailing slash, is a start-up error naming auth.issuer), the
// issuer's JWKS fetched again when a token names an unknown key, audience,
// expiry and asymmetric algorithms only. In dev mode a P-256 key pair under
// the data directory signs and verifies tokens minted by MintDev.
//
// A verified token is remembered under the SHA-256 of its text until it
// expires, so a client that reuses one token pays for its signature once.
//
// Logging: a rejected token is logged at Info with a short reason and never
// with the token or its claims; a failure to fetch keys is logged at Error.
// Log calls carry the request's context, so a handler that reads the tracking
// id from it adds tracking_id to these lines too.
package auth
