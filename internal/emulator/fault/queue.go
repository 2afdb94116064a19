package fault

import (
	"slices"
	"sync"
)

// Rule is a fault and the calls it applies to.
type Rule[F, C any] struct {
	// Match selects the calls; nil selects every call.
	Match func(C) bool
	Fault F
}

func (r *Rule[F, C]) matches(c C) bool { return r.Match == nil || r.Match(c) }

// Queue holds an emulator's faults of type F for calls described by C:
// queued faults, each used up by the one call that takes it, and standing
// faults, applied to every call no queued fault takes. The zero Queue is
// empty and ready; it is safe for concurrent use.
type Queue[F, C any] struct {
	mu       sync.Mutex
	queued   []Rule[F, C]
	standing []Rule[F, C]
}

// Next queues faults for the next calls, one per call in arrival order. A
// zero fault in the sequence lets its call through.
func (q *Queue[F, C]) Next(faults ...F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range faults {
		q.queued = append(q.queued, Rule[F, C]{Fault: f})
	}
}

// Enqueue queues rules for single calls: each later call takes the first
// queued rule that matches it, which may not be the oldest.
func (q *Queue[F, C]) Enqueue(rules ...Rule[F, C]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued = append(q.queued, rules...)
}

// Add appends standing rules, after those already standing.
func (q *Queue[F, C]) Add(rules ...Rule[F, C]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.standing = append(q.standing, rules...)
}

// Set replaces the standing rules; no arguments clear them.
func (q *Queue[F, C]) Set(rules ...Rule[F, C]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.standing = slices.Clone(rules)
}

// Clear drops queued and standing faults.
func (q *Queue[F, C]) Clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queued, q.standing = nil, nil
}

// Take returns the fault for call c: the first queued one that matches it,
// which is used up, else the first standing one that matches. ok is false
// when none does.
func (q *Queue[F, C]) Take(c C) (f F, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.queued {
		if q.queued[i].matches(c) {
			f = q.queued[i].Fault
			q.queued = slices.Delete(q.queued, i, i+1)
			return f, true
		}
	}
	for i := range q.standing {
		if q.standing[i].matches(c) {
			return q.standing[i].Fault, true
		}
	}
	return f, false
}
