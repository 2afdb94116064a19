package cases

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/imgpurge/imgpurge/internal/app"
)

// wantRefused checks the 401 of a bad token: the failure envelope with one
// 40420201 entry saying what is wrong without quoting the token, and an RFC
// 6750 challenge with error="invalid_token".
func wantRefused(t *testing.T, r *response, token, says string) {
	t.Helper()
	e := r.failed(t, http.StatusUnauthorized, "40420201")[0]
	if !strings.Contains(e.Description, says) {
		t.Errorf("description %q does not say %q", e.Description, says)
	}
	// No part of the token (header, claims or signature) is quoted back.
	for _, part := range strings.Split(token, ".") {
		if strings.Contains(string(r.body), part) || strings.Contains(r.header.Get("WWW-Authenticate"), part) {
			t.Errorf("the answer quotes the token")
		}
	}
	ch := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", ch)
	}
}

// TestC12IssuerTrailingSlash: an issuer that differs from the discovery
// document by a trailing slash stops the start with an error naming
// auth.issuer; a token whose iss has the slash is refused.
func TestC12IssuerTrailingSlash(t *testing.T) {
	t.Parallel()

	t.Run("DiscoveryDocumentHasTheSlash", func(t *testing.T) {
		t.Parallel()
		f := prepare(t, options{})
		f.idp.Issuer = f.idp.URL + "/"
		a, err := app.New(context.Background(), f.config(t, options{}), app.NewLogger(f.logs, "debug"))
		if err == nil {
			a.Close()
			t.Fatal("the service started with an issuer that discovery does not confirm")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "auth.issuer:") || !strings.Contains(msg, "trailing slash") {
			t.Errorf("start-up error %q does not name auth.issuer and the trailing slash", msg)
		}
	})

	t.Run("TokenHasTheSlash", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed("640x360.jpg")
		tok := f.idp.Token(t, "rsa-1", map[string]any{"aud": audience, "realm_access": roles(),
			"iss": f.idp.URL + "/"})
		wantRefused(t, f.call(http.MethodDelete, "/image/"+imageID, tok), tok, "issuer is not accepted")
		if n := f.providerCalls(); n != 0 {
			t.Errorf("%d provider calls for a refused token", n)
		}
	})
}

// TestC13KeyRotation: after the issuer rotates from key A to key B, a B
// token is accepted after one more JWKS fetch, and a burst of tokens with
// an unknown key is refused without a burst of fetches.
func TestC13KeyRotation(t *testing.T) {
	t.Parallel()
	f := prepare(t, options{})
	for _, kid := range []string{"A", "B", "Z"} {
		f.idp.AddKey(t, kid, "RS256")
	}
	f.idp.Publish("A")
	f.start(t, options{})
	claims := map[string]any{"aud": audience, "realm_access": roles()}

	f.seed("640x360.jpg")
	f.call(http.MethodDelete, "/image/"+imageID, f.idp.Token(t, "A", claims)).succeeded(t)

	f.idp.Publish("B")
	fetches := f.idp.JWKSFetches()
	f.seed("640x360.jpg")
	f.call(http.MethodDelete, "/image/"+imageID, f.idp.Token(t, "B", claims)).succeeded(t)
	if n := f.idp.JWKSFetches() - fetches; n != 1 {
		t.Errorf("the B token took %d JWKS fetches, want 1", n)
	}

	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = f.idp.Token(t, "Z", map[string]any{"aud": audience, "realm_access": roles(),
			"jti": fmt.Sprintf("z-%d", i)})
	}
	calls, fetches := f.providerCalls(), f.idp.JWKSFetches()
	answers := make([]*response, len(tokens))
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Go(func() {
			r, err := f.callContext(context.Background(), http.MethodDelete, "/image/"+imageID, tok)
			if err != nil {
				t.Errorf("Z token %d: %v", i, err)
			}
			answers[i] = r
		})
	}
	wg.Wait()
	for i, r := range answers {
		if r != nil {
			wantRefused(t, r, tokens[i], "signing key is unknown")
		}
	}
	n := f.idp.JWKSFetches() - fetches
	t.Logf("50 unknown-key tokens made %d JWKS fetches", n)
	if n > 1 {
		t.Errorf("50 unknown-key tokens made %d JWKS fetches, want at most 1", n)
	}
	if got := f.providerCalls(); got != calls {
		t.Errorf("refused tokens made %d provider calls", got-calls)
	}
}

// TestC14AudienceForms: aud as a string or an array holding the audience
// is accepted, and the service's own claims still decode; an array without
// it is refused.
//
// Tokens with several audiences carry no azp here: the service does not
// check azp (go-oidc's verifier does not either), so such a token is
// accepted on its aud alone, as auth.audience documents.
func TestC14AudienceForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	for _, aud := range []any{audience, []string{audience, "account"}} {
		f.seed("640x360.jpg")
		tok := f.idp.Token(t, "rsa-1", map[string]any{"aud": aud, "realm_access": roles()})
		d := f.call(http.MethodDelete, "/image/"+imageID, tok).succeeded(t)
		if d.Datastore != "media" || len(d.Renditions) != 1 {
			t.Errorf("aud %v: purged %q of %s", aud, d.Renditions, d.Datastore)
		}
	}

	f.seed("640x360.jpg")
	calls := f.providerCalls()
	tok := f.idp.Token(t, "rsa-1", map[string]any{"aud": []string{"account"}, "realm_access": roles()})
	wantRefused(t, f.call(http.MethodDelete, "/image/"+imageID, tok), tok, "audience is not accepted")
	if got := f.providerCalls(); got != calls {
		t.Errorf("a refused token made %d provider calls", got-calls)
	}
}
