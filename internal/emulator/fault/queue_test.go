package fault_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

type rule = fault.Rule[string, int]

func even(c int) bool { return c%2 == 0 }

// takes returns the fault each call gets in turn, "" for none.
func takes(q *fault.Queue[string, int], calls ...int) []string {
	var out []string
	for _, c := range calls {
		f, _ := q.Take(c)
		out = append(out, f)
	}
	return out
}

func TestQueue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(q *fault.Queue[string, int])
		calls []int
		want  []string
	}{
		{"Empty", func(*fault.Queue[string, int]) {}, []int{1}, []string{""}},
		{"NextInArrivalOrder", func(q *fault.Queue[string, int]) { q.Next("a", "", "b") },
			[]int{1, 2, 3, 4}, []string{"a", "", "b", ""}},
		{"QueuedBeforeStanding", func(q *fault.Queue[string, int]) {
			q.Add(rule{Fault: "always"})
			q.Next("once")
		}, []int{1, 2}, []string{"once", "always"}},
		{"FirstMatchingQueuedIsTaken", func(q *fault.Queue[string, int]) {
			q.Enqueue(rule{Match: even, Fault: "even"}, rule{Fault: "any"})
		}, []int{1, 2, 3}, []string{"any", "even", ""}},
		{"FirstMatchingStandingApplies", func(q *fault.Queue[string, int]) {
			q.Add(rule{Match: even, Fault: "even"}, rule{Fault: "any"})
		}, []int{1, 2}, []string{"any", "even"}},
		{"SetReplaces", func(q *fault.Queue[string, int]) {
			q.Add(rule{Fault: "old"})
			q.Set(rule{Fault: "new"})
		}, []int{1}, []string{"new"}},
		{"SetNothingClears", func(q *fault.Queue[string, int]) {
			q.Add(rule{Fault: "old"})
			q.Set()
		}, []int{1}, []string{""}},
		{"Clear", func(q *fault.Queue[string, int]) {
			q.Next("a")
			q.Add(rule{Fault: "b"})
			q.Clear()
		}, []int{1}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var q fault.Queue[string, int]
			tt.setup(&q)
			if got := takes(&q, tt.calls...); !slices.Equal(got, tt.want) {
				t.Errorf("faults taken = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQueueTakeReportsNone(t *testing.T) {
	t.Parallel()
	var q fault.Queue[string, int]
	q.Add(rule{Match: even, Fault: "even"})
	if _, ok := q.Take(1); ok {
		t.Error("Take(1) found a fault that matches only even calls")
	}
	if f, ok := q.Take(2); !ok || f != "even" {
		t.Errorf("Take(2) = %q, %v", f, ok)
	}
}

// Each queued fault goes to exactly one of many concurrent calls.
func TestQueueConcurrentTakes(t *testing.T) {
	t.Parallel()
	var q fault.Queue[string, int]
	q.Next("a", "b", "c")
	var mu sync.Mutex
	taken := map[string]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if f, _ := q.Take(i); f != "" {
				mu.Lock()
				taken[f]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != 3 || taken["a"] != 1 || taken["b"] != 1 || taken["c"] != 1 {
		t.Errorf("taken = %v, want a, b and c once each", taken)
	}
}
