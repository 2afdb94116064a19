package fastly

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Fault is a misbehaviour injected into one call. The zero Fault lets the
// call through untouched; fields combine (a delay, then a 503).
type Fault struct {
	// Status answers with this HTTP status and Fastly's error body instead
	// of handling the call. 429 also sets Fastly-RateLimit-Remaining: 0 and
	// Fastly-RateLimit-Reset to now plus RetryAfter.
	Status     int
	RetryAfter time.Duration
	// Header adds headers to the answer (for example Retry-After).
	Header http.Header
	// Delay holds the answer back this long; Hold holds it until closed.
	// Either ends early when the client goes away, and then nothing is done.
	Delay time.Duration
	Hold  <-chan struct{}
	// Arrived, if set, receives a value (without blocking) as soon as a
	// call meets this fault, before any Delay or Hold.
	Arrived chan<- struct{}
	// Drop closes the connection without an answer.
	Drop bool
	// Malformed handles the call, then sends a truncated JSON body.
	Malformed bool
}

type rule struct {
	match func(Call) bool
	fault Fault
}

// FailNext queues faults for the next calls, one per call in arrival order.
// A zero Fault in the sequence lets its call through.
func (e *Emulator) FailNext(faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next = append(e.next, faults...)
}

// FailWhen applies f to every later call for which match is true, after any
// queued FailNext faults are used up.
func (e *Emulator) FailWhen(match func(Call) bool, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = append(e.rules, rule{match, f})
}

// ClearFaults drops queued and standing faults.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next, e.rules = nil, nil
}

// NamesAny matches calls that name any of items (surrogate keys, or
// "host/path" for URL purges).
func NamesAny(items ...string) func(Call) bool {
	return func(c Call) bool {
		for _, it := range c.Items {
			if slices.Contains(items, it) {
				return true
			}
		}
		return false
	}
}

func (e *Emulator) fault(c Call) Fault {
	e.mu.Lock()
	var f Fault
	if len(e.next) > 0 {
		f, e.next = e.next[0], e.next[1:]
	} else {
		for _, r := range e.rules {
			if r.match(c) {
				f = r.fault
				break
			}
		}
	}
	e.mu.Unlock()
	if f.Arrived != nil {
		select {
		case f.Arrived <- struct{}{}:
		default:
		}
	}
	return f
}

// wait observes Delay and Hold; false means the client left meanwhile.
func (f Fault) wait(ctx context.Context) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (e *Emulator) faultReply(f Fault) reply {
	rep := apiError(f.Status, http.StatusText(f.Status), "injected by the emulator")
	if f.Status == http.StatusTooManyRequests {
		reset := e.opts.Now().Add(f.RetryAfter + time.Second - 1).Unix()
		rep.header = http.Header{
			"Fastly-Ratelimit-Remaining": {"0"},
			"Fastly-Ratelimit-Reset":     {strconv.FormatInt(reset, 10)},
		}
	}
	return rep
}

// drop closes the client's connection without writing an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
