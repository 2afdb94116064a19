package providertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/imgpurge/imgpurge/internal/config"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// Decoder returns the Decode function of a purge.LayerSpec for doc, a
// layer's settings as written in YAML, decoding them the way the service
// does: strictly, an unknown field being an error. An empty doc decodes to
// nothing, as a layer without settings.
func Decoder(doc string) (func(any) error, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		return nil, err
	}
	node := &yaml.Node{}
	if len(n.Content) > 0 {
		node = n.Content[0]
	}
	return func(v any) error { return config.DecodeStrict(node, v) }, nil
}

// AsError returns err's *purge.Error, failing the test when there is none.
func AsError(t testing.TB, err error) *purge.Error {
	t.Helper()
	var pe *purge.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want *purge.Error", err, err)
	}
	return pe
}

// Execute runs items through the service's orchestrator as the one layer,
// named "edge", of kind at tier 2, retrying within milliseconds so that a
// test sees every attempt quickly.
func Execute(ctx context.Context, p purge.Provider, kind string, items []string) purge.LayerOutcome {
	ds := &purge.Datastore{Name: "media",
		Layers: []purge.Layer{{Name: "edge", Kind: kind, Tier: 2, Provider: p}}}
	plan := &purge.Plan{Datastore: "media",
		Steps: []purge.Step{{Layer: "edge", Kind: kind, Tier: 2, Items: items}}}
	o := &purge.Orchestrator{Retry: purge.RetryPolicy{Base: time.Millisecond, MaxDelay: 5 * time.Millisecond}}
	return o.Execute(ctx, ds, plan).Layers[0]
}
