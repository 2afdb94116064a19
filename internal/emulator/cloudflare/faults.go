package cloudflare

import (
	"net/http"
	"slices"
	"time"
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
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queue = append(e.queue, faults...)
}

// SetFaults replaces the faults applied to every call: a call gets the
// first one that matches it, when no queued fault does. No arguments clear
// them.
func (e *Emulator) SetFaults(faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.always = slices.Clone(faults)
}

// fault picks the fault for a call naming items; e.mu is held.
func (e *Emulator) fault(items []string) *Fault {
	for i := range e.queue {
		if e.queue[i].matches(items) {
			f := e.queue[i]
			e.queue = slices.Delete(e.queue, i, i+1)
			return &f
		}
	}
	for i := range e.always {
		if e.always[i].matches(items) {
			f := e.always[i]
			return &f
		}
	}
	return nil
}

// hold waits out a fault's delay or block; false means the client left.
func (f *Fault) hold(r *http.Request) bool {
	if f.Reached != nil {
		select {
		case f.Reached <- struct{}{}:
		default:
		}
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}
	if f.Block != nil {
		select {
		case <-f.Block:
		case <-r.Context().Done():
			return false
		}
	}
	return true
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
