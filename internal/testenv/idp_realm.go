package testenv

import (
	"crypto"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// StartRealmIdP is StartIdP with the issuer under a path, the way Keycloak
// serves a realm: for realm "/realms/media", URL and Issuer are
// http://127.0.0.1:port/realms/media, and the discovery document and JWKS
// are served beneath that path. Issuers with a path are where a trailing
// slash goes missing or appears (case C12), so tests of that need one.
func StartRealmIdP(t testing.TB, realm string) *IdP {
	t.Helper()
	if !strings.HasPrefix(realm, "/") || strings.HasSuffix(realm, "/") {
		t.Fatalf("realm %q must start with / and not end with one", realm)
	}
	idp := &IdP{keys: map[string]crypto.Signer{}}
	idp.AddKey(t, "rsa-1", "RS256")
	idp.AddKey(t, "ec-1", "ES256")
	idp.Publish("rsa-1", "ec-1")
	// serve answers the paths below the realm; anything else is not found.
	srv := httptest.NewServer(http.StripPrefix(realm, http.HandlerFunc(idp.serve)))
	t.Cleanup(srv.Close)
	idp.URL = srv.URL + realm
	idp.Issuer = idp.URL
	return idp
}
