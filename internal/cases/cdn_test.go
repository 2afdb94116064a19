package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	flareemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	frontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
)

var purgeIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wantCloudflareID checks that the cloudflare layer succeeded and shows
// Cloudflare's purge id.
func wantCloudflareID(t *testing.T, d purgeData) {
	t.Helper()
	l := d.layer(t, "cloudflare")
	ids, _ := l.Detail["purge_ids"].([]any)
	if l.Status != "succeeded" || len(ids) != 1 || !purgeIDRE.MatchString(fmt.Sprint(ids[0])) {
		t.Errorf("cloudflare layer = %s, purge ids %v; want succeeded with Cloudflare's id",
			l.Status, l.Detail["purge_ids"])
	}
}

// wantInvalidationID checks that the cloudfront layer succeeded and shows
// the invalidation's id.
func wantInvalidationID(t *testing.T, d purgeData) {
	t.Helper()
	l := d.layer(t, "cloudfront")
	ids, _ := l.Detail["invalidation_ids"].([]any)
	if l.Status != "succeeded" || len(ids) != 1 || fmt.Sprint(ids[0]) == "" {
		t.Errorf("cloudfront layer = %s, invalidation ids %v; want succeeded with one id",
			l.Status, l.Detail["invalidation_ids"])
	}
}

func wantStatuses(t *testing.T, d purgeData, want map[string]string) {
	t.Helper()
	got := d.statuses()
	for layer, status := range want {
		if got[layer] != status {
			t.Errorf("layer %s is %q, want %q (all: %v)", layer, got[layer], status, got)
		}
	}
}

// TestC4CloudFrontPathEncoding: CloudFront receives paths percent-encoded
// by its own rules, the "~" rendition is covered by the image's wildcard
// rather than sent as %7E, and a refused batch fails the cloudfront layer
// alone.
func TestC4CloudFrontPathEncoding(t *testing.T) {
	t.Parallel()
	names := []string{"640x360 q=80.jpg", "café.jpg", "v~2.jpg"}
	// What viewers request, and so what the edge caches.
	viewed := []string{imagePath + "640x360%20q=80.jpg", imagePath + "caf%C3%A9.jpg", imagePath + "v~2.jpg"}

	t.Run("EncodedPathsAndWildcard", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		f.front.Seed(frontemu.TestDistribution, viewed...)
		f.purge("/image/" + imageID).succeeded(t)

		want := sorted([]string{imagePath + "640x360%20q=80.jpg", imagePath + "caf%C3%A9.jpg", imagePath + "*"})
		if got := sorted(f.invalidated()); !slices.Equal(got, want) {
			t.Errorf("CreateInvalidation paths = %q, want %q", got, want)
		}
		for _, c := range f.front.Calls() {
			for _, p := range c.Paths {
				if strings.Contains(p, "%7E") || strings.Contains(p, "%7e") || strings.Contains(p, "~") {
					t.Errorf("path %q sent; a tilde must be covered by the wildcard", p)
				}
			}
		}
		for _, p := range viewed {
			if f.front.Held(frontemu.TestDistribution, p) {
				t.Errorf("the edge still serves %s", p)
			}
		}
	})

	t.Run("EveryBatchRefused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		f.front.SetFault(&frontemu.Fault{Code: "InvalidArgument",
			Message: "Your request contains one or more invalid invalidation paths."})
		d := f.purge("/image/"+imageID).systemFailure(t, "cloudfront", "InvalidArgument")

		wantStatuses(t, d, map[string]string{"s3": "succeeded", "origin": "succeeded",
			"cloudflare": "succeeded", "cloudfront": "failed"})
		wantCloudflareID(t, d)
		if e := d.layer(t, "cloudfront").Error; e == nil || e.Code != "InvalidArgument" || e.Retryable {
			t.Errorf("cloudfront error = %+v, want InvalidArgument, not retryable", e)
		}
		wantJournaled(t, f, d, "cloudfront")
	})
}

