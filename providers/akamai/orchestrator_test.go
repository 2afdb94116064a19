package akamai_test

import (
	"context"
	"slices"
	"testing"
	"time"

	akamaiemu "github.com/imgpurge/imgpurge/internal/emulator/akamai"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestOrchestratorRetriesOnlyTheFailedCall(t *testing.T) {
	t.Parallel()
	b := setup(t, emptyOpts, "max_objects_per_call: 2\nconcurrency: 1\n", "img.example.test")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(6, "")})
	b.emu.FailNext(akamaiemu.Fault{}, akamaiemu.Fault{Status: 503})
	lo := providertest.Execute(context.Background(), b.p, "akamai", items)
	if lo.Status != purge.StatusSucceeded || lo.Attempts != 2 {
		t.Fatalf("outcome %s after %d attempts (%v), want succeeded after 2", lo.Status, lo.Attempts, lo.Err)
	}
	calls := b.emu.Calls()
	if len(calls) != 4 || !slices.Equal(calls[3].Objects, items[2:4]) {
		t.Errorf("retry sent %q in call %d, want only the failed call's %q", calls[len(calls)-1].Objects, len(calls), items[2:4])
	}
}

func TestOrchestratorDoesNotWaitPastTheDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, emptyOpts, "", "img.example.test")
	b.emu.FailNext(akamaiemu.Fault{Status: 429, RetryAfter: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	lo := providertest.Execute(ctx, b.p, "akamai", b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}}))
	if lo.Status != purge.StatusFailed || lo.Err == nil || lo.Err.Code != "HTTP429 Rate Limit exceeded" || !lo.Err.Retryable {
		t.Fatalf("outcome %s %+v, want a retryable HTTP429 Rate Limit exceeded for the journal", lo.Status, lo.Err)
	}
	if lo.Err.RetryAfter < 28*time.Second {
		t.Errorf("RetryAfter = %v, want the emulator's ~30s for the journal to observe", lo.Err.RetryAfter)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Execute took %v; a wait beyond the deadline must be left to the journal", d)
	}
}
