// Package account holds what is shared by every layer that purges through one
// provider account: a coalescer that merges purges arriving close together
// into one API call, and the account's rate limit.
package account

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Batched is implemented by providers whose API takes many items per call.
type Batched interface {
	// Account identifies the provider account (zone, distribution,
	// service) whose limits calls count against.
	Account() string
	// MaxItemsPerCall is the most items one API call may carry.
	MaxItemsPerCall() int
}

// Coalescer merges Purge calls that arrive within a window into one call of
// the provider, up to its per-call limit (group commit), and lets identical
// purges in flight share one call. Each caller gets its own result: the
// items of its own that remain, and the error if any of them do.
type Coalescer struct {
	inner  purge.Provider
	window time.Duration
	max    int

	mu       sync.Mutex
	open     *batch
	inFlight map[string]*batch
	// Calls counts the calls made to the provider, for tests and metrics.
	calls int
	// OnBatch, when set, is told the size of each call made.
	OnBatch func(items int)
}

// NewCoalescer wraps p. A window of zero turns merging off; identical
// purges in flight still share one call.
func NewCoalescer(p purge.Provider, window time.Duration, maxItems int) *Coalescer {
	if maxItems <= 0 {
		maxItems = 1
	}
	return &Coalescer{inner: p, window: window, max: maxItems, inFlight: map[string]*batch{}}
}

type batch struct {
	items    []string
	seen     map[string]bool
	deadline time.Time
	timer    *time.Timer
	done     chan struct{}
	res      purge.Result
	err      error
	// waiters counts the callers still waiting for the result; guarded by
	// Coalescer.mu. When the last one leaves, ctx is canceled.
	waiters int
	ctx     context.Context
	cancel  context.CancelFunc
}

// Plan implements purge.Provider.
func (c *Coalescer) Plan(t purge.Target) ([]string, error) { return c.inner.Plan(t) }

// Calls reports how many provider calls the coalescer has made.
func (c *Coalescer) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Purge implements purge.Provider.
func (c *Coalescer) Purge(ctx context.Context, items []string) (purge.Result, error) {
	key := setKey(items)
	c.mu.Lock()
	b, shared := c.inFlight[key]
	if !shared {
		b = c.join(ctx, items)
	}
	b.waiters++
	c.mu.Unlock()

	select {
	case <-b.done:
	case <-ctx.Done():
		// The merged call may still purge these items for the callers
		// still waiting; reporting them as remaining only causes a harmless
		// repeat.
		c.leave(b)
		return purge.Result{Remaining: items}, ctx.Err()
	}
	return share(b, items)
}

// leave is called by a caller that stopped waiting for b. Once none waits,
// nobody needs b's answer: its call is canceled rather than left to run
// until the latest deadline (a client that went away, case C11), and b is
// taken out of reach so that a later purge makes a call of its own.
func (c *Coalescer) leave(b *batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.waiters--; b.waiters > 0 {
		return
	}
	for k, v := range c.inFlight {
		if v == b {
			delete(c.inFlight, k)
		}
	}
	if c.open == b {
		c.open = nil
		if b.timer != nil {
			b.timer.Stop()
		}
	}
	b.cancel()
}

// join adds items to the open batch, or starts one, and returns it. Called
// with c.mu held.
func (c *Coalescer) join(ctx context.Context, items []string) *batch {
	if c.open != nil && len(c.open.items)+len(items) > c.max {
		c.flushLocked()
	}
	b := c.open
	if b == nil {
		b = &batch{seen: map[string]bool{}, done: make(chan struct{})}
		b.ctx, b.cancel = context.WithCancel(context.Background())
		c.open = b
		if c.window > 0 {
			b.timer = time.AfterFunc(c.window, func() { c.flush(b) })
		}
	}
	for _, it := range items {
		if !b.seen[it] {
			b.seen[it] = true
			b.items = append(b.items, it)
		}
	}
	if dl, ok := ctx.Deadline(); ok && dl.After(b.deadline) {
		b.deadline = dl
	}
	c.inFlight[setKey(items)] = b
	if c.window <= 0 || len(b.items) >= c.max {
		c.flushLocked()
	}
	return b
}

func (c *Coalescer) flush(b *batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == b {
		c.flushLocked()
	}
}

// flushLocked sends the open batch. Called with c.mu held.
func (c *Coalescer) flushLocked() {
	b := c.open
	c.open = nil
	if b.timer != nil {
		b.timer.Stop()
	}
	c.calls++
	if c.OnBatch != nil {
		c.OnBatch(len(b.items))
	}
	go c.send(b)
}

func (c *Coalescer) send(b *batch) {
	// The batch outlives any one caller: it runs until the latest deadline
	// among them, or until every one of them has left.
	defer b.cancel()
	ctx, cancel := b.ctx, context.CancelFunc(func() {})
	if !b.deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, b.deadline)
	}
	defer cancel()
	b.res, b.err = c.inner.Purge(ctx, b.items)
	if b.err != nil && b.res.Remaining == nil {
		b.res.Remaining = b.items
	}
	c.mu.Lock()
	for k, v := range c.inFlight {
		if v == b {
			delete(c.inFlight, k)
		}
	}
	c.mu.Unlock()
	close(b.done)
}

// share returns one caller's part of a batch's result.
func share(b *batch, items []string) (purge.Result, error) {
	res := purge.Result{Detail: b.res.Detail}
	if len(b.res.Remaining) > 0 {
		left := make(map[string]bool, len(b.res.Remaining))
		for _, it := range b.res.Remaining {
			left[it] = true
		}
		for _, it := range items {
			if left[it] {
				res.Remaining = append(res.Remaining, it)
			}
		}
	}
	if b.err != nil && len(res.Remaining) > 0 {
		return res, b.err
	}
	return res, nil
}

func setKey(items []string) string {
	s := slices.Clone(items)
	slices.Sort(s)
	return strings.Join(s, "\x00")
}
