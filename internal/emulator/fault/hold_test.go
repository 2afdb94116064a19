package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

func TestArriveNeverBlocks(t *testing.T) {
	t.Parallel()
	fault.Arrive(nil)
	ch := make(chan struct{}, 1)
	fault.Arrive(ch)
	fault.Arrive(ch) // full: dropped, not blocked
	if len(ch) != 1 {
		t.Errorf("%d signals buffered, want 1", len(ch))
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	t.Run("NothingToWaitFor", func(t *testing.T) {
		t.Parallel()
		if !fault.Wait(context.Background(), 0, nil) {
			t.Error("Wait = false without a delay or a hold")
		}
	})
	t.Run("HoldReleased", func(t *testing.T) {
		t.Parallel()
		hold := make(chan struct{})
		close(hold)
		if !fault.Wait(context.Background(), time.Millisecond, hold) {
			t.Error("Wait = false after the delay and a closed hold")
		}
	})
	t.Run("ClientLeftDuringHold", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if fault.Wait(ctx, 0, make(chan struct{})) {
			t.Error("Wait = true though the client left")
		}
	})
	t.Run("ClientLeftDuringDelay", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if fault.Wait(ctx, time.Hour, nil) {
			t.Error("Wait = true though the client left")
		}
	})
}
