package auth

import (
	"testing"
)

func TestWWWAuthenticate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"no credentials", unauthorized("", "a bearer token is required"),
			`Bearer realm="imgpurge"`},
		{"invalid token", invalidToken(descExpired),
			`Bearer realm="imgpurge", error="invalid_token", error_description="token is expired"`},
		{"invalid request", unauthorized(CodeInvalidRequest, "the bearer token is empty"),
			`Bearer realm="imgpurge", error="invalid_request", ` +
				`error_description="the bearer token is empty"`},
		{"insufficient scope", forbidden("token does not carry image-purger in realm_access.roles"),
			`Bearer realm="imgpurge", error="insufficient_scope", ` +
				`error_description="token does not carry image-purger in realm_access.roles"`},
		// A configured value with a quote or a line break cannot break out of
		// the quoted string.
		{"unsafe characters", invalidToken("audience \"x\\y\"\r\nSet-Cookie: a=b é"),
			`Bearer realm="imgpurge", error="invalid_token", ` +
				`error_description="audience 'x'y'''Set-Cookie: a=b '"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.err.WWWAuthenticate(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	if e := invalidToken(descExpired); e.Status != 401 || e.Error() != "auth: token is expired" {
		t.Errorf("invalidToken = %+v, %q", e, e.Error())
	}
	if e := forbidden("x"); e.Status != 403 || e.Code != CodeInsufficientScope {
		t.Errorf("forbidden = %+v", e)
	}
}
