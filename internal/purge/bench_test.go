package purge_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
	"github.com/imgpurge/imgpurge/internal/telemetry"
)

// instantLayer answers at once and passes rendition names through as items.
type instantLayer struct{}

func (instantLayer) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (instantLayer) Purge(context.Context, []string) (purge.Result, error) {
	return purge.Result{}, nil
}

// instantStore also lists renditions, as the derivative store of tier 0
// does.
type instantStore struct {
	instantLayer
	names []string
}

func (s instantStore) List(context.Context, string) ([]string, error) { return s.names, nil }

// benchDatastore is three layers, one a tier, with the default layer
// timeout imgpurged gives them.
func benchDatastore() *purge.Datastore {
	store := instantStore{names: []string{"640x360.jpg", "640x360.webp", "1280x720.jpg", "1280x720.webp"}}
	const timeout = 5 * time.Second
	return &purge.Datastore{Name: "media", Layers: []purge.Layer{
		{Name: "s3", Kind: "s3", Tier: 0, Timeout: timeout, Provider: store},
		{Name: "origin", Kind: "httpcache", Tier: 1, Timeout: timeout, Provider: instantLayer{}},
		{Name: "cdn", Kind: "cloudflare", Tier: 2, Timeout: timeout, Provider: instantLayer{}},
	}}
}

// BenchmarkPlanExecute is the orchestrator's share of one purge: plan one
// rendition (listing the store), then run the three tiers. "observed" adds
// the metrics and spans imgpurged records for every provider call.
func BenchmarkPlanExecute(b *testing.B) {
	tr, err := telemetry.NewTracing(context.Background(), "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	for _, bc := range []struct {
		name string
		obs  purge.Observer
	}{
		{"bare", nil},
		{"observed", &telemetry.Observer{M: telemetry.NewMetrics(), Tracer: tr.Tracer}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ds := benchDatastore()
			orch := &purge.Orchestrator{Observer: bc.obs, Logger: slog.New(slog.DiscardHandler)}
			sel, err := selector.Parse("640x360.jpg")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				plan, err := purge.NewPlan(ctx, "p1", ds, "1e8a9135-5976-4de8-9c27-64cc33bf9baa", sel)
				if err != nil {
					b.Fatal(err)
				}
				if out := orch.Execute(ctx, ds, plan); !out.OK() {
					b.Fatalf("purge failed: %+v", out.Layers)
				}
			}
		})
	}
}
