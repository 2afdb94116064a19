package purge_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/internal/selector"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// providerFunc adapts a function to purge.Provider; Plan passes rendition
// names through.
type providerFunc func(ctx context.Context, items []string) (purge.Result, error)

func (f providerFunc) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (f providerFunc) Purge(ctx context.Context, items []string) (purge.Result, error) {
	return f(ctx, items)
}

func ok(context.Context, []string) (purge.Result, error) { return purge.Result{}, nil }

type bundle struct {
	ds   *purge.Datastore
	orch *purge.Orchestrator
}

func setup(t *testing.T, layers ...purge.Layer) *bundle {
	t.Helper()
	for i := range layers {
		if layers[i].Kind == "" {
			layers[i].Kind = "fake"
		}
	}
	return &bundle{
		ds:   &purge.Datastore{Name: "media", Layers: layers},
		orch: &purge.Orchestrator{Retry: purge.RetryPolicy{Base: time.Millisecond, MaxAttempts: 3}},
	}
}

func (b *bundle) run(t *testing.T, ctx context.Context) *purge.Outcome {
	t.Helper()
	sel, _ := selector.Parse("640x360.jpg")
	plan, err := purge.NewPlan(ctx, "p1", b.ds, "img", sel)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	return b.orch.Execute(ctx, b.ds, plan)
}

func layer(name string, tier int, f providerFunc) purge.Layer {
	return purge.Layer{Name: name, Tier: tier, Provider: f}
}

func status(out *purge.Outcome) map[string]purge.Status {
	m := map[string]purge.Status{}
	for _, l := range out.Layers {
		m[l.Layer] = l.Status
	}
	return m
}

func TestTierOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	rec := func(name string) providerFunc {
		return func(context.Context, []string) (purge.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, name)
			return purge.Result{}, nil
		}
	}
	// Declared out of order: execution follows tiers, not the list.
	b := setup(t, layer("edge", 2, rec("edge")), layer("store", 0, rec("store")), layer("origin", 1, rec("origin")))
	out := b.run(t, context.Background())
	if !out.OK() {
		t.Fatalf("outcome not ok: %+v", out.Layers)
	}
	if want := []string{"store", "origin", "edge"}; !slices.Equal(events, want) {
		t.Fatalf("order = %v, want %v", events, want)
	}
}

func TestTierRunsInParallel(t *testing.T) {
	t.Parallel()
	// Each layer waits until the other has started: run one after the other
	// they would never both start, and the context would end the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	meet := func(ctx context.Context, _ []string) (purge.Result, error) {
		wg.Done()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return purge.Result{}, nil
		case <-ctx.Done():
			wg.Done() // release the helper goroutine
			return purge.Result{}, &purge.Error{Code: "NoOverlap"}
		}
	}
	b := setup(t, layer("cloudflare", 2, meet), layer("cloudfront", 2, meet))
	if out := b.run(t, ctx); !out.OK() {
		t.Fatalf("layers of one tier did not overlap: %+v", out.Layers)
	}
}

func TestFailureDoesNotCancelSiblings(t *testing.T) {
	t.Parallel()
	failed := make(chan struct{})
	fail := func(context.Context, []string) (purge.Result, error) {
		defer close(failed)
		return purge.Result{}, &purge.Error{Code: "1012", Message: "forbidden"}
	}
	slow := func(ctx context.Context, _ []string) (purge.Result, error) {
		<-failed
		if err := ctx.Err(); err != nil {
			return purge.Result{}, err
		}
		return purge.Result{Detail: map[string]any{"invalidation_id": "I1"}}, nil
	}
	b := setup(t, layer("cloudflare", 2, fail), layer("cloudfront", 2, slow))
	out := b.run(t, context.Background())
	st := status(out)
	if st["cloudflare"] != purge.StatusFailed || st["cloudfront"] != purge.StatusSucceeded {
		t.Fatalf("statuses = %v", st)
	}
	if code := out.Layers[0].Err.Code; code != "1012" {
		t.Errorf("cloudflare code = %q, want the provider's 1012", code)
	}
	if out.Layers[1].Detail["invalidation_id"] != "I1" {
		t.Errorf("cloudfront detail lost: %v", out.Layers[1].Detail)
	}
	left := out.Leftover()
	if len(left) != 1 || left[0].Layer != "cloudflare" {
		t.Errorf("leftover = %+v, want only cloudflare", left)
	}
}

