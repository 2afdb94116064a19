package cloudflare_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// fifteen returns 15 rendition names.
func fifteen() []string {
	var names []string
	for _, w := range []int{160, 320, 640, 1280, 1920} {
		for _, f := range []string{"jpg", "webp", "avif"} {
			names = append(names, fmt.Sprintf("%dx%d.%s", w, w*9/16, f))
		}
	}
	return names
}

// TestC6FilesPerCall: purge by URL takes 30 URLs per call; longer lists are
// split, the union of the calls is every URL once, and a failed call leaves
// exactly its own URLs.
func TestC6FilesPerCall(t *testing.T) {
	t.Parallel()
	two := []string{"img.example.test", "images.example.test"}
	three := append(slices.Clone(two), "pics.example.test")
	// The fake of the case answers success:false with HTTP 200 past 30.
	opts := cfemu.Options{RefusedStatus: 200}

	t.Run("TwoHostsOneCall", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts, "", two...)
		items := b.plan(t, all(fifteen()...))
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		calls := b.emu.Calls()
		if len(calls) != 1 || len(calls[0].Items) != 30 || !calls[0].Success {
			t.Fatalf("calls = %d, first with %d files; want one call of 30", len(calls), len(calls[0].Items))
		}
	})
	t.Run("ThreeHostsTwoCalls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts, "", three...)
		items := b.plan(t, all(fifteen()...))
		res, err := b.p.Purge(context.Background(), items)
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		var sizes []int
		var sent []string
		for _, c := range b.emu.Calls() {
			sizes = append(sizes, len(c.Items))
			sent = append(sent, c.Items...)
		}
		slices.Sort(sizes)
		if !slices.Equal(sizes, []int{15, 30}) {
			t.Fatalf("call sizes = %v, want 30 and 15", sizes)
		}
		slices.Sort(sent)
		want := slices.Sorted(slices.Values(items))
		if len(items) != 45 || !slices.Equal(sent, want) || len(slices.Compact(slices.Clone(sent))) != 45 {
			t.Fatalf("sent %d URLs (%d distinct), want the 45 planned once each", len(sent), len(slices.Compact(sent)))
		}
		if ids := res.Detail["purge_ids"].([]string); len(ids) != 2 || res.Detail["calls"] != 2 {
			t.Errorf("Detail = %v", res.Detail)
		}
	})
	for _, tc := range []struct {
		name   string
		status int
		code   string
	}{
		{"SecondCallFailsSuccessFalse200", 0, "1016"},
		{"SecondCallFails400", 400, "HTTP400/1016"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One call at a time, so "the second call" is well defined.
			b := setup(t, opts, "concurrency: 1", three...)
			b.emu.Enqueue(cfemu.Fault{}, cfemu.Fault{Status: tc.status, Code: 1016, Message: "purge refused"})
			items := b.plan(t, all(fifteen()...))
			res, err := b.p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != tc.code || pe.Retryable {
				t.Errorf("error = %+v, want code %s, not retryable", pe, tc.code)
			}
			calls := b.emu.Calls()
			if len(calls) != 2 || calls[1].Success || len(calls[1].Items) != 15 {
				t.Fatalf("calls = %+v", calls)
			}
			if !slices.Equal(res.Remaining, calls[1].Items) || !slices.Equal(res.Remaining, items[30:]) {
				t.Fatalf("Remaining = %q, want exactly the 15 URLs of the failed call", res.Remaining)
			}
			if res.Detail["calls_failed"] != 1 || len(res.Detail["purge_ids"].([]string)) != 1 {
				t.Errorf("Detail = %v", res.Detail)
			}
		})
	}
	t.Run("OverTheLimitIsAFailureAt200", func(t *testing.T) {
		t.Parallel()
		b := setup(t, opts, "max_files_per_call: 45", three...)
		items := b.plan(t, all(fifteen()...))
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != fmt.Sprint(cfemu.CodeTooManyItems) {
			t.Errorf("code = %q", pe.Code)
		}
		if calls := b.emu.Calls(); len(calls) != 1 || calls[0].Status != 200 || len(res.Remaining) != 45 {
			t.Fatalf("calls %+v, remaining %d", calls, len(res.Remaining))
		}
	})
}