// TestC5TooManyInvalidations: CloudFront's in-progress cap fails only the
// cloudfront layer, as retryable and journaled; once CloudFront accepts, the
// journal invalidates the same three exact paths though the keys are gone.
func TestC5TooManyInvalidations(t *testing.T) {
	t.Parallel()
	names := []string{"1280x720.jpg", "320x180.jpg", "640x360.jpg"}
	f := newFixture(t, options{})
	f.seed(names...)
	busy := frontemu.TooManyInProgress()
	f.front.SetFault(&busy)

	d := f.purge("/image/"+imageID).systemFailure(t, "cloudfront", "TooManyInvalidationsInProgress")
	wantStatuses(t, d, map[string]string{"s3": "succeeded", "origin": "succeeded",
		"cloudflare": "succeeded", "cloudfront": "failed"})
	cf := d.layer(t, "cloudfront")
	if cf.Error == nil || !cf.Error.Retryable || !cf.Journaled {
		t.Errorf("cloudfront layer = %+v, want a retryable error, journaled", cf)
	}
	if got := d.journaledLayers(); !slices.Equal(got, []string{"cloudfront"}) || !d.Journaled {
		t.Errorf("journaled layers = %q", got)
	}
	if left := f.s3.keysUnder(imageDir); len(left) != 0 {
		t.Fatalf("keys left: %q", left)
	}
	s3Calls := len(f.s3.callsOf(""))

	f.front.SetFault(nil)
	f.waitDone(d.JournalID)
	if got := f.invalidated(); !slices.Equal(sorted(got), edgePaths(names...)) {
		t.Errorf("the journal invalidated %q, want the three exact paths %q", got, edgePaths(names...))
	}
	if n := len(f.s3.callsOf("")); n != s3Calls {
		t.Errorf("the journal called S3 %d more times; only CloudFront was left", n-s3Calls)
	}
}

// fifteen returns 15 rendition names.
func fifteen() []string {
	var names []string
	for _, w := range []int{160, 320, 640, 1280, 1920} {
		for _, ext := range []string{"jpg", "webp", "avif"} {
			names = append(names, fmt.Sprintf("%dx%d.%s", w, w*9/16, ext))
		}
	}
	return names
}

// TestC6CloudflareFilesPerCall: 30 URLs go in one call, 45 in calls of 30
// and 15, and a failed second call leaves exactly its 15 URLs, which alone
// are journaled.
func TestC6CloudflareFilesPerCall(t *testing.T) {
	t.Parallel()
	two := []string{"img.example.test", "images.example.test"}
	three := []string{"img.example.test", "images.example.test", "pics.example.test"}
	// The case's fake refuses more than 30 files with success:false.
	refusing := flareemu.Options{RefusedStatus: http.StatusOK}

	t.Run("TwoHosts", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{hosts: two, flare: refusing})
		f.seed(fifteen()...)
		f.purge("/image/" + imageID).succeeded(t)
		calls := f.flare.Calls()
		if len(calls) != 1 || len(calls[0].Items) != 30 || !calls[0].Success {
			t.Fatalf("Cloudflare calls = %d, want one call of 30 files", len(calls))
		}
		if got := sorted(calls[0].Items); !slices.Equal(got, fileURLs(two, fifteen()...)) {
			t.Errorf("files = %q", got)
		}
	})

	t.Run("ThreeHosts", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{hosts: three, flare: refusing})
		f.seed(fifteen()...)
		f.purge("/image/" + imageID).succeeded(t)
		var sizes []int
		var sent []string
		for _, c := range f.flare.Calls() {
			sizes = append(sizes, len(c.Items))
			sent = append(sent, c.Items...)
		}
		if slices.Sort(sizes); !slices.Equal(sizes, []int{15, 30}) {
			t.Errorf("call sizes = %v, want 30 and 15", sizes)
		}
		if got := sorted(sent); !slices.Equal(got, fileURLs(three, fifteen()...)) {
			t.Errorf("the calls' union is %d URLs, want the 45 once each", len(got))
		}
	})

	t.Run("SecondCallFails", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{hosts: three, flare: refusing})
		f.seed(fifteen()...)
		// The dry run shows the order the files are sent in.
		second := f.plannedItems("cloudflare")[30:]
		f.flare.Enqueue(flareemu.Fault{Items: second, Code: flareemu.CodeInvalidItem,
			Message: "purge refused"})

		d := f.purge("/image/"+imageID).systemFailure(t, "cloudflare", "1016")
		cl := d.layer(t, "cloudflare")
		if !slices.Equal(sorted(cl.Remaining), sorted(second)) || cl.RemainingCount != 15 {
			t.Errorf("cloudflare remaining = %d %q, want the 15 URLs of the failed call",
				cl.RemainingCount, cl.Remaining)
		}
		if got := d.journaledLayers(); !slices.Equal(got, []string{"cloudflare"}) {
			t.Errorf("journaled layers = %q", got)
		}
		calls := f.flare.Calls()
		if len(calls) != 2 {
			t.Fatalf("%d Cloudflare calls during the request, want 2", len(calls))
		}

		f.waitDone(d.JournalID)
		var retried []string
		for _, c := range f.flare.Calls()[2:] {
			retried = append(retried, c.Items...)
		}
		if !slices.Equal(sorted(retried), sorted(second)) {
			t.Errorf("the journal sent %q, want only the 15 URLs left", retried)
		}
	})
}

