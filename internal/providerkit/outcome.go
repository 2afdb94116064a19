package providerkit

import (
	"context"
	"fmt"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Outcome sums up the calls of one Purge.
type Outcome struct {
	// Left holds the items not purged, in batch order.
	Left []string
	// Calls counts the calls made; Failed the results with an error, a
	// batch refused before any call included.
	Calls, Failed int
	// Err is what Purge returns: nil when no item is left.
	Err error
}

// Sum adds up res, the calls of provider's Purge of n items. Its Err is
// ctx's error when ctx ended, else the one error pickError chooses, else an
// Incomplete that no call explained.
func Sum[T any](ctx context.Context, provider string, n int, res []Call[T]) Outcome {
	var o Outcome
	for _, r := range res {
		o.Left = append(o.Left, r.Left...)
		if r.Made {
			o.Calls++
		}
		if r.Err != nil {
			o.Failed++
		}
	}
	if len(o.Left) == 0 {
		return o
	}
	if err := ctx.Err(); err != nil {
		o.Err = fmt.Errorf("%s: %d of %d items not purged: %w", provider, len(o.Left), n, err)
		return o
	}
	if e := pickError(res); e != nil {
		o.Err = e
		return o
	}
	o.Err = &purge.Error{Code: "Incomplete", Retryable: true,
		Message: fmt.Sprintf("%d of %d items not purged", len(o.Left), n)}
	return o
}

// pickError chooses the one error a layer reports for several failed calls:
// the first that is not worth retrying, since it needs an operator whatever
// the others say; otherwise the first, asking for the longest wait any call
// was told to observe.
func pickError[T any](res []Call[T]) *purge.Error {
	var first, fatal *purge.Error
	var wait time.Duration
	for _, r := range res {
		if r.Err == nil {
			continue
		}
		if first == nil {
			first = r.Err
		}
		if !r.Err.Retryable && fatal == nil {
			fatal = r.Err
		}
		wait = max(wait, r.Err.RetryAfter)
	}
	if fatal != nil {
		return fatal
	}
	if first == nil {
		return nil
	}
	e := *first
	e.RetryAfter = wait
	return &e
}
