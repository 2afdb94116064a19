package cases

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	flareemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	frontemu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
)

// TestC9EveryPublicHost: Cloudflare and the origin cache get each rendition
// under every public host, CloudFront each path once.
func TestC9EveryPublicHost(t *testing.T) {
	t.Parallel()
	names := []string{"1280x720.webp", "640x360.jpg"}
	for _, tc := range []struct {
		name  string
		hosts []string
	}{
		{"TwoHosts", []string{"img.example.test", "images.example.test"}},
		{"OneHost", []string{"img.example.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, options{hosts: tc.hosts})
			f.seed(names...)
			f.purge("/image/" + imageID + "/*").succeeded(t)
			wantEveryLayer(t, f, tc.hosts, names)
			if n := len(f.flare.Purged()); n != 2*len(tc.hosts) {
				t.Errorf("Cloudflare purged %d URLs, want %d", n, 2*len(tc.hosts))
			}
		})
	}
}

// TestC10RenditionsFromTheListing: the renditions purged everywhere are
// the ones the store lists, all of them or those the stem selects, never a
// configured list of sizes.
func TestC10RenditionsFromTheListing(t *testing.T) {
	t.Parallel()
	listed := []string{"320x180@2x.avif", "640x360.jpg", "640x360.webp", "640x3600.jpg"}
	hosts := []string{publicHost}

	t.Run("Every", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(listed...)
		f.purge("/image/" + imageID).succeeded(t)
		if left := f.s3.keysUnder(imageDir); len(left) != 0 {
			t.Errorf("keys left: %q", left)
		}
		wantEveryLayer(t, f, hosts, listed)
	})

	t.Run("Stem", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(listed...)
		d := f.purge("/image/" + imageID + "/640x360").succeeded(t)
		selected := []string{"640x360.jpg", "640x360.webp"}
		if !slices.Equal(d.Renditions, selected) {
			t.Errorf("renditions = %q, want %q", d.Renditions, selected)
		}
		want := []string{imageDir + "320x180@2x.avif", imageDir + "640x3600.jpg"}
		if left := f.s3.keysUnder(imageDir); !slices.Equal(left, want) {
			t.Errorf("keys left: %q, want %q", left, want)
		}
		wantEveryLayer(t, f, hosts, selected)
	})
}

// TestC11SiblingsRunToCompletion: a Cloudflare refusal fails only its
// layer while CloudFront, in the same tier, completes; a client that leaves
// stops the calls in flight, is logged as a cancellation, and leaves the
// unfinished steps to the journal.
func TestC11SiblingsRunToCompletion(t *testing.T) {
	t.Parallel()
	names := []string{"1280x720.jpg", "640x360.jpg"}

	t.Run("CloudflareRefuses", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		f.flare.SetFaults(flareemu.Fault{Status: http.StatusForbidden, Code: flareemu.CodeAuthentication,
			Message: "Authentication error"})
		f.front.Enqueue(frontemu.Fault{Delay: 200 * time.Millisecond})

		d := f.purge("/image/"+imageID).systemFailure(t, "cloudflare", "HTTP403/10000")
		wantStatuses(t, d, map[string]string{"s3": "succeeded", "origin": "succeeded", "cloudflare": "failed"})
		wantInvalidationID(t, d)
		if calls := f.front.Calls(); len(calls) != 1 || calls[0].InvalidationID == "" {
			t.Errorf("CloudFront calls = %+v, want one that completed", calls)
		}
		for _, l := range d.Layers {
			if l.Reason != "" {
				t.Errorf("layer %s is %s for %q", l.Layer, l.Status, l.Reason)
			}
		}
		wantJournaled(t, f, d, "cloudflare")
	})

	t.Run("ClientLeaves", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.seed(names...)
		arrived, hold := make(chan struct{}, 1), make(chan struct{})
		t.Cleanup(func() { close(hold) })
		f.front.Enqueue(frontemu.Fault{Arrived: arrived, Block: hold})

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := f.callContext(ctx, http.MethodDelete, "/image/"+imageID, f.token)
			errc <- err
		}()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the CloudFront call never arrived")
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("client call ended with %v", err)
		}

		// Well before the layer's 5s timeout would have ended it.
		eventually(t, 2*time.Second, "the CloudFront call in flight stopped", func() bool {
			return slices.ContainsFunc(f.front.Calls(), func(c frontemu.Call) bool {
				return c.Code == "ClientGone"
			})
		})
		line := f.waitLog("purge canceled by the client")
		wantCanceledLine(t, line)
		if strings.Contains(f.logs.String(), `"msg":"purge incomplete"`) {
			t.Error("the cancellation was logged as a provider failure")
		}

		rec := f.onlyRecord()
		for _, l := range rec.Layers {
			if l.State == "failed" || l.ErrorCode != "" {
				t.Errorf("journal record: layer %s is %s (%s)", l.Layer, l.State, l.ErrorCode)
			}
		}
		f.waitDone(rec.ID)
		if got := sorted(f.invalidated()); !slices.Equal(got, edgePaths(names...)) {
			t.Errorf("the journal invalidated %q, want %q", got, edgePaths(names...))
		}
	})
}

// logLine is the summary line of one purge.
type logLine struct {
	Level      string                    `json:"level"`
	Msg        string                    `json:"msg"`
	TrackingID string                    `json:"tracking_id"`
	Layers     map[string]map[string]any `json:"layers"`
}

// waitLog waits for the service to log msg and returns the line.
func (f *fixture) waitLog(msg string) logLine {
	f.t.Helper()
	var found logLine
	eventually(f.t, 5*time.Second, "log line "+msg, func() bool {
		for _, raw := range strings.Split(f.logs.String(), "\n") {
			var l logLine
			if json.Unmarshal([]byte(raw), &l) == nil && l.Msg == msg {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

func wantCanceledLine(t *testing.T, l logLine) {
	t.Helper()
	if l.TrackingID != tracking || l.Level != "INFO" {
		t.Errorf("cancellation logged at %s with tracking id %q", l.Level, l.TrackingID)
	}
	for name, attrs := range l.Layers {
		if attrs["status"] == "failed" || attrs["code"] != nil {
			t.Errorf("layer %s logged as %v", name, attrs)
		}
	}
	if cf := l.Layers["cloudfront"]; cf["status"] != "pending" || cf["reason"] != "canceled" {
		t.Errorf("cloudfront logged as %v, want pending, canceled", cf)
	}
	for _, name := range []string{"s3", "origin"} {
		if l.Layers[name]["status"] != "succeeded" {
			t.Errorf("layer %s logged as %v", name, l.Layers[name])
		}
	}
}

// onlyRecord returns the one purge the journal holds for the case's image.
func (f *fixture) onlyRecord() purgeRecord {
	f.t.Helper()
	r := f.call(http.MethodGet, "/purges?image="+imageID, f.token)
	var d struct {
		Purges []purgeRecord `json:"purges"`
	}
	if err := json.Unmarshal(r.env.Data, &d); err != nil || len(d.Purges) != 1 {
		f.t.Fatalf("GET /purges: %v, %s", err, r.body)
	}
	if rec := d.Purges[0]; rec.TrackingID != tracking {
		f.t.Errorf("journaled purge has tracking id %q", rec.TrackingID)
	}
	return d.Purges[0]
}