// TestC7URLForms: files are absolute, percent-encoded URLs; prefixes carry
// no scheme and end with a slash; hosts outside the zone fail at start-up;
// success:false is a failure.
func TestC7URLForms(t *testing.T) {
	t.Parallel()
	const want = "https://img.example.test/image/" + imageID + "/caf%C3%A9%20640.jpg"

	t.Run("FilesPercentEncoded", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.Store(want)
		items := b.plan(t, all("café 640.jpg"))
		if !slices.Equal(items, []string{want}) {
			t.Fatalf("Plan = %q, want %q", items, want)
		}
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if got := b.emu.Purged(); !slices.Equal(got, []string{want}) || b.emu.Cached(want) {
			t.Fatalf("files = %q, cached %v", got, b.emu.Cached(want))
		}
	})
	t.Run("PrefixesWithTrailingSlash", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "mode: prefixes")
		sibling := "https://img.example.test/image/" + imageID + "0/640x360.jpg"
		b.emu.Store(want)
		b.emu.Store(sibling)
		items := b.plan(t, all("café 640.jpg"))
		if w := "img.example.test/image/" + imageID + "/"; !slices.Equal(items, []string{w}) {
			t.Fatalf("Plan = %q, want %q", items, w)
		}
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if c := b.emu.Calls(); len(c) != 1 || c[0].Kind != cfemu.KindPrefixes {
			t.Fatalf("calls = %+v", c)
		}
		if b.emu.Cached(want) || !b.emu.Cached(sibling) {
			t.Fatalf("rendition cached %v (want false), other image cached %v (want true)",
				b.emu.Cached(want), b.emu.Cached(sibling))
		}
	})
	t.Run("HostOutsideZoneFailsAtStartUp", func(t *testing.T) {
		t.Parallel()
		for _, hosts := range [][]string{{"img.other.test"}, {"img.example.test", "img.other.test"}, {"notexample.test"}} {
			_, err := build(t, "http://127.0.0.1:1/client/v4", "", hosts...)
			if err == nil {
				t.Fatalf("hosts %q accepted", hosts)
			}
			bad := hosts[len(hosts)-1]
			if msg := err.Error(); !strings.Contains(msg, "public_hosts") || !strings.Contains(msg, bad) ||
				!strings.HasPrefix(msg, "zone:") {
				t.Errorf("error %q does not name public_hosts, the host and the zone field", msg)
			}
		}
	})
	t.Run("SuccessFalseIsAFailure", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.SetFaults(cfemu.Fault{Code: 1016, Message: "invalid url"})
		items := b.plan(t, all("café 640.jpg"))
		res, err := b.p.Purge(context.Background(), items)
		pe := providertest.AsError(t, err)
		if pe.Code != "1016" || pe.Retryable || !slices.Equal(res.Remaining, items) {
			t.Fatalf("error %+v, remaining %q", pe, res.Remaining)
		}
		if !strings.Contains(pe.Message, "invalid url") {
			t.Errorf("message %q lacks Cloudflare's", pe.Message)
		}
	})
	t.Run("RefusedByRealValidation", func(t *testing.T) {
		t.Parallel()
		// An emulator whose zone is another: it refuses the URLs as out of
		// zone, as Cloudflare would, and the code comes from its body.
		b := setup(t, cfemu.Options{Zones: map[string]string{cfemu.DefaultZoneID: "other.test"}}, "")
		_, err := b.p.Purge(context.Background(), b.plan(t, all("a.jpg")))
		if pe := providertest.AsError(t, err); pe.Code != "HTTP400/1016" || pe.Retryable {
			t.Fatalf("error = %+v", pe)
		}
	})
}

