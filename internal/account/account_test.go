package account_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/account"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// recorder is a provider that records each call's items and can fail the
// calls that contain a given item.
type recorder struct {
	mu     sync.Mutex
	calls  [][]string
	failOn string
	gate   chan struct{}
}

func (r *recorder) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (r *recorder) Purge(_ context.Context, items []string) (purge.Result, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(items))
	r.mu.Unlock()
	if r.failOn != "" && slices.Contains(items, r.failOn) {
		return purge.Result{Remaining: items}, &purge.Error{Code: "1012"}
	}
	return purge.Result{}, nil
}

func TestBurstIsMergedUpToTheLimit(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c := account.NewCoalescer(rec, 50*time.Millisecond, 30)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := []string{fmt.Sprintf("https://a.test/image/%d/x.jpg", i), fmt.Sprintf("https://b.test/image/%d/x.jpg", i)}
			if _, err := c.Purge(context.Background(), items); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d purges failed", failed.Load())
	}
	total := 0
	for _, call := range rec.calls {
		if len(call) > 30 {
			t.Fatalf("a call carried %d items", len(call))
		}
		total += len(call)
	}
	minimum := 2000 / 30
	t.Logf("1000 purges, 2000 URLs: %d calls (minimum %d, unmerged 1000)", len(rec.calls), minimum+1)
	if total != 2000 || len(rec.calls) > minimum+5 {
		t.Fatalf("%d calls carrying %d items; want about %d calls", len(rec.calls), total, minimum+1)
	}
}

func TestEachCallerGetsItsOwnResult(t *testing.T) {
	t.Parallel()
	rec := &recorder{failOn: "bad"}
	c := account.NewCoalescer(rec, 20*time.Millisecond, 100)
	var wg sync.WaitGroup
	results := map[string]error{}
	var mu sync.Mutex
	for _, items := range [][]string{{"good1"}, {"bad", "good2"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Purge(context.Background(), items)
			mu.Lock()
			results[items[0]] = err
			mu.Unlock()
			if err != nil && !slices.Equal(res.Remaining, items) {
				t.Errorf("remaining %v, want only the caller's own %v", res.Remaining, items)
			}
		}()
	}
	wg.Wait()
	// Both were in the one failed call, so both see its error with only
	// their own items remaining.
	if len(rec.calls) != 1 || results["good1"] == nil || results["bad"] == nil {
		t.Fatalf("calls %v results %v", rec.calls, results)
	}
}

func TestIdenticalPurgesInFlightShareOneCall(t *testing.T) {
	t.Parallel()
	rec := &recorder{gate: make(chan struct{})}
	c := account.NewCoalescer(rec, 0, 100)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Purge(context.Background(), []string{"b", "a"}); err != nil {
				t.Error(err)
			}
		}()
	}
	// Let all five arrive while the first call is held open.
	for c.Calls() < 1 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(rec.gate)
	wg.Wait()
	if len(rec.calls) > 2 {
		t.Fatalf("%d calls for identical purges", len(rec.calls))
	}
}

func TestWindowZeroDoesNotWait(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	c := account.NewCoalescer(rec, 0, 100)
	for i := range 3 {
		if _, err := c.Purge(context.Background(), []string{fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.calls) != 3 {
		t.Fatalf("calls = %d", len(rec.calls))
	}
}

func TestLimiterFailsFastPastTheDeadline(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := account.NewLimited(rec, 1, 1, 30)
	if _, err := l.Purge(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := l.Purge(ctx, []string{"b"})
	pe, ok := err.(*purge.Error)
	if !ok || pe.Code != "RateLimited" || !pe.Retryable || pe.RetryAfter < 500*time.Millisecond {
		t.Fatalf("err = %#v", err)
	}
	if len(rec.calls) != 1 {
		t.Fatal("the limited call reached the provider")
	}
}

// held is a provider whose call lasts until release is closed or its
// context ends, and says which happened.
type held struct {
	started chan struct{}
	release chan struct{}
	ended   chan error
}

func newHeld() *held {
	return &held{started: make(chan struct{}, 8), release: make(chan struct{}), ended: make(chan error, 8)}
}

func (h *held) Plan(t purge.Target) ([]string, error) { return t.Renditions, nil }

func (h *held) Purge(ctx context.Context, items []string) (purge.Result, error) {
	h.started <- struct{}{}
	select {
	case <-h.release:
		h.ended <- nil
		return purge.Result{}, nil
	case <-ctx.Done():
		h.ended <- ctx.Err()
		return purge.Result{Remaining: items}, ctx.Err()
	}
}

// TestCallStopsWhenEveryCallerLeaves: a merged call is canceled once no
// caller waits for it, not left running to the latest deadline (case C11),
// and keeps running while one caller still waits.
func TestCallStopsWhenEveryCallerLeaves(t *testing.T) {
	t.Parallel()
	t.Run("AllLeave", func(t *testing.T) {
		t.Parallel()
		h := newHeld()
		c := account.NewCoalescer(h, 0, 100)
		deadline, cancelDeadline := context.WithTimeout(context.Background(), time.Hour)
		defer cancelDeadline()
		ctx, cancel := context.WithCancel(deadline)
		errc := make(chan error, 1)
		go func() { _, err := c.Purge(ctx, []string{"a"}); errc <- err }()
		<-h.started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("caller got %v", err)
		}
		select {
		case err := <-h.ended:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the call ended with %v, want canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the call ran on after its only caller left")
		}
		// A new identical purge makes a call of its own.
		go func() { _, _ = c.Purge(context.Background(), []string{"a"}) }()
		<-h.started
		close(h.release)
		if err := <-h.ended; err != nil {
			t.Fatalf("the second call ended with %v", err)
		}
	})
	t.Run("OneStays", func(t *testing.T) {
		t.Parallel()
		h := newHeld()
		c := account.NewCoalescer(h, 0, 100)
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		go func() { _, err := c.Purge(ctx, []string{"a"}); left <- err }()
		<-h.started
		stayed := make(chan error, 1)
		go func() { _, err := c.Purge(context.Background(), []string{"a"}); stayed <- err }()
		// The second caller shares the call in flight; the first leaves
		// only once it has joined.
		for c.Waiting([]string{"a"}) < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-left
		close(h.release)
		if err := <-stayed; err != nil {
			t.Fatalf("the caller that stayed got %v", err)
		}
		if err := <-h.ended; err != nil {
			t.Fatalf("the shared call ended with %v while a caller waited", err)
		}
	})
}
