package auth

import (
	"strings"
)

// maxTokenBytes bounds the token text hashed and parsed per request. Real
// access tokens are a few kilobytes at most; anything longer is refused before
// any work is spent on it.
const maxTokenBytes = 16 << 10

// bearerToken takes the token out of an Authorization header value. The
// scheme is case-insensitive (RFC 7235 2.1).
func bearerToken(header string) (string, *Error) {
	if header == "" {
		return "", unauthorized("", "a bearer token is required")
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", unauthorized(CodeInvalidRequest,
			"the Authorization header must use the Bearer scheme")
	}
	token = strings.TrimLeft(token, " ")
	switch {
	case token == "":
		return "", unauthorized(CodeInvalidRequest, "the bearer token is empty")
	case len(token) > maxTokenBytes:
		return "", invalidToken("token is too long")
	case strings.Count(token, ".") != 2:
		// Only compact JWS is accepted; counting dots here keeps garbage and
		// JSON-serialized tokens away from the cache and the parser.
		return "", invalidToken("token is malformed")
	}
	return token, nil
}
