package fault

import (
	"context"
	"time"
)

// Arrive sends on arrived, if set, without blocking, so that a test learns a
// call reached its fault and can act while the call is held. Give the
// channel a buffer of one: a signal nobody is ready for is dropped.
func Arrive(arrived chan<- struct{}) {
	if arrived == nil {
		return
	}
	select {
	case arrived <- struct{}{}:
	default:
	}
}

// Wait holds a call for delay, then until hold is closed (a nil hold does
// not hold). It returns false as soon as ctx ends, when the client has gone
// and nothing more should be done for the call.
func Wait(ctx context.Context, delay time.Duration, hold <-chan struct{}) bool {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
