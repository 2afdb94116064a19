package cases

import (
	"slices"
	"testing"
)

// Expected items, for renditions whose names need no percent-encoding.

// edgePaths are the CloudFront paths of renditions.
func edgePaths(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, imagePath+n)
	}
	return sorted(out)
}

// fileURLs are the Cloudflare files of renditions under every host.
func fileURLs(hosts []string, names ...string) []string {
	var out []string
	for _, h := range hosts {
		for _, n := range names {
			out = append(out, "https://"+h+imagePath+n)
		}
	}
	return sorted(out)
}

// originPurges are the requests the origin cache node should receive.
func originPurges(hosts []string, names ...string) []string {
	var out []string
	for _, h := range hosts {
		for _, n := range names {
			out = append(out, "PURGE "+h+" "+imagePath+n)
		}
	}
	return sorted(out)
}

// wantEveryLayer checks that the origin cache and both CDNs received exactly
// the renditions, each once, and each CDN in one call: these cases stay
// within both per-call limits.
func wantEveryLayer(t *testing.T, f *fixture, hosts, names []string) {
	t.Helper()
	if front, flare := len(f.front.Calls()), len(f.flare.Calls()); front != 1 || flare != 1 {
		t.Errorf("%d CloudFront and %d Cloudflare calls, want one each", front, flare)
	}
	if got, want := f.node.received(), originPurges(hosts, names...); !slices.Equal(got, want) {
		t.Errorf("origin cache received %q, want %q", got, want)
	}
	if got, want := sorted(f.invalidated()), edgePaths(names...); !slices.Equal(got, want) {
		t.Errorf("CloudFront invalidated %q, want %q", got, want)
	}
	if got, want := sorted(f.flare.Purged()), fileURLs(hosts, names...); !slices.Equal(got, want) {
		t.Errorf("Cloudflare purged %q, want %q", got, want)
	}
}

// wantJournaled checks that the response says the purge was journaled,
// exactly for the named layers, and that GET /purges/{id} shows those
// layers unfinished. Use it where the fakes keep failing, so the journal
// cannot have finished them.
func wantJournaled(t *testing.T, f *fixture, d purgeData, layers ...string) {
	t.Helper()
	if !d.Journaled || d.JournalID == "" || d.JournalID != d.PurgeID {
		t.Errorf("journaled %v, journal_id %q, purge_id %q: want journaled as this purge",
			d.Journaled, d.JournalID, d.PurgeID)
	}
	if got := d.journaledLayers(); !slices.Equal(got, layers) {
		t.Errorf("layers journaled = %q, want %q", got, layers)
	}
	rec := f.record(d.JournalID)
	if rec.State == "succeeded" || rec.TrackingID != tracking {
		t.Errorf("journal record state %q, tracking id %q", rec.State, rec.TrackingID)
	}
	for _, l := range rec.Layers {
		left := slices.Contains(layers, l.Layer)
		if done := l.State == "succeeded"; done == left || left && len(l.Remaining) == 0 {
			t.Errorf("journal record: layer %s is %s with %d items left", l.Layer, l.State, len(l.Remaining))
		}
	}
}
