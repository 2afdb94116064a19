package providerkit_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type call = providerkit.Call[string]

func items(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a' + i))
	}
	return out
}

func TestSplit(t *testing.T) {
	t.Parallel()
	got := providerkit.Split(items(5), 2)
	if len(got) != 3 || !slices.Equal(got[0].Items, []string{"a", "b"}) ||
		!slices.Equal(got[2].Items, []string{"e"}) {
		t.Fatalf("Split = %+v, want batches of 2, 2 and 1", got)
	}
	if got := providerkit.Split(nil, 3); len(got) != 0 {
		t.Errorf("Split(nil) = %+v, want none", got)
	}
}

func TestRunBoundsConcurrency(t *testing.T) {
	t.Parallel()
	var running, peak atomic.Int32
	res := providerkit.Run(context.Background(), providerkit.Split(items(12), 1), 3,
		func(_ context.Context, b providerkit.Batch) call {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p; p = peak.Load() {
				if peak.CompareAndSwap(p, n) {
					break
				}
			}
			// Not a synchronisation: it only lets the calls overlap.
			time.Sleep(2 * time.Millisecond)
			return call{Info: b.Items[0], Made: true}
		})
	if p := peak.Load(); p > 3 {
		t.Errorf("%d calls ran at once, want at most 3", p)
	}
	for i, r := range res {
		if r.Info != items(12)[i] {
			t.Fatalf("result %d = %+v: results must keep the order of batches", i, r)
		}
	}
}

func TestRunHaltsLaterCalls(t *testing.T) {
	t.Parallel()
	refused := &purge.Error{Code: "HTTP429", Retryable: true}
	res := providerkit.Run(context.Background(), providerkit.Split(items(3), 1), 1,
		func(_ context.Context, b providerkit.Batch) call {
			r := providerkit.Failed[string](b.Items, refused)
			r.Halt = true
			return r
		})
	sum := providerkit.Sum(context.Background(), "test", 3, res)
	if sum.Calls != 1 || sum.Failed != 1 || !slices.Equal(sum.Left, items(3)) {
		t.Errorf("Sum = %+v, want one call made and every item left", sum)
	}
}

func TestRunReportsRefusedBatchesWithoutACall(t *testing.T) {
	t.Parallel()
	bad := &purge.Error{Code: "InvalidItem"}
	batches := []providerkit.Batch{{Items: []string{"a"}}, {Items: []string{"b"}, Err: bad}}
	var made atomic.Int32
	res := providerkit.Run(context.Background(), batches, 2,
		func(context.Context, providerkit.Batch) call { made.Add(1); return call{Made: true} })
	r := res[1]
	if made.Load() != 1 || r.Made || r.Err != bad || !slices.Equal(r.Left, []string{"b"}) {
		t.Errorf("results %+v after %d calls, want b refused unsent", res, made.Load())
	}
}

func TestRunAfterCancelMakesNoCall(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := providerkit.Run(ctx, providerkit.Split(items(4), 2), 2,
		func(context.Context, providerkit.Batch) call { t.Error("call made"); return call{} })
	sum := providerkit.Sum(ctx, "test", 4, res)
	if !errors.Is(sum.Err, context.Canceled) || sum.Calls != 0 || len(sum.Left) != 4 {
		t.Errorf("Sum = %+v, want every item left and ctx's error", sum)
	}
}

func TestSumPicksTheError(t *testing.T) {
	t.Parallel()
	slow := &purge.Error{Code: "HTTP503", Retryable: true, RetryAfter: time.Second}
	slower := &purge.Error{Code: "HTTP429", Retryable: true, RetryAfter: time.Minute}
	fatal := &purge.Error{Code: "HTTP401"}
	left := func(e *purge.Error) call { return providerkit.Failed[string]([]string{"x"}, e) }
	tests := []struct {
		name     string
		res      []call
		code     string
		wait     time.Duration
		retrying bool
	}{
		{"FirstWithTheLongestWait", []call{left(slow), left(slower)}, "HTTP503", time.Minute, true},
		{"NonRetryableWins", []call{left(slow), left(fatal)}, "HTTP401", 0, false},
		{"Unexplained", []call{{Left: []string{"x"}}}, "Incomplete", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var pe *purge.Error
			sum := providerkit.Sum(context.Background(), "test", 2, tt.res)
			if !errors.As(sum.Err, &pe) || pe.Code != tt.code || pe.RetryAfter != tt.wait ||
				pe.Retryable != tt.retrying {
				t.Errorf("Err = %+v, want %s retryable=%v after %v",
					sum.Err, tt.code, tt.retrying, tt.wait)
			}
		})
	}
	if slow.RetryAfter != time.Second {
		t.Error("Sum changed a call's own error")
	}
}

func TestSumOfSuccess(t *testing.T) {
	t.Parallel()
	sum := providerkit.Sum(context.Background(), "test", 1, []call{{Made: true}})
	if sum.Err != nil || sum.Left != nil || sum.Calls != 1 {
		t.Errorf("Sum = %+v, want one call and nothing left", sum)
	}
}
