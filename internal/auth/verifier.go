package auth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/imgpurge/imgpurge/internal/config"
)

// keysFetchTimeout bounds one JWKS fetch. A request waiting on a fetch
// stops waiting when its own context ends; this bounds the fetch itself.
const keysFetchTimeout = 5 * time.Second

// Principal is a verified caller. A Principal may be shared between the
// requests that present the same token, so callers must not modify it.
type Principal struct {
	Subject string
	// Tenants are the values of auth.tenant_claim, a string or an array.
	Tenants []string
	// Datastore is the value of auth.datastore_claim when configured and
	// present as a string.
	Datastore string
	Expiry    time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use and starts
// no goroutines of its own, so it needs no Close.
type Verifier struct {
	issuer         string
	audience       string
	requiredClaim  string
	requiredValue  string
	tenantClaim    string
	datastoreClaim string

	oidc   *oidc.IDTokenVerifier
	remote *remoteKeySet // nil in dev mode, whose keys are static
	cache  *tokenCache
	now    func() time.Time
	logger *slog.Logger
}

// New builds a verifier for cfg. In oidc mode it runs discovery, unless
// auth.jwks_url is set, and loads the keys once; keys that cannot be loaded
// yet leave the verifier not Ready rather than failing the start. In dev
// mode it loads or creates the development key under dataDir.
func New(ctx context.Context, cfg config.Auth, dataDir string,
	logger *slog.Logger) (*Verifier, error) {
	return newVerifier(ctx, cfg, dataDir, logger, time.Now)
}

func newVerifier(ctx context.Context, cfg config.Auth, dataDir string,
	logger *slog.Logger, now func() time.Time) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{
		issuer:         cfg.Issuer,
		audience:       cfg.Audience,
		requiredClaim:  cfg.RequiredClaim,
		requiredValue:  cfg.RequiredValue,
		tenantClaim:    cfg.TenantClaim,
		datastoreClaim: cfg.DatastoreClaim,
		cache:          newTokenCache(cfg.TokenCacheSize),
		now:            now,
		logger:         logger,
	}
	if cfg.Mode == config.AuthModeDev {
		return v, v.initDev(dataDir)
	}
	return v, v.initOIDC(ctx, cfg)
}

func (v *Verifier) initOIDC(ctx context.Context, cfg config.Auth) error {
	client := &http.Client{Timeout: min(keysFetchTimeout, cfg.DiscoveryTimeout.D())}
	jwksURL := cfg.JWKSURL
	if jwksURL == "" {
		var err error
		jwksURL, err = discover(ctx, cfg.Issuer, cfg.DiscoveryTimeout.D(), client, v.logger)
		if err != nil {
			return err
		}
	}
	v.remote = &remoteKeySet{
		url:       jwksURL,
		client:    client,
		algs:      signatureAlgorithms(cfg.Algorithms),
		cooldown:  cfg.KeysRefreshInterval.D(),
		now:       v.now,
		logger:    v.logger,
		withdrawn: v.cache.clear,
	}
	// A failed first load is logged and left to Ready and to the first
	// token: an identity provider that is briefly down should make this
	// replica unready, not crash it in a loop.
	_ = v.remote.load(ctx)
	v.useKeySet(v.remote, cfg.Algorithms)
	return nil
}

// useKeySet makes go-oidc check signatures with keys. The algorithms are
// the configured ones, never what the issuer advertises, so none and HS256
// cannot be switched on from outside.
func (v *Verifier) useKeySet(keys oidc.KeySet, algs []string) {
	v.oidc = oidc.NewVerifier(v.issuer, keys, &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: algs,
		Now:                  v.now,
	})
}

func signatureAlgorithms(algs []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// Ready reports whether signing keys are loaded, for /readyz. In oidc mode
// with no keys yet it tries to fetch them, within the refresh cooldown.
func (v *Verifier) Ready(ctx context.Context) error {
	if v.remote == nil {
		return nil
	}
	return v.remote.ready(ctx)
}
