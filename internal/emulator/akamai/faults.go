package akamai

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Fault is a misbehaviour injected into one call. The zero Fault lets the
// call through untouched; fields combine (a delay, then a 503).
type Fault struct {
	// Status answers with this HTTP status and Fast Purge's problem body
	// instead of handling the call, before authentication. Title overrides
	// the problem's title (default: the status text; "Rate Limit exceeded"
	// for 429, which also carries the X-Ratelimit-* headers).
	Status int
	Title  string
	// RetryAfter, if set, sends Retry-After in whole seconds.
	RetryAfter time.Duration
	// Header adds headers to the answer.
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

// FailNext queues faults for the next calls, one per call in arrival order.
// A zero Fault in the sequence lets its call through.
func (e *Emulator) FailNext(faults ...Fault) { e.faults.Next(faults...) }

// FailWhen applies f to every later call for which match is true, after any
// queued FailNext faults are used up.
func (e *Emulator) FailWhen(match func(Call) bool, f Fault) {
	e.faults.Add(fault.Rule[Fault, Call]{Match: match, Fault: f})
}

// ClearFaults drops queued and standing faults.
func (e *Emulator) ClearFaults() { e.faults.Clear() }

// NamesAny matches calls whose body names any of objects. Fast Purge fails
// a whole request when one of its objects fails, and so does this fault.
func NamesAny(objects ...string) func(Call) bool {
	return func(c Call) bool {
		for _, o := range c.Objects {
			if slices.Contains(objects, o) {
				return true
			}
		}
		return false
	}
}

// takeFault returns the fault for c, the zero Fault when there is none,
// and signals its arrival.
func (e *Emulator) takeFault(c Call) Fault {
	f, _ := e.faults.Take(c)
	fault.Arrive(f.Arrived)
	return f
}

func (e *Emulator) faultReply(f Fault, c Call) reply {
	title := f.Title
	if title == "" {
		title = http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			title = "Rate Limit exceeded"
		}
	}
	rep := ccuError(f.Status, title, "injected by the emulator")
	if f.Status == http.StatusTooManyRequests {
		e.mu.Lock()
		req, obj := e.peek(c.Type)
		rep.header = bucketHeaders(req, obj)
		body := rep.body.(map[string]any)
		body["rateLimit"], body["rateLimitCurrentRequestSize"] = int(req.Burst), 1
		body["rateLimitRemaining"] = 0
		e.mu.Unlock()
		// Only the request bucket is said to be empty: that is what the
		// fault pretends happened.
		rep.header.Set("X-Ratelimit-Remaining", "0")
	}
	if f.RetryAfter > 0 {
		if rep.header == nil {
			rep.header = http.Header{}
		}
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		rep.header.Set("Retry-After", strconv.Itoa(secs))
	}
	return rep
}
