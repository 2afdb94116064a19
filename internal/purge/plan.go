package purge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Layer is one configured purge target of a datastore, ready to run.
type Layer struct {
	Name     string
	Kind     string
	Tier     int
	Timeout  time.Duration
	Provider Provider
}

// Datastore is a named set of layers that together hold every copy of a
// tenant's renditions.
type Datastore struct {
	Name   string
	Layers []Layer
}

// Matcher is the part of a selector the planner needs.
type Matcher interface {
	// All reports whether the selector covers every rendition.
	All() bool
	// Exact returns the one rendition name the selector names, if it does.
	Exact() (string, bool)
	// Match reports whether a rendition name is selected.
	Match(name string) bool
	String() string
}

// Plan is a purge with every layer's items fixed before anything is removed,
// so a later retry still knows what to purge after the derivatives are gone.
type Plan struct {
	ID        string `json:"id"`
	Datastore string `json:"datastore"`
	ImageID   string `json:"image_id"`
	Selector  string `json:"selector"`
	// Subject and TrackingID say who asked and tie the journal's work to the
	// request's logs.
	Subject    string    `json:"subject,omitempty"`
	TrackingID string    `json:"tracking_id,omitempty"`
	Target     Target    `json:"target"`
	Steps      []Step    `json:"steps"`
	Created    time.Time `json:"created"`
}

// Step is one layer's share of a plan.
type Step struct {
	Layer string   `json:"layer"`
	Kind  string   `json:"kind"`
	Tier  int      `json:"tier"`
	Items []string `json:"items"`
}

// ErrNeedsListing is returned when a selector can only be resolved by listing
// renditions and no layer of the datastore can list them.
var ErrNeedsListing = errors.New("selector needs rendition names but no layer can list them")

// PlanError is a planning failure caused by a layer, such as a listing that
// failed; it names the layer.
type PlanError struct {
	Layer string
	Kind  string
	Err   error
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("planning layer %q (%s): %v", e.Layer, e.Kind, e.Err)
}

func (e *PlanError) Unwrap() error { return e.Err }

// NewPlan resolves a selector into concrete renditions, using the innermost
// layer that can list them, and asks every layer for its items. known adds
// renditions the listing can no longer show, such as those of an identical
// purge still pending, whose derivatives are already gone.
func NewPlan(ctx context.Context, id string, ds *Datastore, imageID string, sel Matcher, known ...string) (*Plan, error) {
	target, err := resolveTarget(ctx, ds, imageID, sel)
	if err != nil {
		return nil, err
	}
	if len(known) > 0 {
		target.Renditions = append(target.Renditions, known...)
		slices.Sort(target.Renditions)
		target.Renditions = slices.Compact(target.Renditions)
	}
	plan := &Plan{
		ID:        id,
		Datastore: ds.Name,
		ImageID:   imageID,
		Selector:  sel.String(),
		Target:    target,
		Created:   time.Now().UTC(),
		Steps:     make([]Step, 0, len(ds.Layers)),
	}
	for _, l := range ds.Layers {
		items, err := l.Provider.Plan(target)
		if err != nil {
			return nil, &PlanError{Layer: l.Name, Kind: l.Kind, Err: err}
		}
		plan.Steps = append(plan.Steps, Step{Layer: l.Name, Kind: l.Kind, Tier: l.Tier, Items: items})
	}
	return plan, nil
}

func resolveTarget(ctx context.Context, ds *Datastore, imageID string, sel Matcher) (Target, error) {
	t := Target{ImageID: imageID, All: sel.All()}
	lister, layer := innermostLister(ds)
	if lister == nil {
		if name, ok := sel.Exact(); ok {
			t.Renditions = []string{name}
			return t, nil
		}
		if t.All {
			// Layers that cannot purge by prefix or tag refuse this in Plan.
			return t, nil
		}
		return t, ErrNeedsListing
	}

	names, err := lister.List(ctx, imageID)
	if err != nil {
		return t, &PlanError{Layer: layer.Name, Kind: layer.Kind, Err: err}
	}
	t.Listed = true
	for _, n := range names {
		if sel.Match(n) {
			t.Renditions = append(t.Renditions, n)
		}
	}
	// An exact name is purged from the caches even when the store no longer
	// holds it: a cached copy can outlive its derivative.
	if name, ok := sel.Exact(); ok && !slices.Contains(t.Renditions, name) {
		t.Renditions = append(t.Renditions, name)
	}
	slices.Sort(t.Renditions)
	t.Renditions = slices.Compact(t.Renditions)
	return t, nil
}

func innermostLister(ds *Datastore) (Lister, *Layer) {
	var best *Layer
	for i := range ds.Layers {
		l := &ds.Layers[i]
		if _, ok := l.Provider.(Lister); !ok {
			continue
		}
		if best == nil || l.Tier < best.Tier {
			best = l
		}
	}
	if best == nil {
		return nil, nil
	}
	return best.Provider.(Lister), best
}
