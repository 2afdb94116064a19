package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/imgpurge/imgpurge/internal/config"
)

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	t.Run("RS256", func(t *testing.T) {
		t.Parallel()
		p := b.mustVerify(t, key("A").sign(t, claimsFor(b.issuer.url)))
		if p.Subject != "cms-publisher" || !slices.Equal(p.Tenants, []string{testTenant}) {
			t.Errorf("principal = %+v", p)
		}
		if time.Until(p.Expiry) < 59*time.Minute {
			t.Errorf("expiry %v is not the token's", p.Expiry)
		}
	})
	t.Run("ES256", func(t *testing.T) {
		t.Parallel()
		b.mustVerify(t, key("E").sign(t, claimsFor(b.issuer.url)))
	})
	t.Run("lower-case scheme", func(t *testing.T) {
		t.Parallel()
		tok := key("A").sign(t, claimsFor(b.issuer.url))
		if _, err := b.verifier.Verify(t.Context(), "bearer "+tok); err != nil {
			t.Fatal(err)
		}
	})
}

// Case C14: aud may be a string or an array, and neither breaks decoding of
// the service's own claims.
func TestVerifyAudience(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, tc := range []struct {
		name string
		aud  any
		ok   bool
	}{
		{"string", "purge-api", true},
		{"array", []string{"purge-api", "account"}, true},
		{"array without ours", []string{"account"}, false},
		{"other string", "account", false},
		{"missing", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsFor(b.issuer.url)
			c["aud"] = tc.aud
			if tc.aud == nil {
				delete(c, "aud")
			}
			tok := key("A").sign(t, c)
			p, err := b.verify(t, tok)
			if !tc.ok {
				e := requireRejected(t, err, tok, 401, CodeInvalidToken, "audience is not accepted")
				if !strings.Contains(e.Description, "expected purge-api") {
					t.Errorf("description %q does not name the expected audience", e.Description)
				}
				return
			}
			if err != nil || !slices.Equal(p.Tenants, []string{testTenant}) {
				t.Fatalf("got %+v, %v", p, err)
			}
		})
	}
}

func TestVerifyRejectsClaims(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, tc := range []struct {
		name   string
		change func(c map[string]any)
		want   string
	}{
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example.test" },
			descIssuer},
		// Case C12, second run: a trailing slash is a different issuer.
		{"issuer with trailing slash",
			func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }, descIssuer},
		{"missing issuer", func(c map[string]any) { delete(c, "iss") }, descIssuer},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() },
			descExpired},
		{"missing exp", func(c map[string]any) { delete(c, "exp") }, "token has no expiry (exp)"},
		{"not yet valid", func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() },
			descNotYetValid},
		{"exp of the wrong type", func(c map[string]any) { c["exp"] = "tomorrow" }, descMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsFor(b.issuer.url)
			tc.change(c)
			tok := key("A").sign(t, c)
			_, err := b.verify(t, tok)
			e := requireRejected(t, err, tok, 401, CodeInvalidToken, tc.want)
			if strings.Contains(e.Description, "evil") {
				t.Errorf("description %q quotes the token's issuer", e.Description)
			}
		})
	}
}

func TestVerifyRejectsAlgorithms(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	t.Run("alg none", func(t *testing.T) {
		t.Parallel()
		tok := unsignedToken(t, claimsFor(b.issuer.url))
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descAlgorithm)
	})
	t.Run("HS256 keyed with the RSA public key", func(t *testing.T) {
		t.Parallel()
		// The classic confusion attack: the public key, which anyone can
		// fetch, used as an HMAC secret.
		der, err := x509.MarshalPKIXPublicKey(key("A").priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		hs := signingKey{kid: "A", alg: jose.HS256}
		tok := hs.signHMAC(t, secret, claimsFor(b.issuer.url))
		_, err = b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descAlgorithm)
	})
	t.Run("RS384 not configured", func(t *testing.T) {
		t.Parallel()
		k := key("A")
		k.alg = jose.RS384
		tok := k.sign(t, claimsFor(b.issuer.url))
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descAlgorithm)
	})
}

func (k signingKey) signHMAC(t *testing.T, secret []byte, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: secret}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejectsSignatures(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	t.Run("tampered payload", func(t *testing.T) {
		t.Parallel()
		tok := key("A").sign(t, claimsFor(b.issuer.url))
		parts := strings.Split(tok, ".")
		c := claimsFor(b.issuer.url)
		c["sub"] = "someone-else"
		payload, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		forged := strings.Join(parts, ".")
		_, err = b.verify(t, forged)
		requireRejected(t, err, forged, 401, CodeInvalidToken, descSignature)
	})
	t.Run("known kid, other key", func(t *testing.T) {
		t.Parallel()
		k := key("Z")
		k.kid = "A"
		tok := k.sign(t, claimsFor(b.issuer.url))
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descSignature)
	})
	t.Run("unknown kid", func(t *testing.T) {
		t.Parallel()
		tok := key("Z").sign(t, claimsFor(b.issuer.url))
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descSignature)
	})
	t.Run("signed payload that is not JSON", func(t *testing.T) {
		t.Parallel()
		tok := key("A").signRaw(t, []byte("not json"))
		_, err := b.verify(t, tok)
		requireRejected(t, err, tok, 401, CodeInvalidToken, descMalformed)
	})
	t.Run("not base64", func(t *testing.T) {
		t.Parallel()
		_, err := b.verify(t, "a!.b!.c!")
		requireRejected(t, err, "", 401, CodeInvalidToken, descMalformed)
	})
}

