package providertest

import (
	"context"
	"errors"
	"slices"
	"sync"
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

// NewProvider builds a provider with newFn the way the service builds the
// layer named layer, at tier 2 of datastore "media": from doc, its settings
// as written in YAML, with hosts as the datastore's public hosts.
func NewProvider(newFn func(context.Context, purge.LayerSpec) (purge.Provider, error),
	layer, doc string, hosts []string) (purge.Provider, error) {
	decode, err := Decoder(doc)
	if err != nil {
		return nil, err
	}
	return newFn(context.Background(), purge.LayerSpec{
		Datastore: "media", Layer: layer, Tier: 2, PublicHosts: hosts, Decode: decode,
	})
}

// Plan returns the items p plans for tg, failing the test on an error.
func Plan(t testing.TB, p purge.Provider, tg purge.Target) []string {
	t.Helper()
	items, err := p.Plan(tg)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

// CheckPlan checks that p plans exactly want, in order, for tg.
func CheckPlan(t testing.TB, p purge.Provider, tg purge.Target, want []string) {
	t.Helper()
	if got := Plan(t, p, tg); !slices.Equal(got, want) {
		t.Errorf("Plan = %q, want %q", got, want)
	}
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

// Clock is a clock a test moves by hand, for the Now option of an emulator
// or a provider, so that rate limits and signatures run on the test's time
// instead of waiting. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
