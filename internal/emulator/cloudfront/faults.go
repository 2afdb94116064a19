package cloudfront

import (
	"net/http"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Fault changes how the emulator answers one CreateInvalidation call. The
// zero Fault answers normally.
type Fault struct {
	// Arrived, if set, receives a value without blocking when the call
	// reaches the fault, before any Delay or Block; make it buffered.
	Arrived chan<- struct{}
	// Delay holds the answer this long (wall clock), or until the client
	// gives up.
	Delay time.Duration
	// Block holds the answer until it is closed or the client gives up, so
	// a test can order events without sleeping.
	Block <-chan struct{}

	// Status, Code and Message replace the answer with an error, before the
	// batch is looked at. Status 0 takes the code's usual status.
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as a Retry-After header with the error.
	RetryAfter string

	// Drop closes the connection without an answer.
	Drop bool
	// Malformed answers with a truncated XML body.
	Malformed bool
	// Commit makes Drop and Malformed happen after the batch was accepted
	// and the invalidation created: the client cannot tell whether it was.
	Commit bool
}

// Throttling is CloudFront's answer to calls over its request rate.
func Throttling() Fault {
	return Fault{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"}
}

// ServiceUnavailable is CloudFront's occasional 503.
func ServiceUnavailable() Fault {
	return Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
		Message: "CloudFront is temporarily unable to handle the request."}
}

// TooManyInProgress is the answer when the in-progress limits are reached.
func TooManyInProgress() Fault {
	return Fault{Code: "TooManyInvalidationsInProgress", Message: msgTooMany}
}

const msgTooMany = "Processing your request will cause you to exceed the maximum number of " +
	"in-progress wildcard invalidations or file invalidations."

// Enqueue adds faults for the next CreateInvalidation calls, one per call
// in order; calls beyond the queue get the SetFault fault, if any.
func (e *Emulator) Enqueue(faults ...Fault) { e.faults.Next(faults...) }

// SetFault applies a copy of *f to every CreateInvalidation call not served
// from the Enqueue queue; nil clears it.
func (e *Emulator) SetFault(f *Fault) {
	if f == nil {
		e.faults.Set()
		return
	}
	e.faults.Set(fault.Rule[Fault, struct{}]{Fault: *f})
}

// FailPaths makes every batch that holds one of paths fail with code, as if
// CloudFront refused those paths, until ClearFailPaths.
func (e *Emulator) FailPaths(code string, paths ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range paths {
		e.failing[p] = code
	}
}

// ClearFailPaths removes every FailPaths rule.
func (e *Emulator) ClearFailPaths() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.failing)
}

// nextFault returns the fault for the next call, the zero Fault when there
// is none.
func (e *Emulator) nextFault() Fault {
	f, _ := e.faults.Take(struct{}{})
	return f
}

// wait holds the answer as the fault asks; false means the client left.
func (f Fault) wait(r *http.Request) bool {
	fault.Arrive(f.Arrived)
	return fault.Wait(r.Context(), f.Delay, f.Block)
}

func writeMalformed(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0"?><Invalidation xmlns="` + Namespace + `"><Id>I`))
}
