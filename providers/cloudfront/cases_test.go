package cloudfront_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// execute runs items through the orchestrator as the service does, with a
// retry policy fast enough for tests.
func (b *bundle) execute(t *testing.T, items []string) *purge.LayerOutcome {
	t.Helper()
	ds := &purge.Datastore{Name: "media", Layers: []purge.Layer{{
		Name: "cloudfront", Kind: "cloudfront", Tier: 2, Timeout: 5 * time.Second, Provider: b.p,
	}}}
	plan := &purge.Plan{ID: "p1", Datastore: "media", ImageID: imageID,
		Steps: []purge.Step{{Layer: "cloudfront", Kind: "cloudfront", Tier: 2, Items: items}}}
	o := &purge.Orchestrator{Retry: purge.RetryPolicy{Base: time.Millisecond, MaxAttempts: 3},
		Logger: slog.New(slog.DiscardHandler)}
	out := o.Execute(context.Background(), ds, plan)
	return &out.Layers[0]
}

// C4: paths with a space, a non-ASCII letter and a tilde.
func TestC4SpecialCharacters(t *testing.T) {
	t.Parallel()
	renditions := []string{"640x360 q=80.jpg", "café.jpg", "v~2.jpg"}

	t.Run("EncodedAndTildeCoveredByWildcard", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		for _, r := range renditions {
			b.emu.Seed(dist, viewerPath(imageID, r))
		}
		res, err := b.p.Purge(context.Background(), b.plan(t, renditions...))
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		want := [][]string{{base + "640x360%20q=80.jpg", base + "caf%C3%A9.jpg", base + "*"}}
		if got := b.created(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("CreateInvalidation received %q, want %q", got, want)
		}
		for _, c := range b.creates() {
			for _, p := range c.Paths {
				if strings.Contains(p, "%7E") || strings.Contains(p, "~") {
					t.Errorf("sent %q: a tilde path matches nothing and must not count as done", p)
				}
			}
		}
		for _, r := range renditions {
			if b.emu.Held(dist, viewerPath(imageID, r)) {
				t.Errorf("%q still cached", r)
			}
		}
		if res.Detail["wildcard_paths"] != 1 {
			t.Errorf("detail = %v, want the wildcard reported", res.Detail)
		}
	})

	t.Run("EveryBatchRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		b.emu.SetFault(&emu.Fault{Code: "InvalidArgument",
			Message: "Your request contains one or more invalid invalidation paths."})
		items := b.plan(t, renditions...)
		lo := b.execute(t, items)
		if lo.Status != purge.StatusFailed || lo.Err.Code != "InvalidArgument" || lo.Err.Retryable {
			t.Fatalf("outcome %s %+v, want failed with InvalidArgument, not retryable", lo.Status, lo.Err)
		}
		if lo.Attempts != 1 {
			t.Errorf("%d attempts: InvalidArgument is not worth a retry", lo.Attempts)
		}
		if !slices.Equal(lo.Remaining, items) {
			t.Errorf("Remaining = %q, want every path for the journal", lo.Remaining)
		}
	})
}