func TestVerifyRequiredClaim(t *testing.T) {
	t.Parallel()

	t.Run("missing role is 403", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{})
		for name, roles := range map[string]any{
			"other roles": map[string]any{"roles": []string{"offline_access"}},
			"no roles":    map[string]any{},
			"not object":  "image-purger",
		} {
			t.Run(name, func(t *testing.T) {
				c := claimsFor(b.issuer.url)
				c["realm_access"] = roles
				tok := key("A").sign(t, c)
				_, err := b.verify(t, tok)
				requireRejected(t, err, tok, http.StatusForbidden, CodeInsufficientScope, testRole)
			})
		}
	})
	t.Run("scope string claim", func(t *testing.T) {
		t.Parallel()
		b := setup(t, setupOpts{config: func(c *config.Auth) {
			c.RequiredClaim, c.RequiredValue = "scope", "images:purge"
		}})
		for _, tc := range []struct {
			name  string
			scope any
			ok    bool
		}{
			{"among others", "openid images:purge profile", true},
			{"alone", "images:purge", true},
			{"as an array", []string{"openid", "images:purge"}, true},
			{"prefix only", "openid images:purge-all", false},
			{"array element with spaces", []string{"openid images:purge"}, false},
			{"missing", nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := claimsFor(b.issuer.url)
				if tc.scope != nil {
					c["scope"] = tc.scope
				}
				tok := key("A").sign(t, c)
				_, err := b.verify(t, tok)
				if tc.ok {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				requireRejected(t, err, tok, 403, CodeInsufficientScope, "images:purge in scope")
			})
		}
	})
}

func TestVerifyTenantsAndDatastore(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{config: func(c *config.Auth) {
		c.DatastoreClaim = "imgpurge.datastore"
	}})
	for _, tc := range []struct {
		name      string
		tenant    any
		datastore any
		tenants   []string
		ds        string
	}{
		{"string tenant", "media", "legacy", []string{"media"}, "legacy"},
		{"array tenant", []any{"media", 7, "", "legacy"}, nil, []string{"media", "legacy"}, ""},
		{"no tenant", nil, []string{"not", "a string"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claimsFor(b.issuer.url)
			delete(c, "tenant")
			if tc.tenant != nil {
				c["tenant"] = tc.tenant
			}
			if tc.datastore != nil {
				c["imgpurge"] = map[string]any{"datastore": tc.datastore}
			}
			p := b.mustVerify(t, key("A").sign(t, c))
			if !slices.Equal(p.Tenants, tc.tenants) || p.Datastore != tc.ds {
				t.Errorf("got tenants %q datastore %q, want %q %q",
					p.Tenants, p.Datastore, tc.tenants, tc.ds)
			}
		})
	}
}

func TestVerifyHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, tc := range []struct {
		name, header, code, want string
	}{
		{"missing", "", "", "a bearer token is required"},
		{"basic scheme", "Basic dXNlcjpwYXNz", CodeInvalidRequest, "Bearer scheme"},
		{"scheme only", "Bearer", CodeInvalidRequest, "empty"},
		{"scheme and space", "Bearer   ", CodeInvalidRequest, "empty"},
		{"not a JWT", "Bearer opaque-token", CodeInvalidToken, descMalformed},
		{"JSON serialization", `Bearer {"payload":"e30","signatures":[]}`, CodeInvalidToken,
			descMalformed},
		{"too long", "Bearer " + strings.Repeat("a", maxTokenBytes) + "..", CodeInvalidToken,
			"too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.verifier.Verify(t.Context(), tc.header)
			requireRejected(t, err, "", 401, tc.code, tc.want)
		})
	}
}

// A rejected token is logged with its reason, never with its text.
func TestVerifyLogsReasonNotToken(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	c := claimsFor(b.issuer.url)
	c["exp"] = time.Now().Add(-time.Minute).Unix()
	tok := key("A").sign(t, c)
	_, _ = b.verify(t, tok)

	logs := b.logs.String()
	if !strings.Contains(logs, `"reason":"token is expired"`) ||
		!strings.Contains(logs, `"level":"INFO"`) {
		t.Errorf("rejection not logged at Info with its reason:\n%s", logs)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(logs, part) {
			t.Fatalf("log contains the token:\n%s", logs)
		}
	}
}