// plannedItems asks the service's dry run what a layer would receive for a
// purge of every rendition of the image.
func (f *fixture) plannedItems(layer string) []string {
	f.t.Helper()
	r := f.call(http.MethodGet, "/plan/image/"+imageID, f.token)
	var d struct {
		Layers []struct {
			Layer string   `json:"layer"`
			Items []string `json:"items"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(r.env.Data, &d); r.status != http.StatusOK || err != nil {
		f.t.Fatalf("dry run: %d %v %s", r.status, err, r.body)
	}
	for _, l := range d.Layers {
		if l.Layer == layer {
			return l.Items
		}
	}
	f.t.Fatalf("dry run has no layer %s", layer)
	return nil
}

// TestC7CloudflareURLForms: files are absolute and percent-encoded,
// prefixes carry no scheme and end with "/", a host outside the zone stops
// the start, and a 200 with success:false is a failure.
func TestC7CloudflareURLForms(t *testing.T) {
	t.Parallel()
	const name = "café 640.jpg"
	strict := flareemu.Options{RefusedStatus: http.StatusOK}

	t.Run("Files", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{flare: strict})
		f.seed(name)
		want := "https://img.example.test" + imagePath + "caf%C3%A9%20640.jpg"
		f.flare.Store(want)
		f.purge("/image/" + imageID).succeeded(t)
		if got := f.flare.Purged(); !slices.Equal(got, []string{want}) {
			t.Errorf("files = %q, want %q", got, want)
		}
		if f.flare.Cached(want) {
			t.Error("the edge still holds the rendition")
		}
	})

	t.Run("Prefixes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{flare: strict, flareSettings: []string{"mode: prefixes"}})
		f.seed(name)
		f.purge("/image/" + imageID).succeeded(t)
		calls := f.flare.Calls()
		want := []string{"img.example.test" + imagePath}
		if len(calls) != 1 || calls[0].Kind != "prefixes" || !slices.Equal(calls[0].Items, want) {
			t.Fatalf("calls = %+v, want one purge of prefixes %q", calls, want)
		}
	})

	t.Run("HostOutsideZone", func(t *testing.T) {
		t.Parallel()
		o := options{hosts: []string{"img.other.test"}}
		f := prepare(t, o)
		a, err := app.New(context.Background(), f.config(t, o), app.NewLogger(f.logs, "debug"))
		if err == nil {
			a.Close()
			t.Fatal("the service started with a public host outside the Cloudflare zone")
		}
		msg := err.Error()
		if !strings.Contains(msg, "datastores[0].layers[3].settings.zone") ||
			!strings.Contains(msg, "img.other.test") {
			t.Errorf("start-up error %q does not name the field and the host", msg)
		}
	})

	t.Run("SuccessFalse", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{flare: strict})
		f.seed(name)
		f.flare.SetFaults(flareemu.Fault{Code: flareemu.CodeInvalidItem, Message: "Invalid url"})
		d := f.purge("/image/"+imageID).systemFailure(t, "cloudflare", "1016")
		if calls := f.flare.Calls(); len(calls) == 0 || calls[0].Status != http.StatusOK || calls[0].Success {
			t.Errorf("the fake did not answer 200 with success:false: %+v", calls)
		}
		if e := d.layer(t, "cloudflare").Error; e == nil || e.Code != "1016" {
			t.Errorf("cloudflare error = %+v, want Cloudflare's code 1016", e)
		}
		wantJournaled(t, f, d, "cloudflare")
	})
}

// rateLimited is Cloudflare's 429 with Retry-After: 1.
var rateLimited = flareemu.Fault{Status: http.StatusTooManyRequests, Code: flareemu.CodeRateLimited,
	Message: "Rate limit exceeded for cache purge", RetryAfter: "1"}

// TestC8CloudflareRateLimited: a 429 is retried after its Retry-After within
// the request; a 429 that persists fails the cloudflare layer with
// Cloudflare's own answer, within the deadline, while CloudFront beside it
// completes, and the journal waits out the Retry-After.
func TestC8CloudflareRateLimited(t *testing.T) {
	t.Parallel()
	names := []string{"1280x720.jpg", "640x360.jpg"}

	t.Run("OneRetry", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		f.flare.Enqueue(rateLimited)
		f.front.Enqueue(frontemu.Fault{Delay: 200 * time.Millisecond})
		r := f.purge("/image/" + imageID)
		d := r.succeeded(t)

		calls := f.flare.Calls()
		if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests || !calls[1].Success {
			t.Fatalf("Cloudflare calls = %+v, want a 429 then a success", calls)
		}
		if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
			t.Errorf("retried after %s, before the Retry-After of 1s", gap)
		}
		if l := d.layer(t, "cloudflare"); l.Attempts != 2 || l.DurationMS < 1000 {
			t.Errorf("cloudflare: %d attempts in %dms, want 2 attempts a second apart",
				l.Attempts, l.DurationMS)
		}
		if l := d.layer(t, "cloudfront"); l.DurationMS < 200 {
			t.Errorf("cloudfront took %dms, under the fake's 200ms", l.DurationMS)
		}
		if r.elapsed >= 10*time.Second {
			t.Errorf("the request took %s, past its deadline", r.elapsed)
		}
	})

	t.Run("AlwaysLimited", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		f.flare.SetFaults(rateLimited)
		f.front.Enqueue(frontemu.Fault{Delay: 200 * time.Millisecond})
		r := f.purge("/image/" + imageID)
		d := r.systemFailure(t, "cloudflare", "HTTP429/10100")

		if strings.Contains(string(r.body), "exceeded available rate limit retries") {
			t.Errorf("the library's generic message reached the caller: %s", r.body)
		}
		cl := d.layer(t, "cloudflare")
		if cl.Error == nil || !cl.Error.Retryable || cl.Error.RetryAfterMS != 1000 || !cl.Journaled {
			t.Errorf("cloudflare layer = %+v, want retryable, retry after 1000ms, journaled", cl)
		}
		if r.elapsed >= 10*time.Second {
			t.Errorf("the request took %s, past its 10s deadline", r.elapsed)
		}
		if wait := time.Duration(cl.Attempts-1) * time.Second; cl.DurationMS < wait.Milliseconds() {
			t.Errorf("cloudflare: %d attempts in %dms, want each after the Retry-After",
				cl.Attempts, cl.DurationMS)
		}
		wantStatuses(t, d, map[string]string{"s3": "succeeded", "origin": "succeeded"})
		wantInvalidationID(t, d)
		if got := d.journaledLayers(); !slices.Equal(got, []string{"cloudflare"}) {
			t.Errorf("journaled layers = %q", got)
		}
		calls := f.flare.Calls()
		origin := f.node.requests()
		if len(origin) == 0 || !origin[len(origin)-1].At.Before(calls[0].At) {
			t.Error("the CDN tier started before the origin cache was purged")
		}

		// The request made cl.Attempts calls; the journal's first must wait
		// out the Retry-After of the last.
		n := cl.Attempts
		eventually(t, 15*time.Second, "the journal retried Cloudflare", func() bool {
			return len(f.flare.Calls()) > n
		})
		calls = f.flare.Calls()
		if gap := calls[n].At.Sub(calls[n-1].At); gap < time.Second {
			t.Errorf("the journal retried %s after a 429 with Retry-After: 1", gap)
		}
	})
}
