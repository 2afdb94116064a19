package providerkit

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Batch is the items one API call carries.
type Batch struct {
	Items []string
	// Body is the exact request body, for APIs whose batching measures it.
	Body []byte
	// Err, when set, says why the items cannot be sent at all: Run reports
	// the batch failed without making a call.
	Err *purge.Error
}

// Call is what one API call achieved. Info carries the provider's own
// figures for it, such as purge ids.
type Call[T any] struct {
	Info T
	// Left holds the items not purged.
	Left []string
	Err  *purge.Error
	// Halt asks that calls not yet started are not made: their answer (a
	// refused credential, a rate limit) would be the same.
	Halt bool
	// Made is false for a call never sent.
	Made bool
}

// Failed is a call that was made and purged none of items.
func Failed[T any](items []string, e *purge.Error) Call[T] {
	return Call[T]{Left: items, Err: e, Made: true}
}

// Split cuts items into batches of at most n.
func Split(items []string, n int) []Batch {
	batches := make([]Batch, 0, (len(items)+n-1)/n)
	for len(items) > 0 {
		k := min(n, len(items))
		batches = append(batches, Batch{Items: items[:k:k]})
		items = items[k:]
	}
	return batches
}

// Run makes one call per batch, at most limit at a time, and returns the
// results in the order of batches. A failing call never stops those already
// running; once ctx ends or a call asks to halt, the calls not yet started
// are not made and leave their items without an error of their own.
func Run[T any](ctx context.Context, batches []Batch, limit int,
	call func(context.Context, Batch) Call[T]) []Call[T] {
	res := make([]Call[T], len(batches))
	sem := make(chan struct{}, limit)
	var halted atomic.Bool
	var wg sync.WaitGroup
	for i, b := range batches {
		if b.Err != nil {
			res[i] = Call[T]{Left: b.Items, Err: b.Err}
			continue
		}
		if !acquire(ctx, sem) {
			res[i] = Call[T]{Left: b.Items}
			continue
		}
		if halted.Load() {
			<-sem
			res[i] = Call[T]{Left: b.Items}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := call(ctx, b)
			if r.Halt {
				halted.Store(true)
			}
			res[i] = r
		})
	}
	wg.Wait()
	return res
}

// acquire takes a slot in sem, unless ctx ends first.
func acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if ctx.Err() != nil {
		// Both were ready and select chose the slot.
		<-sem
		return false
	}
	return true
}
