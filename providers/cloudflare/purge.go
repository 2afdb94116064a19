package cloudflare

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// batch is one call's worth of items of one kind.
type batch struct {
	kind  string
	items []string
}

// callResult is what one call achieved. A call never started (the caller
// left, or an earlier call showed that more would only be refused) has
// started false and its items remain.
type callResult struct {
	started bool
	id      string
	err     error
}

// Purge implements purge.Provider: it splits items into calls within the
// per-call limits, makes them, and reports exactly the items of the calls
// that did not succeed.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	if err := ctx.Err(); err != nil {
		return purge.Result{Remaining: items}, fmt.Errorf("cloudflare purge not started: %w", err)
	}
	items = unique(items)
	batches, invalid, invalidErr := p.split(items)
	results := p.run(ctx, batches)
	return p.result(ctx, items, batches, results, invalid, invalidErr)
}

// split groups items by kind, in order of first appearance, and cuts each
// group into calls. Items Cloudflare would refuse are set aside.
func (p *Provider) split(items []string) ([]batch, []string, error) {
	var kinds []string
	groups := map[string][]string{}
	var invalid []string
	var invalidErr error
	for _, it := range items {
		kind := p.kindOf(it)
		if err := p.checkItem(kind, it); err != nil {
			invalid = append(invalid, it)
			if invalidErr == nil {
				invalidErr = &purge.Error{Code: "InvalidItem", Message: fmt.Sprintf("%q: %v", it, err)}
			}
			continue
		}
		if _, ok := groups[kind]; !ok {
			kinds = append(kinds, kind)
		}
		groups[kind] = append(groups[kind], it)
	}
	var batches []batch
	for _, kind := range kinds {
		limit := p.maxItems
		if kind == kindFiles {
			limit = p.maxFiles
		}
		for chunk := range slices.Chunk(groups[kind], limit) {
			batches = append(batches, batch{kind: kind, items: chunk})
		}
	}
	return batches, invalid, invalidErr
}

// run makes the calls, at most p.concurrency at a time. Once a call is
// refused for the whole account (429, or credentials refused), calls not
// yet started are left for later: they would only be refused too, and
// spend the account's bucket.
func (p *Provider) run(ctx context.Context, batches []batch) []callResult {
	results := make([]callResult, len(batches))
	sem := make(chan struct{}, p.concurrency)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, b := range batches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || stop.Load() {
			break
		}
		results[i].started = true
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i].id, results[i].err = p.call(ctx, b)
			if refusesAccount(results[i].err) {
				stop.Store(true)
			}
		}()
	}
	wg.Wait()
	return results
}

// call makes one purge_cache call and returns Cloudflare's purge id.
func (p *Provider) call(ctx context.Context, b batch) (string, error) {
	var req cf.PurgeCacheRequest
	switch b.kind {
	case kindFiles:
		req.Files = b.items
	case kindPrefixes:
		req.Prefixes = b.items
	case kindTags:
		req.Tags = b.items
	case kindHosts:
		req.Hosts = b.items
	}
	cctx, ex := withExchange(ctx)
	res, err := p.api.PurgeCacheContext(cctx, p.zoneID, req)
	switch {
	case err == nil && res.Success && ex.status/100 == 2:
		return res.Result.ID, nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("cloudflare call interrupted: %w", ctx.Err())
	case ex.status == 0:
		return "", transportError(err)
	}
	return "", answerError(ex)
}

func (p *Provider) result(ctx context.Context, items []string, batches []batch, results []callResult,
	invalid []string, invalidErr error) (purge.Result, error) {
	left := map[string]bool{}
	for _, it := range invalid {
		left[it] = true
	}
	var errs []error
	if invalidErr != nil {
		errs = append(errs, invalidErr)
	}
	ids := []string{}
	calls, failed, notMade, purged := 0, 0, 0, 0
	for i, b := range batches {
		r := results[i]
		switch {
		case !r.started:
			notMade++
		case r.err == nil:
			calls++
			purged += len(b.items)
			ids = append(ids, r.id)
			continue
		default:
			calls++
			failed++
			errs = append(errs, r.err)
		}
		for _, it := range b.items {
			left[it] = true
		}
	}

	res := purge.Result{Detail: map[string]any{
		"mode": p.mode, "calls": calls, "calls_failed": failed,
		"items_purged": purged, "purge_ids": ids,
	}}
	if notMade > 0 {
		res.Detail["calls_not_made"] = notMade
	}
	for _, it := range items {
		if left[it] {
			res.Remaining = append(res.Remaining, it)
		}
	}
	if len(res.Remaining) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("cloudflare: %d items not purged: %w", len(res.Remaining), err)
	}
	return res, worst(errs)
}

func unique(items []string) []string {
	seen := make(map[string]bool, len(items))
	out := make([]string, 0, len(items))
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}
