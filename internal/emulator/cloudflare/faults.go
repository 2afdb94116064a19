package cloudflare

import (
	"net/http"
	"slices"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// Fault is an answer the emulator gives instead of, or before, its own.
//
// With Status set, the call is answered with that status and the JSON error
// envelope carrying Code and Message (an empty errors list when Code is 0).
// With Status 0 but a Code or Message, it is answered 200 with
// success:false, which cloudflare-go does not treat as an error. Body, when
// set, replaces the envelope with raw bytes, for malformed answers. A Fault
// with none of these only delays, blocks or drops the call, and a call it
// lets through is then answered normally.
type Fault struct {
	// Items limits the fault to calls naming at least one of these items
	// (files, tags, hosts or prefixes, compared exactly). Empty: any call.
	Items []string

	Status     int
	Code       int
	Message    string
	RetryAfter string
	Body       string

	// Reached, when set, is sent a value without blocking as a call reaches
	// the fault, so a test can act while the call is held; give it a
	// buffer of one.
	Reached chan<- struct{}
	// Delay holds the answer back; Block holds it until the channel is
	// closed. Either ends early when the client goes away.
	Delay time.Duration
	Block <-chan struct{}
	// Drop closes the connection without an answer.
	Drop bool
}

func (f *Fault) answers() bool {
	return f.Status != 0 || f.Code != 0 || f.Message != "" || f.Body != ""
}

func (f *Fault) matches(items []string) bool {
	return len(f.Items) == 0 || slices.ContainsFunc(items, func(it string) bool {
		return slices.Contains(f.Items, it)
	})
}

// Enqueue adds faults for single calls: each later call takes the first
// queued fault that matches it. A zero Fault lets one call through
// unchanged, so Enqueue(Fault{}, Fault{Status: 500}) fails the second call.
func (e *Emulator) Enqueue(faults ...Fault) {
	e.faults.Enqueue(rules(faults)...)
}

// SetFaults replaces the faults applied to every call: a call gets the
// first one that matches it, when no queued fault does. No arguments clear
// them.
func (e *Emulator) SetFaults(faults ...Fault) {
	e.faults.Set(rules(faults)...)
}

// rules pairs each fault with its own Items filter.
func rules(faults []Fault) []fault.Rule[Fault, []string] {
	out := make([]fault.Rule[Fault, []string], len(faults))
	for i, f := range faults {
		// f is this iteration's own copy, so each rule matches its fault.
		out[i] = fault.Rule[Fault, []string]{Match: f.matches, Fault: f}
	}
	return out
}

// hold waits out a fault's delay or block; false means the client left.
func (f *Fault) hold(r *http.Request) bool {
	fault.Arrive(f.Reached)
	return fault.Wait(r.Context(), f.Delay, f.Block)
}
