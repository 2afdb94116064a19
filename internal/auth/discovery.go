package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Discovery retries a few times with a doubling pause, all within
// auth.discovery_timeout: an issuer that is restarting alongside imgpurge
// should not fail the start, while a wrong issuer should fail it soon.
const (
	discoveryAttempts = 4
	discoveryBackoff  = 250 * time.Millisecond
)

// discover finds the issuer's jwks_uri by OIDC discovery. go-oidc compares
// the discovered issuer with the configured one byte for byte, and so do the
// tokens' iss checks later, so a mismatch is a configuration error now
// rather than a 401 on every request (case C12).
func discover(ctx context.Context, issuer string, timeout time.Duration,
	client *http.Client, logger *slog.Logger) (string, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), timeout)
	defer cancel()
	var err error
	attempt := 1
	for ; ; attempt++ {
		var p *oidc.Provider
		if p, err = oidc.NewProvider(ctx, issuer); err == nil {
			return jwksURI(p, issuer)
		}
		if m, ok := errors.AsType[*oidc.IssuerMismatchError](err); ok {
			return "", issuerMismatch(m)
		}
		if attempt == discoveryAttempts || !pause(ctx, discoveryBackoff<<(attempt-1)) {
			break
		}
		logger.WarnContext(ctx, "auth: issuer discovery failed, retrying",
			slog.String("issuer", issuer), slog.Int("attempt", attempt), slog.Any("error", err))
	}
	return "", fmt.Errorf("auth.issuer: discovery at %s failed (%d attempts within %s): %s",
		wellKnown(issuer), attempt, timeout, shorten(err.Error()))
}

// pause waits d unless ctx ends first, and reports whether it waited.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func wellKnown(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

func issuerMismatch(m *oidc.IssuerMismatchError) error {
	hint := ""
	if strings.TrimSuffix(m.Provided, "/") == strings.TrimSuffix(m.Discovered, "/") {
		hint = " (they differ only by a trailing slash)"
	}
	return fmt.Errorf("auth.issuer: configured as %q but the discovery document at %s "+
		"names the issuer %q; the two must match byte for byte, as every token's iss must%s",
		m.Provided, wellKnown(m.Provided), m.Discovered, hint)
}

func jwksURI(p *oidc.Provider, issuer string) (string, error) {
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return "", fmt.Errorf("auth.issuer: the discovery document at %s has no jwks_uri; "+
			"set auth.jwks_url", wellKnown(issuer))
	}
	return doc.JWKSURI, nil
}

// shorten keeps an error readable when go-oidc quotes a whole error page.
func shorten(s string) string {
	const limit = 300
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
