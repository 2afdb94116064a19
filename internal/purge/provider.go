package purge

import (
	"context"
	"time"
)

// Target is what one purge asks every layer of a datastore to remove: some or
// all renditions of one image. It is fixed when the purge is planned.
type Target struct {
	// ImageID has been validated against the datastore's id pattern.
	ImageID string
	// Renditions are the rendition names selected, sorted and unique.
	Renditions []string
	// All is true when the selector covers every rendition of the image, so a
	// layer that can purge by prefix, wildcard or tag may do so instead of
	// naming each rendition.
	All bool
	// Listed is true when Renditions come from a layer's listing. Then an
	// empty list means the store holds no rendition of the image any more,
	// and a layer that purges by name has nothing to do; when false, the
	// names are unknown and such a layer cannot plan a whole-image purge.
	Listed bool `json:"listed,omitempty"`
}

// NamesUnknown reports whether the target is every rendition of an image
// whose rendition names nobody could list.
func (t Target) NamesUnknown() bool { return t.All && !t.Listed && len(t.Renditions) == 0 }

// Provider is the contract every layer implements. Providers do not retry:
// they make one attempt and say, through *Error, whether another is worth it.
type Provider interface {
	// Plan turns a target into the exact items this layer will receive: object
	// keys, URLs, paths, tags or ban expressions. It performs no I/O and its
	// result is stored in the journal, so items are plain strings.
	Plan(t Target) ([]string, error)

	// Purge removes items, all of them or as many as it can. It returns the
	// items that are still not purged, together with the error that explains
	// them; a nil error means every item is done. Detail carries figures the
	// caller may see (counts, a provider's purge id).
	Purge(ctx context.Context, items []string) (Result, error)
}

// Lister is implemented by layers that know which renditions exist for an
// image, such as the derivative stores. The innermost lister feeds the plan.
type Lister interface {
	List(ctx context.Context, imageID string) ([]string, error)
}

// Result is what one Purge call achieved.
type Result struct {
	// Remaining holds the items not purged. When Purge returns an error and
	// leaves Remaining nil, every item it was given is taken as remaining.
	Remaining []string
	// Detail holds provider figures worth reporting: counts, ids.
	Detail map[string]any
}

// Error is a provider's own failure: its code, whether a retry may succeed,
// and how long the provider asked to wait before one.
type Error struct {
	// Code is the provider's own error code (an S3 code, an HTTP status, a
	// Cloudflare error number), never a generic message.
	Code       string
	Message    string
	Retryable  bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }
