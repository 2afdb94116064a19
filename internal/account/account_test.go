package account_test

import (
	"context"
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
