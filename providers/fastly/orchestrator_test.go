package fastly_test

import (
	"context"
	"slices"
	"testing"
	"time"

	fastlyemu "github.com/imgpurge/imgpurge/internal/emulator/fastly"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestOrchestratorRetriesOnlyTheFailedCall(t *testing.T) {
	t.Parallel()
	b := setup(t, "max_keys_per_call: 2\nconcurrency: 1\n")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(6)})
	b.emu.FailNext(fastlyemu.Fault{}, fastlyemu.Fault{Status: 503})
	lo := providertest.Execute(context.Background(), b.p, "fastly", items)
	if lo.Status != purge.StatusSucceeded || lo.Attempts != 2 {
		t.Fatalf("outcome %s after %d attempts (%v), want succeeded after 2", lo.Status, lo.Attempts, lo.Err)
	}
	calls := b.emu.Calls()
	if len(calls) != 4 || !slices.Equal(calls[3].Items, items[2:4]) {
		t.Errorf("retry sent %q in call %d, want only the failed call's %q", calls[len(calls)-1].Items, len(calls), items[2:4])
	}
}

func TestOrchestratorDoesNotWaitPastTheDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	b.emu.FailNext(fastlyemu.Fault{Status: 429, RetryAfter: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	lo := providertest.Execute(ctx, b.p, "fastly", b.plan(t, purge.Target{ImageID: imageID, All: true}))
	if lo.Status != purge.StatusFailed || lo.Err == nil || lo.Err.Code != "HTTP429" || !lo.Err.Retryable {
		t.Fatalf("outcome %s %+v, want a retryable HTTP429 failure for the journal", lo.Status, lo.Err)
	}
	if lo.Err.RetryAfter < 28*time.Second {
		t.Errorf("RetryAfter = %v, want the emulator's ~30s for the journal to observe", lo.Err.RetryAfter)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Execute took %v; a wait beyond the deadline must be left to the journal", d)
	}
}