// TestC8RateLimited: a 429 is one attempt with Cloudflare's code and
// Retry-After, never the library's backoff; the orchestrator retries it.
func TestC8RateLimited(t *testing.T) {
	t.Parallel()
	limited := cfemu.Fault{Status: 429, RetryAfter: "1", Code: cfemu.CodeRateLimited, Message: "rate limited"}

	t.Run("ProviderReportsRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.Enqueue(limited)
		items := b.plan(t, all("640x360.jpg"))
		res, err := b.p.Purge(context.Background(), items)
		pe := providertest.AsError(t, err)
		if pe.Code != "HTTP429/10100" || !pe.Retryable || pe.RetryAfter != time.Second {
			t.Fatalf("error = %+v", pe)
		}
		if !slices.Equal(res.Remaining, items) || len(b.emu.Calls()) != 1 {
			t.Fatalf("remaining %q after %d calls", res.Remaining, len(b.emu.Calls()))
		}
		if _, err := b.p.Purge(context.Background(), res.Remaining); err != nil {
			t.Fatalf("second attempt: %v", err)
		}
	})
	t.Run("OrchestratorRetriesAfterRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.Enqueue(limited)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out := execute(ctx, b, b.plan(t, all("640x360.jpg")))
		l := out.Layers[0]
		if l.Status != purge.StatusSucceeded || l.Attempts != 2 {
			t.Fatalf("outcome %+v", l)
		}
		calls := b.emu.Calls()
		if len(calls) != 2 {
			t.Fatalf("%d calls, want 2", len(calls))
		}
		if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
			t.Fatalf("calls %v apart, want at least Retry-After", gap)
		}
	})
	t.Run("Always429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.SetFaults(limited)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		out := execute(ctx, b, b.plan(t, all("640x360.jpg")))
		l := out.Layers[0]
		if l.Status != purge.StatusFailed || l.Err == nil || l.Err.Code != "HTTP429/10100" ||
			!l.Err.Retryable || l.Err.RetryAfter != time.Second {
			t.Fatalf("outcome %+v, error %+v", l, l.Err)
		}
		if strings.Contains(l.Err.Error(), "exceeded available rate limit retries") {
			t.Errorf("the library's generic error leaked: %v", l.Err)
		}
		// Retry-After is past the deadline: no second call, no waiting.
		if took := time.Since(start); took > 400*time.Millisecond || len(b.emu.Calls()) != 1 {
			t.Fatalf("took %v with %d calls", took, len(b.emu.Calls()))
		}
	})
	t.Run("AccountBucket", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{Limits: &cfemu.Limits{BulkRate: 1, BulkBurst: 1, URLRate: 10, URLBurst: 30}},
			"", "img.example.test", "images.example.test")
		items := b.plan(t, all(fifteen()...))
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("first purge: %v", err)
		}
		_, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "HTTP429/10100" || pe.RetryAfter != 3*time.Second {
			t.Fatalf("second purge: %+v", pe)
		}
		b.emu.Advance(3 * time.Second)
		if _, err := b.p.Purge(context.Background(), items); err != nil {
			t.Fatalf("after the refill: %v", err)
		}
	})
}

// execute runs one cloudflare step through the orchestrator, as the
// service does.
func execute(ctx context.Context, b *bundle, items []string) *purge.Outcome {
	ds := &purge.Datastore{Name: "media", Layers: []purge.Layer{
		{Name: "cloudflare", Kind: "cloudflare", Tier: 2, Provider: b.p},
	}}
	plan := &purge.Plan{ID: "p1", Datastore: "media", ImageID: imageID, Steps: []purge.Step{
		{Layer: "cloudflare", Kind: "cloudflare", Tier: 2, Items: items},
	}}
	orch := &purge.Orchestrator{Retry: purge.RetryPolicy{Base: 10 * time.Millisecond, MaxAttempts: 3}}
	return orch.Execute(ctx, ds, plan)
}

