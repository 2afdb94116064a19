package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/api"
	"github.com/imgpurge/imgpurge/internal/auth"
	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/journal"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/internal/telemetry"
	"github.com/imgpurge/imgpurge/internal/testenv"
)

// instantLayer answers at once; as tier 0 it also lists renditions.
type instantLayer struct{ names []string }

func (instantLayer) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (l instantLayer) List(context.Context, string) ([]string, error) { return l.names, nil }

func (instantLayer) Purge(context.Context, []string) (purge.Result, error) {
	return purge.Result{}, nil
}

// discardJournal takes audit records and drops them, so the handler is
// measured without the audit writer that runs beside it. It knows of no
// unfinished purge. A successful purge calls nothing else of it.
type discardJournal struct{ api.Journal }

func (discardJournal) Audit(*purge.Outcome) {}

func (discardJournal) PendingRenditions(context.Context, string, string, string) []string { return nil }

// discardWriter is a ResponseWriter whose header map is reused, as the
// server's own writer would be per connection.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// stack says what surrounds the API in a benchmark.
type stack struct {
	name string
	// telemetry adds the tracing and metrics middleware and observer.
	telemetry bool
	// audit writes audit records to a real SQLite journal in batches.
	audit bool
}

// benchStack builds the API with a real OIDC verifier (one RS256 token,
// cached after its first check), three instant layers and a JSON logger at
// info, as imgpurged logs; st adds what imgpurged serves it with.
func benchStack(b *testing.B, st stack) (http.Handler, string) {
	idp := testenv.StartIdP(b)
	logger := slog.New(api.LogHandler(slog.NewJSONHandler(io.Discard, nil)))
	v, err := auth.New(context.Background(), config.Auth{
		Mode: config.AuthModeOIDC, Issuer: idp.URL, Audience: "purge-api",
		RequiredClaim: "scope", RequiredValue: "images:purge",
	}, b.TempDir(), logger)
	if err != nil {
		b.Fatal(err)
	}
	rule, _ := selector.NewIDRule("")
	ds := &api.Datastore{Datastore: purge.Datastore{Name: "media", Layers: []purge.Layer{
		{Name: "s3", Kind: "s3", Tier: 0, Timeout: 5 * time.Second,
			Provider: instantLayer{names: []string{"640x360.jpg", "640x360.webp", "1280x720.jpg"}}},
		{Name: "origin", Kind: "httpcache", Tier: 1, Timeout: 5 * time.Second, Provider: instantLayer{}},
		{Name: "cdn", Kind: "cloudflare", Tier: 2, Timeout: 5 * time.Second, Provider: instantLayer{}},
	}}, Default: true, Tenants: []string{"media"}, IDRule: rule}
	orch := &purge.Orchestrator{Logger: logger}
	opts := api.Options{Auth: v, Datastores: []*api.Datastore{ds}, Orchestrator: orch,
		RequestTimeout: 10 * time.Second, Logger: logger, Journal: discardJournal{}}
	if st.audit {
		opts.Journal = benchJournal(b, orch, logger, ds)
	}
	token := idp.Token(b, "rsa-1", nil)
	if !st.telemetry {
		return api.New(opts), token
	}
	tr, err := telemetry.NewTracing(context.Background(), "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	m := telemetry.NewMetrics()
	orch.Observer = &telemetry.Observer{M: m, Tracer: tr.Tracer}
	opts.Metrics, opts.Consistent = m.Handler(), m.Consistent
	return tr.Handler(m.Middleware(api.New(opts))), token
}

// benchJournal opens a SQLite journal with imgpurged's default settings.
func benchJournal(b *testing.B, orch *purge.Orchestrator, logger *slog.Logger, ds *api.Datastore) *journal.Journal {
	cfg := config.Journal{MaxAttempts: config.JournalMaxAttemptsDefault,
		RetryBase: config.Duration(config.JournalRetryBaseDefault), RetryMax: config.Duration(config.JournalRetryMaxDefault),
		JobTimeout: config.Duration(config.JournalJobTimeoutDefault), Workers: config.JournalWorkersDefault,
		PollInterval: config.Duration(config.JournalPollDefault), AuditFlushInterval: config.Duration(config.AuditFlushDefault)}
	j, err := journal.Open(context.Background(), cfg, b.TempDir(),
		func(string) *purge.Datastore { return &ds.Datastore }, orch, logger)
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = j.Stop(ctx)
	})
	return j
}

// BenchmarkDeleteImage is one purge through the HTTP handler with a cached
// token: routing, tracking id, token cache, parsing, plan, three tiers,
// summary log line and the JSON envelope. The request is built once; the
// server's parsing of it is not measured. "handler" is the API alone,
// "telemetry" adds tracing and metrics, "as_served" also writes audit
// records to SQLite in batches, as imgpurged does.
func BenchmarkDeleteImage(b *testing.B) {
	for _, st := range []stack{
		{name: "handler"},
		{name: "telemetry", telemetry: true},
		{name: "as_served", telemetry: true, audit: true},
	} {
		b.Run(st.name, func(b *testing.B) {
			h, token := benchStack(b, st)
			req := httptest.NewRequest(http.MethodDelete, "/image/"+imageID+"/640x360.jpg", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := &discardWriter{h: http.Header{}}
			probe := httptest.NewRecorder()
			if h.ServeHTTP(probe, req); probe.Code != http.StatusOK {
				b.Fatalf("status %d: %s", probe.Code, probe.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
