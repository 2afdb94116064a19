package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Args is the job that finishes one journaled purge. The purge's state,
// including what is left, lives in imgpurge's own table, so the job carries
// only its id.
type Args struct {
	PurgeID string `json:"purge_id"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "imgpurge_purge" }

type worker struct {
	river.WorkerDefaults[Args]
	j *Journal
}

// Work runs what is left of a purge, one tier at a time, and writes each
// tier's result before the next begins, so an attempt cut short by a crash
// repeats at most the tier it was in.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	j := w.j
	p, err := j.st.get(ctx, job.Args.PurgeID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if p.State == StateSucceeded {
		return nil
	}
	ds := j.resolve(p.Datastore)
	if ds == nil {
		return w.finish(ctx, job, p, errors.New("datastore "+p.Datastore+" is no longer configured"), 0)
	}
	p.Attempts, p.State, p.UpdatedAt = job.Attempt, StateRunning, time.Now().UTC()
	if err := j.st.update(ctx, p); err != nil {
		return err
	}

	var failure error
	var wait time.Duration
	for _, tier := range p.pendingTiers() {
		out := j.orch.Execute(ctx, ds, p.subPlan(tier))
		p.apply(out)
		if err := j.st.update(context.WithoutCancel(ctx), p); err != nil {
			return err
		}
		if !out.OK() {
			failure, wait = outcomeError(out)
			break
		}
	}
	return w.finish(ctx, job, p, failure, wait)
}

// finish writes the purge's final state for this attempt. It runs even
// while the service shuts down, so the state is never lost.
func (w *worker) finish(ctx context.Context, job *river.Job[Args], p *Purge, failure error, wait time.Duration) error {
	ctx = context.WithoutCancel(ctx)
	now := time.Now().UTC()
	p.UpdatedAt = now
	level, msg := slog.LevelInfo, "journaled purge completed"
	switch {
	case failure == nil:
		p.State = StateSucceeded
		if w.j.Completed != nil {
			w.j.Completed(now.Sub(p.CreatedAt))
		}
	case job.Attempt >= job.MaxAttempts:
		p.State, level, msg = StateDead, slog.LevelError, "journaled purge is dead after its last attempt"
		for i := range p.Layers {
			if p.Layers[i].State != StateSucceeded {
				p.Layers[i].State = StateDead
			}
		}
	default:
		p.State, msg = StateFailed, "journaled purge attempt failed, will retry"
		w.j.retryAfter.Store(p.ID, wait)
	}
	if err := w.j.st.update(ctx, p); err != nil {
		return err
	}
	if p.State == StateSucceeded || p.State == StateDead {
		w.j.track(p, -1)
	}
	attrs := []slog.Attr{slog.String("tracking_id", p.TrackingID), slog.String("purge_id", p.ID),
		slog.String("state", p.State), slog.Int("attempt", job.Attempt)}
	if failure != nil {
		attrs = append(attrs, slog.String("error", failure.Error()))
	}
	w.j.log.LogAttrs(ctx, level, msg, attrs...)
	if failure == nil {
		return nil
	}
	return failure
}

// NextRetry spaces attempts by doubling delays with jitter, never sooner
// than a provider's Retry-After.
func (w *worker) NextRetry(job *river.Job[Args]) time.Time {
	d := backoff(w.j.cfg.RetryBase.D(), w.j.cfg.RetryMax.D(), job.Attempt)
	if v, ok := w.j.retryAfter.LoadAndDelete(job.Args.PurgeID); ok {
		d = max(d, v.(time.Duration))
	}
	return time.Now().Add(d)
}

// Timeout implements river.Worker.
func (w *worker) Timeout(*river.Job[Args]) time.Duration { return w.j.cfg.JobTimeout.D() }

// backoff returns a delay in [d/2, d] where d = base·2^(attempt-1) ≤ max.
func backoff(base, maxDelay time.Duration, attempt int) time.Duration {
	d := base << min(max(attempt-1, 0), 30)
	if d > maxDelay || d <= 0 {
		d = maxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func outcomeError(out *purge.Outcome) (error, time.Duration) {
	var errs []error
	var wait time.Duration
	for _, l := range out.Layers {
		switch {
		case l.Err != nil:
			errs = append(errs, fmt.Errorf("layer %s: %w", l.Layer, l.Err))
			wait = max(wait, l.Err.RetryAfter)
		case l.Status == purge.StatusPending && l.Reason != "inner_tier_failed":
			errs = append(errs, fmt.Errorf("layer %s: %s", l.Layer, l.Reason))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("purge incomplete"))
	}
	return errors.Join(errs...), wait
}

// pendingTiers lists the tiers that still have unfinished layers, inner
// first.
func (p *Purge) pendingTiers() []int {
	var tiers []int
	for _, l := range p.Layers {
		if l.State != StateSucceeded {
			tiers = append(tiers, l.Tier)
		}
	}
	slices.Sort(tiers)
	return slices.Compact(tiers)
}

// subPlan is the plan of one tier's unfinished layers, with only their
// remaining items.
func (p *Purge) subPlan(tier int) *purge.Plan {
	sub := *p.Plan
	sub.Steps = nil
	for i, l := range p.Layers {
		if l.Tier != tier || l.State == StateSucceeded {
			continue
		}
		step := p.Plan.Steps[i]
		step.Items = l.Remaining
		sub.Steps = append(sub.Steps, step)
	}
	return &sub
}

// apply merges one execution's outcome into the layer states.
func (p *Purge) apply(out *purge.Outcome) {
	now := time.Now().UTC()
	for _, lo := range out.Layers {
		for i := range p.Layers {
			l := &p.Layers[i]
			if l.Layer != lo.Layer {
				continue
			}
			attempts := l.Attempts + lo.Attempts
			detail := l.Detail
			*l = layerState(lo, now)
			l.Attempts, l.Items = attempts, len(p.Plan.Steps[i].Items)
			if l.Detail == nil {
				l.Detail = detail
			}
		}
	}
}
