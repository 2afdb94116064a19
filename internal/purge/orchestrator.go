package purge

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// Status is a layer's state within one purge.
type Status string

const (
	// StatusSucceeded: every item of the step is purged.
	StatusSucceeded Status = "succeeded"
	// StatusFailed: the provider refused or failed; Err says why.
	StatusFailed Status = "failed"
	// StatusPending: the step did not run to the end during the request,
	// because an inner tier failed, the deadline passed or the caller left.
	StatusPending Status = "pending"
)

// LayerOutcome is what happened to one layer's step.
type LayerOutcome struct {
	Layer     string
	Kind      string
	Tier      int
	Status    Status
	Items     int
	Remaining []string
	Err       *Error
	// Reason explains a pending step: "inner_tier_failed", "deadline",
	// "canceled".
	Reason   string
	Attempts int
	Duration time.Duration
	// Unexpected marks a failure of imgpurge itself, such as a provider
	// panic, rather than of the provider's service.
	Unexpected bool
	Detail     map[string]any
}

// Outcome is the result of executing a plan.
type Outcome struct {
	Plan   *Plan
	Layers []LayerOutcome
	// Canceled is true when the caller went away before the plan finished.
	Canceled bool
}

// OK reports whether every layer succeeded.
func (o *Outcome) OK() bool {
	for _, l := range o.Layers {
		if l.Status != StatusSucceeded {
			return false
		}
	}
	return true
}

// Leftover returns the steps, with only their remaining items, that must
// still run for the purge to be complete, in plan order.
func (o *Outcome) Leftover() []Step {
	var steps []Step
	for i, l := range o.Layers {
		if l.Status == StatusSucceeded {
			continue
		}
		s := o.Plan.Steps[i]
		s.Items = l.Remaining
		steps = append(steps, s)
	}
	return steps
}

// Orchestrator executes plans tier by tier.
type Orchestrator struct {
	Retry  RetryPolicy
	Logger *slog.Logger
	// Observer, when set, is told of every provider call and layer outcome,
	// for metrics and traces.
	Observer Observer
}

// Observer watches provider calls. Metrics and tracing implement it.
type Observer interface {
	// CallStarted is called before each provider call; the returned context
	// is passed to the provider (it may carry a trace span) and done is
	// called with the call's error, nil on success.
	CallStarted(ctx context.Context, plan *Plan, layer *Layer, attempt int) (context.Context, func(err *Error))
	// LayerDone is called once per layer with its final outcome.
	LayerDone(ctx context.Context, plan *Plan, lo LayerOutcome)
}

// Execute runs plan against ds: tiers innermost first, the layers of a tier
// in parallel. A failing layer never cancels its siblings; a failed tier
// leaves later tiers pending. ctx bounds the whole purge.
func (o *Orchestrator) Execute(ctx context.Context, ds *Datastore, plan *Plan) *Outcome {
	out := &Outcome{Plan: plan, Layers: make([]LayerOutcome, len(plan.Steps))}
	for i, s := range plan.Steps {
		out.Layers[i] = LayerOutcome{
			Layer: s.Layer, Kind: s.Kind, Tier: s.Tier, Items: len(s.Items),
			Status: StatusPending, Remaining: s.Items,
		}
	}
	blocked := ""
	for _, tier := range tiers(plan.Steps) {
		if blocked == "" {
			blocked = o.runTier(ctx, ds, plan, tier, out)
			continue
		}
		for _, i := range tier {
			out.Layers[i].Reason = blocked
		}
	}
	out.Canceled = errors.Is(context.Cause(ctx), context.Canceled)
	return out
}

// runTier runs the steps at the given indexes and returns why later tiers
// must wait, or "" when they may run.
func (o *Orchestrator) runTier(ctx context.Context, ds *Datastore, plan *Plan, idx []int, out *Outcome) string {
	if len(idx) == 1 {
		// A tier of one layer has nothing to run beside it: running it here
		// spares a goroutine, and the stack it grows, on every purge.
		o.runLayer(ctx, ds, plan, idx[0], out)
	} else {
		// A plain Group, not WithContext: one layer's failure must not
		// cancel the others, whose own outcomes are reported.
		var g errgroup.Group
		for _, i := range idx {
			g.Go(func() error {
				o.runLayer(ctx, ds, plan, i, out)
				return nil
			})
		}
		_ = g.Wait()
	}
	if ctx.Err() != nil {
		return pendingReason(ctx)
	}
	for _, i := range idx {
		if out.Layers[i].Status != StatusSucceeded {
			return "inner_tier_failed"
		}
	}
	return ""
}

// runLayer runs step i of plan and records its outcome in out.
func (o *Orchestrator) runLayer(ctx context.Context, ds *Datastore, plan *Plan, i int, out *Outcome) {
	// A provider's panic must not take the process, and the other layers'
	// outcomes, with it; errgroup does not recover panics.
	defer o.recoverStep(ctx, &out.Layers[i])
	out.Layers[i] = o.runStep(ctx, plan, ds.layer(plan.Steps[i].Layer), plan.Steps[i], out.Layers[i])
	if o.Observer != nil {
		o.Observer.LayerDone(ctx, plan, out.Layers[i])
	}
}