func TestFailedTierStopsLaterTiers(t *testing.T) {
	t.Parallel()
	var edgeCalls atomic.Int32
	edge := func(context.Context, []string) (purge.Result, error) {
		edgeCalls.Add(1)
		return purge.Result{}, nil
	}
	fail := func(context.Context, []string) (purge.Result, error) {
		return purge.Result{}, &purge.Error{Code: "MissingContentMD5"}
	}
	b := setup(t, layer("s3", 0, fail), layer("origin", 1, ok), layer("cdn", 2, edge))
	out := b.run(t, context.Background())
	if edgeCalls.Load() != 0 {
		t.Fatal("edge layer was called after the inner tier failed")
	}
	st := status(out)
	if st["s3"] != purge.StatusFailed || st["origin"] != purge.StatusPending || st["cdn"] != purge.StatusPending {
		t.Fatalf("statuses = %v", st)
	}
	if r := out.Layers[2].Reason; r != "inner_tier_failed" {
		t.Errorf("cdn reason = %q", r)
	}
	if n := len(out.Leftover()); n != 3 {
		t.Errorf("leftover steps = %d, want 3", n)
	}
}

func TestSeveralFailuresAggregate(t *testing.T) {
	t.Parallel()
	failWith := func(code string) providerFunc {
		return func(context.Context, []string) (purge.Result, error) {
			return purge.Result{}, &purge.Error{Code: code}
		}
	}
	b := setup(t, layer("a", 2, failWith("A1")), layer("b", 2, failWith("B2")), layer("c", 2, ok))
	out := b.run(t, context.Background())
	var codes []string
	for _, l := range out.Layers {
		if l.Err != nil {
			codes = append(codes, l.Err.Code)
		}
	}
	if !slices.Equal(codes, []string{"A1", "B2"}) {
		t.Fatalf("codes = %v", codes)
	}
}

func TestRetryNarrowsToRemaining(t *testing.T) {
	t.Parallel()
	var calls [][]string
	p := func(_ context.Context, items []string) (purge.Result, error) {
		calls = append(calls, items)
		if len(calls) == 1 {
			return purge.Result{Remaining: items[1:]},
				&purge.Error{Code: "SlowDown", Retryable: true}
		}
		return purge.Result{}, nil
	}
	b := setup(t, purge.Layer{Name: "s3", Provider: planAll{p, []string{"k1", "k2", "k3"}}})
	out := b.run(t, context.Background())
	if !out.OK() || out.Layers[0].Attempts != 2 {
		t.Fatalf("outcome %+v", out.Layers[0])
	}
	if !slices.Equal(calls[1], []string{"k2", "k3"}) {
		t.Fatalf("second call got %v, want only the remaining items", calls[1])
	}
}

// planAll plans a fixed item list.
type planAll struct {
	providerFunc
	items []string
}

func (p planAll) Plan(purge.Target) ([]string, error) { return p.items, nil }

func TestNotRetryable(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	p := func(context.Context, []string) (purge.Result, error) {
		n.Add(1)
		return purge.Result{}, &purge.Error{Code: "AccessDenied"}
	}
	out := setup(t, layer("s3", 0, p)).run(t, context.Background())
	if n.Load() != 1 || out.Layers[0].Status != purge.StatusFailed {
		t.Fatalf("calls = %d, status %s", n.Load(), out.Layers[0].Status)
	}
}

func TestRetryAfterBeyondDeadlineIsNotWaited(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	p := func(context.Context, []string) (purge.Result, error) {
		n.Add(1)
		return purge.Result{}, &purge.Error{Code: "429", Retryable: true, RetryAfter: time.Hour}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := setup(t, layer("cloudflare", 2, p)).run(t, ctx)
	if n.Load() != 1 || out.Layers[0].Status != purge.StatusFailed || ctx.Err() != nil {
		t.Fatalf("calls = %d, status = %s, ctx = %v", n.Load(), out.Layers[0].Status, ctx.Err())
	}
}

func TestDeadlineLeavesStepsPending(t *testing.T) {
	t.Parallel()
	hang := func(ctx context.Context, _ []string) (purge.Result, error) {
		<-ctx.Done()
		return purge.Result{}, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	out := setup(t, layer("origin", 1, hang), layer("cdn", 2, ok)).run(t, ctx)
	for _, l := range out.Layers {
		if l.Status != purge.StatusPending || l.Reason != "deadline" || l.Err != nil {
			t.Errorf("%s: status %s reason %q err %v", l.Layer, l.Status, l.Reason, l.Err)
		}
	}
	if out.Canceled {
		t.Error("a deadline is not a cancellation by the caller")
	}
}

func TestLayerTimeoutIsAFailure(t *testing.T) {
	t.Parallel()
	hang := func(ctx context.Context, _ []string) (purge.Result, error) {
		<-ctx.Done()
		return purge.Result{}, ctx.Err()
	}
	b := setup(t, purge.Layer{Name: "origin", Tier: 1, Timeout: 20 * time.Millisecond, Provider: providerFunc(hang)})
	b.orch.Retry.MaxAttempts = 1
	out := b.run(t, context.Background())
	l := out.Layers[0]
	if l.Status != purge.StatusFailed || l.Err.Code != "Timeout" {
		t.Fatalf("status %s err %v", l.Status, l.Err)
	}
}

func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	p := func(ctx context.Context, _ []string) (purge.Result, error) {
		cancel()
		<-ctx.Done()
		return purge.Result{}, ctx.Err()
	}
	out := setup(t, layer("cloudfront", 2, p)).run(t, ctx)
	if !out.Canceled || out.Layers[0].Status != purge.StatusPending || out.Layers[0].Reason != "canceled" {
		t.Fatalf("canceled=%v layer=%+v", out.Canceled, out.Layers[0])
	}
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatal("unexpected deadline")
	}
}

