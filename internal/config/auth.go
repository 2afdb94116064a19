package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Auth modes.
const (
	// AuthModeOIDC verifies tokens from an identity provider, found by OIDC
	// discovery or through a configured JWKS URL.
	AuthModeOIDC = "oidc"
	// AuthModeDev verifies tokens signed by a key pair generated under the
	// data directory, minted with `imgpurge token --dev`. For local use only.
	AuthModeDev = "dev"
)

// DevIssuer is the issuer of development tokens.
const DevIssuer = "imgpurge-dev"

// Auth says which bearer tokens are accepted and what they entitle.
type Auth struct {
	// Mode is "oidc" or "dev". Default oidc.
	Mode string `yaml:"mode"`
	// Issuer must equal the token's iss and, with discovery, the discovery
	// document's issuer, byte for byte.
	Issuer string `yaml:"issuer"`
	// Audience must be one of the token's aud values.
	Audience string `yaml:"audience"`
	// JWKSURL, when set, is used instead of OIDC discovery.
	JWKSURL string `yaml:"jwks_url"`
	// Algorithms accepted; only asymmetric ones may be listed. Default RS256
	// and ES256.
	Algorithms []string `yaml:"algorithms"`
	// RequiredClaim and RequiredValue name the scope or role a token must
	// carry, e.g. scope / images:purge or realm_access.roles / image-purger.
	// A dotted name walks nested objects; a string claim is split on spaces.
	RequiredClaim string `yaml:"required_claim"`
	RequiredValue string `yaml:"required_value"`
	// TenantClaim names the claim listing the tenants a token acts for.
	// Default "tenant".
	TenantClaim string `yaml:"tenant_claim"`
	// DatastoreClaim, when set, names a claim that picks the datastore of
	// requests without a datastore query parameter.
	DatastoreClaim string `yaml:"datastore_claim"`
	// KeysRefreshInterval is the least time between two fetches of the key
	// set caused by tokens with an unknown key id. Default 10s.
	KeysRefreshInterval Duration `yaml:"keys_refresh_interval"`
	// DiscoveryTimeout bounds issuer discovery at start-up. Default 15s.
	DiscoveryTimeout Duration `yaml:"discovery_timeout"`
	// TokenCacheSize bounds how many verified tokens are remembered.
	// Default 10000; 0 after defaults means the default, -1 turns it off.
	TokenCacheSize int `yaml:"token_cache_size"`
}

var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// WithDefaults returns a copy of a with every empty field set to its default,
// as Parse does. Code that builds an Auth by hand (tests, the token command)
// gets the same values as one read from a file.
func (a Auth) WithDefaults() Auth {
	a.applyDefaults()
	return a
}

// Validate reports every problem with a, each naming its field under auth.
func (a Auth) Validate() error {
	return errors.Join(a.validate()...)
}

func (a *Auth) applyDefaults() {
	if a.Mode == "" {
		a.Mode = AuthModeOIDC
	}
	if a.Mode == AuthModeDev && a.Issuer == "" {
		a.Issuer = DevIssuer
	}
	if len(a.Algorithms) == 0 {
		a.Algorithms = []string{"RS256", "ES256"}
	}
	if a.TenantClaim == "" {
		a.TenantClaim = "tenant"
	}
	if a.KeysRefreshInterval == 0 {
		a.KeysRefreshInterval = Duration(10 * time.Second)
	}
	if a.DiscoveryTimeout == 0 {
		a.DiscoveryTimeout = Duration(15 * time.Second)
	}
	if a.TokenCacheSize == 0 {
		a.TokenCacheSize = 10000
	}
}

func (a *Auth) validate() []error {
	var errs []error
	add := func(field, format string, v ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: %s", field, fmt.Sprintf(format, v...)))
	}
	switch a.Mode {
	case AuthModeOIDC:
		if a.Issuer == "" {
			add("issuer", "required in oidc mode")
		} else if u, err := url.Parse(a.Issuer); err != nil || u.Host == "" ||
			(u.Scheme != "https" && u.Scheme != "http") {
			add("issuer", "%q is not an http(s) URL", a.Issuer)
		}
		if a.JWKSURL != "" {
			if u, err := url.Parse(a.JWKSURL); err != nil || u.Host == "" {
				add("jwks_url", "%q is not a URL", a.JWKSURL)
			}
		}
	case AuthModeDev:
	default:
		add("mode", "must be %q or %q, not %q", AuthModeOIDC, AuthModeDev, a.Mode)
	}
	if a.Audience == "" {
		add("audience", "required")
	}
	for i, alg := range a.Algorithms {
		if !slices.Contains(asymmetric, alg) {
			add(fmt.Sprintf("algorithms[%d]", i), "%q is not an accepted asymmetric algorithm (%s)",
				alg, strings.Join(asymmetric, ", "))
		}
	}
	if (a.RequiredClaim == "") != (a.RequiredValue == "") {
		add("required_claim", "required_claim and required_value go together")
	}
	if a.KeysRefreshInterval < 0 {
		add("keys_refresh_interval", "must be positive")
	}
	return errs
}
