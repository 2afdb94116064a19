package auth

import (
	"errors"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Descriptions of rejected tokens. They are fixed strings so that nothing
// from the token reaches the caller or the log.
const (
	descExpired      = "token is expired"
	descAudience     = "audience is not accepted"
	descIssuer       = "issuer is not accepted"
	descSignature    = "signature is not valid or the signing key is unknown"
	descAlgorithm    = "signing algorithm is not accepted"
	descMalformed    = "token is malformed"
	descNotYetValid  = "token is not valid yet"
	descKeysMissing  = "signing keys are unavailable; try again later"
	descTokenInvalid = "token is not valid"
)

// oidcMessages maps go-oidc's error texts to descriptions, first match wins.
// go-oidc wraps most causes with %v, so the text is all there is to go on.
// The tests drive a real token to every entry a compact JWS can reach, so a
// go-oidc upgrade that rewords one fails there and not in production.
var oidcMessages = []struct{ fragment, description string }{
	{errKeysUnavailable.Error(), descKeysMissing},
	{"unexpected signature algorithm", descAlgorithm},
	{"oidc: malformed jwt", descMalformed},
	{"failed to verify signature", descSignature},
	{"issued by a different provider", descIssuer},
	{"expected audience", descAudience},
	{"before the nbf", descNotYetValid},
	{"failed to unmarshal claims", descMalformed},
	{"id token not signed", descMalformed},
	{"multiple signatures", descMalformed},
}

// describe turns an error from oidc.IDTokenVerifier.Verify into a
// description fit for the caller.
func describe(err error) string {
	if te, ok := errors.AsType[*oidc.TokenExpiredError](err); ok {
		// A token without exp has a zero expiry and lands here too: a token
		// that never expires is not accepted, and the caller is told why.
		if te.Expiry.IsZero() {
			return "token has no expiry (exp)"
		}
		return descExpired
	}
	msg := err.Error()
	for _, m := range oidcMessages {
		if strings.Contains(msg, m.fragment) {
			return m.description
		}
	}
	return descTokenInvalid
}

// rejection builds the Error for a token go-oidc refused. The expected
// audience is configuration, not token content, so it may be named.
func (v *Verifier) rejection(err error) *Error {
	d := describe(err)
	if d == descAudience {
		d += " (expected " + v.audience + ")"
	}
	return invalidToken(d)
}
