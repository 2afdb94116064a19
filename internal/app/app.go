// Package app builds imgpurged from its configuration, so the command stays
// thin and tests can boot the whole service in-process.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/account"
	"github.com/imgpurge/imgpurge/internal/api"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/internal/telemetry"
	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"
)

// App is a configured imgpurged.
type App struct {
	Config  *config.Config
	Handler http.Handler
	Logger  *slog.Logger
	Journal *journal.Journal
	Metrics *telemetry.Metrics
	Tracing *telemetry.Tracing
	closers []io.Closer
	// coalescers are shared by layers of one account with the same
	// settings; buckets by every layer of one account.
	coalescers map[string]*account.Coalescer
	buckets    map[string]*rate.Limiter
}

// New builds the service. Every configuration problem that can be found
// before serving, including an unreachable or mismatched issuer and a
// provider's own settings, is returned here.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{Config: cfg, Logger: logger, Metrics: telemetry.NewMetrics(),
		coalescers: map[string]*account.Coalescer{}, buckets: map[string]*rate.Limiter{}}
	var err error
	a.Tracing, err = telemetry.NewTracing(ctx, cfg.Telemetry.OTLPEndpoint, cfg.Telemetry.ServiceName)
	if err != nil {
		return nil, fmt.Errorf("telemetry.otlp_endpoint: %w", err)
	}
	verifier, err := auth.New(ctx, cfg.Auth, cfg.DataDir, logger)
	if err != nil {
		return nil, err
	}
	stores, err := a.buildDatastores(ctx)
	if err != nil {
		a.Close()
		return nil, err
	}
	orch := &purge.Orchestrator{Logger: logger, Retry: purge.RetryPolicy{
		Base: cfg.Retry.Base.D(), MaxDelay: cfg.Retry.MaxDelay.D(), MaxAttempts: cfg.Retry.MaxAttempts,
	}, Observer: &telemetry.Observer{M: a.Metrics, Tracer: a.Tracing.Tracer}}
	byName := make(map[string]*purge.Datastore, len(stores))
	for _, ds := range stores {
		byName[ds.Name] = &ds.Datastore
	}
	a.Journal, err = journal.Open(ctx, cfg.Journal, cfg.DataDir,
		func(name string) *purge.Datastore { return byName[name] }, orch, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Journal.Completed = a.Metrics.Consistent
	a.Metrics.Registry.MustRegister(telemetry.NewJournalCollector(a.Journal))
	a.Handler = a.Tracing.Handler(a.Metrics.Middleware(api.New(api.Options{
		Auth: verifier, Datastores: stores, Orchestrator: orch, Journal: a.Journal,
		RequestTimeout: cfg.RequestTimeout.D(), Logger: logger,
		Metrics: a.Metrics.Handler(), Consistent: a.Metrics.Consistent,
	})))
	return a, nil
}

func (a *App) buildDatastores(ctx context.Context) ([]*api.Datastore, error) {
	var out []*api.Datastore
	var errs []error
	for i, dc := range a.Config.Datastores {
		rule, err := selector.NewIDRule(dc.IDPattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("datastores[%d].id_pattern: %w", i, err))
			continue
		}
		ds := &api.Datastore{
			Datastore: purge.Datastore{Name: dc.Name},
			Default:   dc.Default, Tenants: dc.Tenants, IDRule: rule,
		}
		for j, lc := range dc.Layers {
			field := fmt.Sprintf("datastores[%d].layers[%d]", i, j)
			p, err := a.buildProvider(ctx, dc, lc)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.%w", field, err))
				continue
			}
			ds.Layers = append(ds.Layers, purge.Layer{
				Name: lc.Name, Kind: lc.Kind, Tier: lc.Tier, Timeout: lc.Timeout.D(), Provider: p,
			})
		}
		out = append(out, ds)
	}
	return out, errors.Join(errs...)
}

