package fastly

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

// takeFault returns the fault for c, the zero Fault when there is none,
// and signals its arrival.
func (e *Emulator) takeFault(c Call) Fault {
	f, _ := e.faults.Take(c)
	fault.Arrive(f.Arrived)
	return f
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
