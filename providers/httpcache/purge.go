package httpcache

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// NodeResult is one node's share of a Purge, reported under Detail["nodes"].
type NodeResult struct {
	Node      string `json:"node"`
	Purged    int    `json:"purged"`
	NotCached int    `json:"not_cached"`
	Failed    int    `json:"failed"`
	// Error is the code of the node's first failure, Message its text.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// nodeRun is what one node did with each item.
type nodeRun struct {
	errs   []*purge.Error // per item; nil when the node purged it
	first  *purge.Error
	result NodeResult
}

// Purge implements purge.Provider. Every node receives every item, the
// nodes in parallel; an item remains when any node failed it, and the
// error then names each failing node.
func (p *Provider) Purge(ctx context.Context, items []string) (purge.Result, error) {
	parsed := make([]item, len(items))
	for i, s := range items {
		it, err := parseItem(s)
		if err != nil {
			bad := &purge.Error{Code: "BadItem", Message: err.Error()}
			return purge.Result{Remaining: items}, bad
		}
		parsed[i] = it
	}
	if err := ctx.Err(); err != nil {
		return purge.Result{Remaining: items}, ctxError(err)
	}

	runs := make([]nodeRun, len(p.nodes))
	var wg sync.WaitGroup
	for i, node := range p.nodes {
		wg.Go(func() { runs[i] = p.purgeNode(ctx, node, parsed) })
	}
	wg.Wait()
	return summarize(ctx, items, runs)
}

// purgeNode sends every item to one node, at most Concurrency at a time.
func (p *Provider) purgeNode(ctx context.Context, node *url.URL, items []item) nodeRun {
	run := nodeRun{errs: make([]*purge.Error, len(items)), result: NodeResult{Node: node.String()}}
	notCached := make([]bool, len(items))
	slots := make(chan struct{}, p.set.Concurrency)
	var wg sync.WaitGroup
	for i, it := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			run.errs[i] = ctxError(ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			notCached[i], run.errs[i] = p.send(ctx, node, it)
		})
	}
	wg.Wait()

	for i, e := range run.errs {
		switch {
		case e != nil:
			run.result.Failed++
			if run.first == nil {
				run.first = e
				run.result.Error, run.result.Message = e.Code, e.Message
			}
		case notCached[i]:
			run.result.NotCached++
		default:
			run.result.Purged++
		}
	}
	return run
}

// send makes one request and reports whether the node said it did not hold
// the object.
func (p *Provider) send(ctx context.Context, node *url.URL, it item) (bool, *purge.Error) {
	req, err := p.request(ctx, node, it)
	if err != nil {
		return false, &purge.Error{Code: "BadItem", Message: err.Error(), Err: err}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, transportError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	// Read what little a purge answer holds, so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return statusOutcome(it, resp)
}

func summarize(ctx context.Context, items []string, runs []nodeRun) (purge.Result, error) {
	var remaining []string
	for i, s := range items {
		for _, r := range runs {
			if r.errs[i] != nil {
				remaining = append(remaining, s)
				break
			}
		}
	}
	nodes := make([]NodeResult, len(runs))
	for i, r := range runs {
		nodes[i] = r.result
	}
	res := purge.Result{Remaining: remaining, Detail: map[string]any{"nodes": nodes}}
	if len(remaining) == 0 {
		return res, nil
	}
	if err := ctx.Err(); errors.Is(err, context.Canceled) {
		// The caller left: say so, not which node happened to notice.
		return res, ctxError(err)
	}
	return res, layerError(runs)
}

// layerError merges the nodes' failures. Its code is the first node's that
// no retry can fix, else the first failing node's; it is retryable only when
// every failure is.
func layerError(runs []nodeRun) *purge.Error {
	var first, fatal *purge.Error
	var msgs []string
	var errs []error
	out := &purge.Error{Retryable: true}
	for _, r := range runs {
		e := r.first
		if e == nil {
			continue
		}
		msgs = append(msgs, "node "+r.result.Node+": "+e.Error())
		errs = append(errs, e)
		out.Retryable = out.Retryable && e.Retryable
		out.RetryAfter = max(out.RetryAfter, e.RetryAfter)
		if first == nil {
			first = e
		}
		if fatal == nil && !e.Retryable {
			fatal = e
		}
	}
	out.Code = first.Code
	if fatal != nil {
		out.Code = fatal.Code
	}
	out.Message = strings.Join(msgs, "; ")
	out.Err = errors.Join(errs...)
	return out
}