func (a *App) buildProvider(ctx context.Context, dc config.Datastore, lc config.Layer) (purge.Provider, error) {
	factory, ok := providers[lc.Kind]
	if !ok {
		return nil, fmt.Errorf("kind: unknown provider %q (known: %s)", lc.Kind,
			strings.Join(slices.Sorted(maps.Keys(providers)), ", "))
	}
	p, err := factory(ctx, purge.LayerSpec{
		Datastore: dc.Name, Layer: lc.Name, Tier: lc.Tier, PublicHosts: dc.PublicHosts,
		DataDir: a.Config.DataDir,
		Decode:  func(v any) error { return config.DecodeStrict(&lc.Settings, v) },
		Logger:  a.Logger.With(slog.String("layer", lc.Name)),
	})
	if err != nil {
		return nil, settingsError(err)
	}
	if c, ok := p.(io.Closer); ok {
		a.closers = append(a.closers, c)
	}
	return a.shareAccount(lc, p), nil
}

// settingsError names the settings field a provider's error starts with
// ("bucket: required" becomes "settings.bucket: required"); other errors,
// such as a YAML line, follow "settings: ".
func settingsError(err error) error {
	if fieldPrefix.MatchString(err.Error()) {
		return fmt.Errorf("settings.%w", err)
	}
	return fmt.Errorf("settings: %w", err)
}

var fieldPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\[[0-9]+\])?(\.[a-z_][a-z0-9_]*)*(\[[0-9]+\])?: `)

// shareAccount puts a provider that batches items per API call behind its
// account's rate limit and coalescer. Layers naming the same account share
// both, because the provider's limits are per account.
func (a *App) shareAccount(lc config.Layer, p purge.Provider) purge.Provider {
	b, ok := p.(account.Batched)
	if !ok {
		return p
	}
	key := lc.Kind + "/" + b.Account()
	// Layers share a coalescer only when their settings are the same: the
	// provider that sends a merged call sends it its own way (files or
	// tags, its credentials), so items of a differently set layer would be
	// sent as the wrong kind.
	same := key + "/" + settingsFingerprint(lc)
	if shared, ok := a.coalescers[same]; ok {
		return accountLayer{Provider: p, shared: shared}
	}
	var shared purge.Provider = p
	if lc.RateLimit.PerSecond > 0 {
		// The bucket is the account's, whatever the layer's settings.
		bucket, ok := a.buckets[key]
		if !ok {
			bucket = account.NewBucket(lc.RateLimit.PerSecond, lc.RateLimit.Burst)
			a.buckets[key] = bucket
		}
		l := account.Share(shared, bucket, b.MaxItemsPerCall())
		l.OnWait = func(d time.Duration, refused bool) { a.Metrics.LimiterWaited(key, d, refused) }
		shared = l
	}
	c := account.NewCoalescer(shared, lc.CoalesceWindow.D(), b.MaxItemsPerCall())
	c.OnBatch = func(n int) { a.Metrics.BatchSent(key, n) }
	a.coalescers[same] = c
	return accountLayer{Provider: p, shared: c}
}

// settingsFingerprint identifies a layer's provider settings.
func settingsFingerprint(lc config.Layer) string {
	raw, _ := yaml.Marshal(&lc.Settings)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// accountLayer plans with its own layer's settings and purges through the
// account's shared coalescer.
type accountLayer struct {
	purge.Provider
	shared purge.Provider
}

func (l accountLayer) Purge(ctx context.Context, items []string) (purge.Result, error) {
	return l.shared.Purge(ctx, items)
}

// Close releases what the providers hold.
func (a *App) Close() {
	for _, c := range a.closers {
		_ = c.Close()
	}
}

// Serve answers on ln and works the journal until ctx is done. Then it stops
// taking requests, lets in-flight purges finish (journaling what they leave)
// within the configured shutdown timeout, writes buffered audit records and
// stops the journal's workers.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if err := a.Journal.Start(ctx); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// Requests still running when the shutdown bound passes are canceled
	// through this context; they then journal what they leave undone.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           a.Handler,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down", slog.Int64("bound_ms", a.Config.ShutdownTimeout.D().Milliseconds()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Config.ShutdownTimeout.D())
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		cancelBase()
		grace, cancelGrace := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancelGrace()
		err = srv.Shutdown(grace)
	}
	jctx, cancelJ := context.WithTimeout(context.WithoutCancel(ctx), a.Config.ShutdownTimeout.D())
	defer cancelJ()
	return errors.Join(serveErr, err, a.Journal.Stop(jctx), a.Tracing.Shutdown(jctx))
}

// NewLogger builds the JSON logger at the configured level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(api.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}