// C5: TooManyInvalidationsInProgress during bursts.
func TestC5TooManyInvalidationsInProgress(t *testing.T) {
	t.Parallel()
	renditions := []string{"1280x720.jpg", "320x180.jpg", "640x360.jpg"}
	exact := []string{base + "1280x720.jpg", base + "320x180.jpg", base + "640x360.jpg"}

	t.Run("RetryableThenAcceptedWithTheSamePaths", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		b.emu.SetFault(new(emu.TooManyInProgress()))
		items := b.plan(t, renditions...)
		lo := b.execute(t, items)
		if lo.Status != purge.StatusFailed || lo.Err.Code != "TooManyInvalidationsInProgress" ||
			!lo.Err.Retryable {
			t.Fatalf("outcome %s %+v, want a retryable TooManyInvalidationsInProgress", lo.Status, lo.Err)
		}
		if !slices.Equal(lo.Remaining, exact) {
			t.Fatalf("journaled items %q, want the three exact paths", lo.Remaining)
		}

		// The journal replays the step later, when CloudFront accepts again;
		// the derivatives are gone by then, and the plan still knows the paths.
		b.emu.SetFault(nil)
		if _, err := b.p.Purge(context.Background(), lo.Remaining); err != nil {
			t.Fatalf("journal replay: %v", err)
		}
		if got := b.created(); len(got) != 1 || !slices.Equal(got[0], exact) {
			t.Fatalf("accepted batches %q, want one of %q", got, exact)
		}
	})

	t.Run("ExactPathsPassWhileWildcardQuotaIsFull", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		fillWildcards(t, b)
		if _, err := b.p.Purge(context.Background(), b.plan(t, renditions...)); err != nil {
			t.Fatalf("exact paths refused while only wildcards are full: %v", err)
		}
	})

	t.Run("AboveThresholdTheWildcardWaitsForTheQuota", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "wildcard_threshold: 2\n")
		fillWildcards(t, b)
		items := b.plan(t, renditions...)
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "TooManyInvalidationsInProgress" {
			t.Fatalf("err = %v", err)
		}
		b.emu.Advance(emu.CompleteAfterDefault)
		if _, err := b.p.Purge(context.Background(), res.Remaining); err != nil {
			t.Fatalf("after the others completed: %v", err)
		}
	})
}

// fillWildcards puts 15 wildcard invalidations of other images in progress.
func fillWildcards(t *testing.T, b *bundle) {
	t.Helper()
	for i := range emu.MaxInProgressWildcards {
		other := purge.Target{ImageID: strings.Repeat("0", 7) + string(rune('a'+i)), All: true}
		items, err := b.p.Plan(other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("filling the wildcard quota: %v", err)
		}
	}
}

// C9: CloudFront paths carry no host, so each is invalidated once.
func TestC9PathsOncePerRendition(t *testing.T) {
	t.Parallel()
	renditions := []string{"1280x720.webp", "640x360.jpg"}
	want := []string{base + "1280x720.webp", base + "640x360.jpg"}
	for _, hosts := range [][]string{{"img.example.test", "images.example.test"}, {"img.example.test"}} {
		t.Run(strings.Join(hosts, ","), func(t *testing.T) {
			t.Parallel()
			b := setup(t, emuOptions(), "", hosts...)
			items := b.plan(t, renditions...)
			if !slices.Equal(items, want) {
				t.Fatalf("Plan = %q, want %q", items, want)
			}
			if _, err := b.p.Purge(context.Background(), items); err != nil {
				t.Fatal(err)
			}
			if got := b.created(); len(got) != 1 || !slices.Equal(got[0], want) {
				t.Fatalf("CreateInvalidation received %q", got)
			}
		})
	}
}

// A call whose answer is lost may have created the invalidation; its retry
// must reuse the CallerReference so CloudFront returns the original.
func TestCallerReferenceReusedOnRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault emu.Fault
	}{
		{"DroppedAfterCommit", emu.Fault{Drop: true, Commit: true}},
		{"MalformedAfterCommit", emu.Fault{Malformed: true, Commit: true}},
		{"ServiceUnavailable", emu.ServiceUnavailable()},
	} {
		t.Run(tc.name+"/Orchestrator", func(t *testing.T) {
			t.Parallel()
			b := setup(t, emuOptions(), "")
			b.emu.Enqueue(tc.fault)
			lo := b.execute(t, b.plan(t, "640x360.jpg", "1280x720.jpg"))
			if lo.Status != purge.StatusSucceeded || lo.Attempts != 2 {
				t.Fatalf("outcome %s after %d attempts: %+v", lo.Status, lo.Attempts, lo.Err)
			}
			assertOneInvalidation(t, b)
			ids := lo.Detail["invalidation_ids"].([]string)
			if invs := b.emu.Invalidations(dist); len(ids) != 1 || ids[0] != invs[0].ID {
				t.Errorf("invalidation_ids = %q, want the original %s", ids, invs[0].ID)
			}
		})
		t.Run(tc.name+"/Journal", func(t *testing.T) {
			t.Parallel()
			b := setup(t, emuOptions(), "")
			b.emu.Enqueue(tc.fault)
			res, err := b.p.Purge(context.Background(), b.plan(t, "640x360.jpg"))
			if err == nil || !strings.HasPrefix(res.Remaining[0], "ref:") {
				t.Fatalf("err = %v, Remaining = %q", err, res.Remaining)
			}
			if _, err := b.p.Purge(context.Background(), res.Remaining); err != nil {
				t.Fatalf("replay: %v", err)
			}
			assertOneInvalidation(t, b)
		})
	}
}