func (o *Orchestrator) runStep(ctx context.Context, plan *Plan, layer *Layer, step Step,
	lo LayerOutcome) (res LayerOutcome) {
	start := time.Now()
	// Set on the result, after "return lo" has copied lo into it.
	defer func() { res.Duration = time.Since(start) }()
	if layer == nil {
		lo.Status = StatusFailed
		lo.Err = &Error{Code: "UnknownLayer", Message: "layer is not configured"}
		return lo
	}
	if len(step.Items) == 0 {
		lo.Status = StatusSucceeded
		return lo
	}

	retry := o.Retry.withDefaults()
	items := step.Items
	for {
		lo.Attempts++
		res, err := o.call(ctx, plan, layer, items, lo.Attempts)
		mergeDetail(&lo, res.Detail)
		if err == nil {
			lo.Status, lo.Remaining, lo.Err = StatusSucceeded, nil, nil
			return lo
		}
		if len(res.Remaining) > 0 {
			items = res.Remaining
		}
		lo.Remaining = items

		if ctx.Err() != nil {
			// The caller's deadline or departure, not the provider's fault.
			lo.Status, lo.Reason, lo.Err = StatusPending, pendingReason(ctx), nil
			return lo
		}
		lo.Status, lo.Err = StatusFailed, classify(err)
		if !lo.Err.Retryable || lo.Attempts >= retry.MaxAttempts {
			return lo
		}
		wait := retry.Delay(lo.Attempts, lo.Err)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The journal waits out the rest; the request cannot.
			return lo
		}
		if !sleep(ctx, wait) {
			lo.Status, lo.Reason, lo.Err = StatusPending, pendingReason(ctx), nil
			return lo
		}
		o.log().LogAttrs(ctx, slog.LevelInfo, "retrying layer",
			slog.String("tracking_id", plan.TrackingID), slog.String("layer", layer.Name),
			slog.Int("attempt", lo.Attempts+1), slog.String("code", lo.Err.Code))
	}
}

func (o *Orchestrator) recoverStep(ctx context.Context, lo *LayerOutcome) {
	rec := recover()
	if rec == nil {
		return
	}
	o.log().LogAttrs(ctx, slog.LevelError, "provider panicked", slog.String("layer", lo.Layer), slog.Any("panic", rec), slog.String("stack", string(debug.Stack())))
	lo.Status, lo.Unexpected = StatusFailed, true
	lo.Err = &Error{Code: "InternalError", Message: "the provider failed unexpectedly", Retryable: true}
}

// call makes one provider call, observed.
func (o *Orchestrator) call(ctx context.Context, plan *Plan, layer *Layer, items []string, attempt int) (Result, error) {
	if o.Observer == nil {
		return callOnce(ctx, layer, items)
	}
	cctx, done := o.Observer.CallStarted(ctx, plan, layer, attempt)
	res, err := callOnce(cctx, layer, items)
	if err != nil {
		done(classify(err))
	} else {
		done(nil)
	}
	return res, err
}

func callOnce(ctx context.Context, layer *Layer, items []string) (Result, error) {
	if layer.Timeout <= 0 {
		return layer.Provider.Purge(ctx, items)
	}
	cctx, cancel := context.WithTimeoutCause(ctx, layer.Timeout, errLayerTimeout)
	defer cancel()
	res, err := layer.Provider.Purge(cctx, items)
	if err != nil && ctx.Err() == nil && context.Cause(cctx) == errLayerTimeout {
		err = &Error{Code: "Timeout", Message: "layer timeout " + layer.Timeout.String() + " passed",
			Retryable: true, Err: err}
	}
	return res, err
}

var errLayerTimeout = errors.New("layer timeout")

// classify turns any error from a provider into *Error, so the envelope always
// has a code to show.
func classify(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: "Timeout", Message: err.Error(), Retryable: true, Err: err}
	}
	return &Error{Code: "ProviderError", Message: err.Error(), Retryable: true, Err: err}
}

func pendingReason(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return "deadline"
	}
	return "canceled"
}

func mergeDetail(lo *LayerOutcome, d map[string]any) {
	if len(d) == 0 {
		return
	}
	if lo.Detail == nil {
		lo.Detail = make(map[string]any, len(d))
	}
	for k, v := range d {
		lo.Detail[k] = v
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (o *Orchestrator) log() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

func (ds *Datastore) layer(name string) *Layer {
	for i := range ds.Layers {
		if ds.Layers[i].Name == name {
			return &ds.Layers[i]
		}
	}
	return nil
}

// tiers groups step indexes by tier, innermost first.
func tiers(steps []Step) [][]int {
	var levels []int
	for _, s := range steps {
		levels = append(levels, s.Tier)
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	groups := make([][]int, len(levels))
	for i, s := range steps {
		at, _ := slices.BinarySearch(levels, s.Tier)
		groups[at] = append(groups[at], i)
	}
	return groups
}