func TestPlanUsesInnermostLister(t *testing.T) {
	t.Parallel()
	store := listing{providerFunc(ok), []string{"640x360.jpg", "640x360.webp", "640x3600.jpg", "320x180@2x.avif"}}
	ds := &purge.Datastore{Name: "media", Layers: []purge.Layer{
		{Name: "cdn", Tier: 2, Provider: providerFunc(ok)},
		{Name: "s3", Tier: 0, Provider: store},
	}}
	sel, _ := selector.Parse("640x360")
	plan, err := purge.NewPlan(context.Background(), "p", ds, "img", sel)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"640x360.jpg", "640x360.webp"}; !slices.Equal(plan.Target.Renditions, want) {
		t.Fatalf("renditions = %v, want %v", plan.Target.Renditions, want)
	}
	if !slices.Equal(plan.Steps[0].Items, plan.Steps[1].Items) {
		t.Fatalf("every layer plans from the same renditions: %+v", plan.Steps)
	}
}

func TestPlanWithoutListerNeedsExactOrAll(t *testing.T) {
	t.Parallel()
	ds := &purge.Datastore{Name: "edge-only", Layers: []purge.Layer{{Name: "cdn", Provider: providerFunc(ok)}}}
	for sel, wantErr := range map[string]bool{"640x360": true, "*x360.*": true, "640x360.jpg": false, "*": false} {
		s, _ := selector.Parse(sel)
		_, err := purge.NewPlan(context.Background(), "p", ds, "img", s)
		if got := errors.Is(err, purge.ErrNeedsListing); got != wantErr {
			t.Errorf("selector %q: err = %v", sel, err)
		}
	}
}

func TestListingFailureNamesLayer(t *testing.T) {
	t.Parallel()
	bad := failingLister{providerFunc(ok)}
	ds := &purge.Datastore{Name: "media", Layers: []purge.Layer{{Name: "s3", Kind: "s3", Provider: bad}}}
	sel, _ := selector.Parse("*")
	_, err := purge.NewPlan(context.Background(), "p", ds, "img", sel)
	var pe *purge.PlanError
	if !errors.As(err, &pe) || pe.Layer != "s3" {
		t.Fatalf("err = %v", err)
	}
}

type listing struct {
	providerFunc
	names []string
}

func (l listing) List(context.Context, string) ([]string, error) { return l.names, nil }

type failingLister struct{ providerFunc }

func (failingLister) List(context.Context, string) ([]string, error) {
	return nil, &purge.Error{Code: "AccessDenied"}
}

// TestDurationIsReported: a layer's outcome says how long its step took,
// retries and their waits included.
func TestDurationIsReported(t *testing.T) {
	t.Parallel()
	calls := 0
	slow := func(context.Context, []string) (purge.Result, error) {
		calls++
		time.Sleep(20 * time.Millisecond)
		if calls == 1 {
			return purge.Result{}, &purge.Error{Code: "Throttling", Retryable: true}
		}
		return purge.Result{}, nil
	}
	b := setup(t, layer("edge", 2, slow), layer("store", 0, ok))
	out := b.run(t, context.Background())
	if !out.OK() {
		t.Fatalf("outcome not ok: %+v", out.Layers)
	}
	if d := out.Layers[0].Duration; d < 40*time.Millisecond {
		t.Fatalf("edge took two calls of 20ms but reports %s", d)
	}
}

func TestPlanTellsListedEmptyFromUnknown(t *testing.T) {
	t.Parallel()
	sel, _ := selector.Parse("*")
	withLister := &purge.Datastore{Name: "m", Layers: []purge.Layer{{Name: "s3", Provider: listing{providerFunc(ok), nil}}}}
	plan, err := purge.NewPlan(context.Background(), "p", withLister, "img", sel)
	if err != nil || !plan.Target.Listed || plan.Target.NamesUnknown() {
		t.Fatalf("listed empty: %+v, %v", plan.Target, err)
	}
	edgeOnly := &purge.Datastore{Name: "e", Layers: []purge.Layer{{Name: "cdn", Provider: providerFunc(ok)}}}
	plan, err = purge.NewPlan(context.Background(), "p", edgeOnly, "img", sel)
	if err != nil || plan.Target.Listed || !plan.Target.NamesUnknown() {
		t.Fatalf("no lister: %+v, %v", plan.Target, err)
	}
}
