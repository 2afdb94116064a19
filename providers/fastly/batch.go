package fastly

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// callResult is what one API call achieved.
type callResult struct {
	ids  map[string]string // item → Fastly purge id
	left []string          // items not purged
	err  *purge.Error
	// halt asks that calls not yet started are not made: the answer (401,
	// 403, 429) would be the same for them.
	halt bool
	// made is false for a call skipped after a halt or a cancellation.
	made bool
}

func failed(items []string, e *purge.Error) callResult {
	return callResult{left: items, err: e, made: true}
}

// runCalls makes one call per batch, at most limit at a time. A failing call
// never stops the others already running; see callResult.halt for the ones
// not yet started.
func runCalls(ctx context.Context, batches [][]string, limit int,
	call func(context.Context, []string) callResult) []callResult {
	res := make([]callResult, len(batches))
	sem := make(chan struct{}, limit)
	var halted atomic.Bool
	var wg sync.WaitGroup
	for i, b := range batches {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if !acquired || ctx.Err() != nil || halted.Load() {
			if acquired {
				<-sem
			}
			res[i] = callResult{left: b}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := call(ctx, b)
			if r.halt {
				halted.Store(true)
			}
			res[i] = r
		})
	}
	wg.Wait()
	return res
}

// pickError chooses the one error a layer reports for several failed calls:
// the first that is not worth retrying, otherwise the first, asking for the
// longest wait any call was told to observe.
func pickError(res []callResult) *purge.Error {
	var first, fatal *purge.Error
	var wait time.Duration
	for _, r := range res {
		if r.err == nil {
			continue
		}
		if first == nil {
			first = r.err
		}
		if !r.err.Retryable && fatal == nil {
			fatal = r.err
		}
		wait = max(wait, r.err.RetryAfter)
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
