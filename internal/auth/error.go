package auth

import (
	"net/http"
	"strings"
)

// Realm is the realm named in every WWW-Authenticate challenge.
const Realm = "imgpurge"

// RFC 6750 error codes.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is an authentication or authorization failure. Its description is
// written by this package and never quotes the token or its claims, so it is
// safe to show to the caller.
type Error struct {
	// Status is 401 for a missing or bad token, 403 for a valid token that
	// lacks the required scope or role.
	Status int
	// Code is the RFC 6750 error code; empty when no credentials were sent.
	Code string
	// Description says what is wrong.
	Description string
}

func (e *Error) Error() string {
	return "auth: " + e.Description
}

// WWWAuthenticate returns the RFC 6750 challenge for the response header.
// A request without credentials gets the bare challenge, as RFC 6750 3.1
// advises, so clients are not told about errors they did not make.
func (e *Error) WWWAuthenticate() string {
	if e.Code == "" {
		return `Bearer realm="` + Realm + `"`
	}
	return `Bearer realm="` + Realm + `", error="` + e.Code +
		`", error_description="` + quotable(e.Description) + `"`
}

// quotable keeps only the characters RFC 6750 allows in error_description,
// so no description can break the quoted string or inject a header line.
func quotable(s string) string {
	ok := func(r rune) bool { return r >= 0x20 && r <= 0x7e && r != '"' && r != '\\' }
	if strings.IndexFunc(s, func(r rune) bool { return !ok(r) }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if ok(r) {
			return r
		}
		return '\''
	}, s)
}

func unauthorized(code, description string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Description: description}
}

func invalidToken(description string) *Error {
	return unauthorized(CodeInvalidToken, description)
}

func forbidden(description string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope,
		Description: description}
}
