// Package providertest is the conformance suite every provider passes against
// its real local server or emulator. A new provider proves itself by running
// Run with a Harness for its backend.
package providertest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Backend is one fresh, isolated instance of a provider's backing service
// together with the provider under test.
type Backend struct {
	Provider purge.Provider
	// Seed makes the backend hold renditions of an image: files or objects
	// stored, or responses cached.
	Seed func(t *testing.T, imageID string, renditions ...string)
	// Held reports whether the backend still holds a rendition.
	Held func(t *testing.T, imageID, rendition string) bool
	// FailItems makes the backend refuse the items of the given renditions
	// on every later purge, and returns the provider error code the caller
	// should then see. Nil when the backend cannot inject a partial failure.
	FailItems func(t *testing.T, imageID string, renditions ...string) string
}

// Harness starts a Backend for one subtest.
type Harness func(t *testing.T) *Backend

// Image ids used by the suite: the second shares a prefix with the first so
// a purge that reaches past its image is caught.
const (
	ImageA = "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	ImageB = "1e8a9135-5976-4de8-9c27-64cc33bf9bab"
)

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Run("ListsRenditions", func(t *testing.T) { testList(t, h) })
	t.Run("PurgesSelected", func(t *testing.T) { testPurge(t, h) })
	t.Run("RepeatIsIdempotent", func(t *testing.T) { testRepeat(t, h) })
	t.Run("UnknownImage", func(t *testing.T) { testUnknown(t, h) })
	t.Run("PartialFailure", func(t *testing.T) { testPartial(t, h) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, h) })
}

func plan(t *testing.T, p purge.Provider, target purge.Target) []string {
	t.Helper()
	items, err := p.Plan(target)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return items
}

func testList(t *testing.T, h Harness) {
	b := h(t)
	lister, ok := b.Provider.(purge.Lister)
	if !ok {
		t.Skip("provider does not list renditions")
	}
	b.Seed(t, ImageA, "640x360.jpg", "1280x720.webp")
	b.Seed(t, ImageB, "320x180.jpg")
	names, err := lister.List(context.Background(), ImageA)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.Sort(names)
	if want := []string{"1280x720.webp", "640x360.jpg"}; !slices.Equal(names, want) {
		t.Fatalf("List = %q, want %q", names, want)
	}
}

func testPurge(t *testing.T, h Harness) {
	b := h(t)
	b.Seed(t, ImageA, "640x360.jpg", "640x360.webp", "1280x720.jpg")
	b.Seed(t, ImageB, "640x360.jpg")
	target := purge.Target{ImageID: ImageA, Renditions: []string{"640x360.jpg", "640x360.webp"}}
	res, err := b.Provider.Purge(context.Background(), plan(t, b.Provider, target))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if len(res.Remaining) != 0 {
		t.Fatalf("Remaining = %q after success", res.Remaining)
	}
	for _, r := range target.Renditions {
		if b.Held(t, ImageA, r) {
			t.Errorf("%s still held", r)
		}
	}
	if !b.Held(t, ImageA, "1280x720.jpg") {
		t.Error("unselected rendition 1280x720.jpg was purged")
	}
	if !b.Held(t, ImageB, "640x360.jpg") {
		t.Error("another image's rendition was purged")
	}
}

func testRepeat(t *testing.T, h Harness) {
	b := h(t)
	b.Seed(t, ImageA, "640x360.jpg")
	items := plan(t, b.Provider, purge.Target{ImageID: ImageA, Renditions: []string{"640x360.jpg"}})
	for i := range 2 {
		if _, err := b.Provider.Purge(context.Background(), items); err != nil {
			t.Fatalf("Purge #%d: %v", i+1, err)
		}
	}
}

func testUnknown(t *testing.T, h Harness) {
	b := h(t)
	if lister, ok := b.Provider.(purge.Lister); ok {
		names, err := lister.List(context.Background(), ImageA)
		if err != nil || len(names) != 0 {
			t.Fatalf("List of unknown image = %q, %v; want none, nil", names, err)
		}
	}
	items := plan(t, b.Provider, purge.Target{ImageID: ImageA, Renditions: []string{"640x360.jpg"}})
	if _, err := b.Provider.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge of unknown image: %v", err)
	}
}

func testPartial(t *testing.T, h Harness) {
	b := h(t)
	if b.FailItems == nil {
		t.Skip("backend cannot inject a partial failure")
	}
	b.Seed(t, ImageA, "640x360.jpg", "1280x720.jpg")
	code := b.FailItems(t, ImageA, "1280x720.jpg")
	target := purge.Target{ImageID: ImageA, Renditions: []string{"1280x720.jpg", "640x360.jpg"}}
	failing := plan(t, b.Provider, purge.Target{ImageID: ImageA, Renditions: []string{"1280x720.jpg"}})
	res, err := b.Provider.Purge(context.Background(), plan(t, b.Provider, target))
	var pe *purge.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Purge error = %v, want *purge.Error", err)
	}
	if pe.Code != code {
		t.Errorf("error code = %q, want %q", pe.Code, code)
	}
	if !slices.Equal(res.Remaining, failing) {
		t.Errorf("Remaining = %q, want exactly %q", res.Remaining, failing)
	}
	if b.Held(t, ImageA, "640x360.jpg") {
		t.Error("the item that could be purged was not")
	}
}

func testCanceled(t *testing.T, h Harness) {
	b := h(t)
	b.Seed(t, ImageA, "640x360.jpg")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	items := plan(t, b.Provider, purge.Target{ImageID: ImageA, Renditions: []string{"640x360.jpg"}})
	// A canceled call must say so, so the orchestrator reports the caller's
	// cancellation and not a provider failure.
	if _, err := b.Provider.Purge(ctx, items); !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge with a canceled context = %v, want context.Canceled", err)
	}
}