// TestC9EveryPublicHost: one URL per rendition and public host.
func TestC9EveryPublicHost(t *testing.T) {
	t.Parallel()
	renditions := []string{"1280x720.webp", "640x360.jpg"}
	for _, hosts := range [][]string{{"img.example.test", "images.example.test"}, {"img.example.test"}} {
		t.Run(fmt.Sprint(len(hosts)), func(t *testing.T) {
			t.Parallel()
			b := setup(t, cfemu.Options{}, "", hosts...)
			var want []string
			for _, r := range renditions {
				for _, h := range hosts {
					u := fileURL(h, imageID, r)
					b.emu.Store(u)
					want = append(want, u)
				}
			}
			if _, err := b.p.Purge(context.Background(), b.plan(t, all(renditions...))); err != nil {
				t.Fatalf("Purge: %v", err)
			}
			if got := b.emu.Purged(); !slices.Equal(got, want) {
				t.Fatalf("files = %q, want %q", got, want)
			}
			for _, u := range want {
				if b.emu.Cached(u) {
					t.Errorf("%s still cached", u)
				}
			}
		})
	}
}

// TestC11Forbidden: a 403 is Cloudflare's own error, not retryable, and
// its sibling layer is not canceled by it.
func TestC11Forbidden(t *testing.T) {
	t.Parallel()
	forbidden := cfemu.Fault{Status: 403, Code: cfemu.CodeAuthentication, Message: "Authentication error"}

	t.Run("Injected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		b.emu.SetFaults(forbidden)
		_, err := b.p.Purge(context.Background(), b.plan(t, all("640x360.jpg")))
		if pe := providertest.AsError(t, err); pe.Code != "HTTP403/10000" || pe.Retryable {
			t.Fatalf("error = %+v", pe)
		}
	})
	t.Run("WrongToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{Tokens: []string{"another"}, Keys: map[string]string{"a@example.test": "k"}}, "")
		_, err := b.p.Purge(context.Background(), b.plan(t, all("640x360.jpg")))
		if pe := providertest.AsError(t, err); pe.Code != "HTTP403/10000" || pe.Retryable {
			t.Fatalf("error = %+v", pe)
		}
	})
	t.Run("LaterCallsNotMade", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "concurrency: 1", "img.example.test", "images.example.test",
			"pics.example.test")
		b.emu.SetFaults(forbidden)
		items := b.plan(t, all(fifteen()...))
		res, err := b.p.Purge(context.Background(), items)
		providertest.AsError(t, err)
		if len(b.emu.Calls()) != 1 || res.Detail["calls_not_made"] != 1 || len(res.Remaining) != 45 {
			t.Fatalf("%d calls, detail %v, %d remaining", len(b.emu.Calls()), res.Detail, len(res.Remaining))
		}
	})
	t.Run("SiblingRunsToCompletion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		reached := make(chan struct{}, 1)
		f := forbidden
		f.Reached = reached
		b.emu.SetFaults(f)
		sibling := providerFunc(func(ctx context.Context, _ []string) (purge.Result, error) {
			<-reached // Cloudflare is being refused meanwhile
			return purge.Result{Detail: map[string]any{"invalidation_id": "I1"}}, ctx.Err()
		})
		ds := &purge.Datastore{Name: "media", Layers: []purge.Layer{
			{Name: "cloudflare", Kind: "cloudflare", Tier: 2, Provider: b.p},
			{Name: "cloudfront", Kind: "fake", Tier: 2, Provider: sibling},
		}}
		plan := &purge.Plan{ID: "p", Steps: []purge.Step{
			{Layer: "cloudflare", Kind: "cloudflare", Tier: 2, Items: b.plan(t, all("a.jpg"))},
			{Layer: "cloudfront", Kind: "fake", Tier: 2, Items: []string{"/image/a.jpg"}},
		}}
		out := (&purge.Orchestrator{}).Execute(context.Background(), ds, plan)
		if cfl := out.Layers[0]; cfl.Status != purge.StatusFailed || cfl.Err.Code != "HTTP403/10000" {
			t.Errorf("cloudflare: %+v", cfl)
		}
		if sib := out.Layers[1]; sib.Status != purge.StatusSucceeded || sib.Detail["invalidation_id"] != "I1" {
			t.Errorf("sibling: %+v", sib)
		}
	})
}

type providerFunc func(ctx context.Context, items []string) (purge.Result, error)

func (f providerFunc) Plan(purge.Target) ([]string, error) { return nil, nil }

func (f providerFunc) Purge(ctx context.Context, items []string) (purge.Result, error) {
	return f(ctx, items)
}