// A refusal of the retry says nothing about the lost first call, so the
// reference stays with the paths until a call succeeds.
func TestCallerReferenceKeptUntilSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "")
	b.emu.Enqueue(emu.Fault{Drop: true, Commit: true}, emu.Throttling())
	items := b.plan(t, "640x360.jpg")
	for attempt := 1; ; attempt++ {
		res, err := b.p.Purge(context.Background(), items)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.HasPrefix(res.Remaining[0], "ref:") {
			t.Fatalf("attempt %d: %v, Remaining = %q", attempt, err, res.Remaining)
		}
		items = res.Remaining
	}
	calls := b.creates()
	if r := refs(calls); len(r) != 3 || r[0] != r[1] || r[1] != r[2] {
		t.Fatalf("references %q, want one reference for all three calls", r)
	}
	if n := len(b.emu.Invalidations(dist)); n != 1 {
		t.Fatalf("%d invalidations, want 1", n)
	}
}

// assertOneInvalidation checks that every call used one CallerReference and
// that CloudFront holds a single invalidation for them.
func assertOneInvalidation(t *testing.T, b *bundle) {
	t.Helper()
	calls := b.creates()
	if len(calls) != 2 || calls[0].CallerReference != calls[1].CallerReference {
		t.Fatalf("calls used references %q", refs(calls))
	}
	if n := len(b.emu.Invalidations(dist)); n > 1 {
		t.Fatalf("%d invalidations: the retry duplicated the first", n)
	}
}

func refs(calls []emu.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.CallerReference)
	}
	return out
}

func TestCallerReferenceFreshPerPurge(t *testing.T) {
	t.Parallel()
	t.Run("RefusedCallRetriesUnderANewReference", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		b.emu.Enqueue(emu.Throttling())
		res, err := b.p.Purge(context.Background(), b.plan(t, "a.jpg"))
		if err == nil || strings.HasPrefix(res.Remaining[0], "ref:") {
			t.Fatalf("err = %v, Remaining = %q: CloudFront refused, nothing was created", err, res.Remaining)
		}
		if _, err := b.p.Purge(context.Background(), res.Remaining); err != nil {
			t.Fatal(err)
		}
		if calls := b.creates(); calls[0].CallerReference == calls[1].CallerReference {
			t.Errorf("both calls used %q", calls[0].CallerReference)
		}
	})
	t.Run("IdenticalPurgesInvalidateAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		for range 2 {
			b.emu.Seed(dist, viewerPath(imageID, "a.jpg"))
			if _, err := b.p.Purge(context.Background(), b.plan(t, "a.jpg")); err != nil {
				t.Fatal(err)
			}
			if b.emu.Held(dist, viewerPath(imageID, "a.jpg")) {
				t.Fatal("a repeated purge was answered with the old invalidation")
			}
		}
		calls := b.creates()
		if calls[0].CallerReference == calls[1].CallerReference || calls[1].Duplicate {
			t.Fatalf("references %q", refs(calls))
		}
		if !strings.HasPrefix(calls[0].CallerReference, "imgpurge-") {
			t.Errorf("reference %q lacks the configured prefix", calls[0].CallerReference)
		}
	})
	t.Run("CoalescedGroupsKeepTheirReferences", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		n1, n2 := strings.Repeat("1", 32), strings.Repeat("2", 32)
		items := []string{base + "a.jpg", "ref:" + n1, base + "b.jpg", "ref:" + n2, base + "c.jpg"}
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatal(err)
		}
		calls := b.creates()
		if len(calls) != 3 || !strings.Contains(calls[1].CallerReference, n1) ||
			!strings.Contains(calls[2].CallerReference, n2) ||
			!slices.Equal(calls[1].Paths, []string{base + "b.jpg"}) {
			t.Fatalf("calls %q with paths %v", refs(calls), calls)
		}
	})
}
