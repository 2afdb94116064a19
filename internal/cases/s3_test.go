package cases

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// pinnedS3Version is the aws-sdk-go-v2 service/s3 release C1's fix was
// last checked against. Upgrading the SDK fails TestC1S3ChecksumChange on
// purpose: the checksum behaviour of DeleteObjects changed in v1.73.0
// (aws-sdk-go-v2 issue 3258) and may change again, so confirm that the
// three runs still pass against the new release, then move the pin.
const pinnedS3Version = "1.115.0"

// TestC1S3ChecksumChange: DeleteObjects carries a correct Content-MD5 for
// stores that require it, still passes a store that checks only CRC32 as
// AWS does, and a store that refuses every batch fails the s3 layer with its
// own code while the outer tiers wait in the journal.
func TestC1S3ChecksumChange(t *testing.T) {
	t.Parallel()
	renditions := []string{"1280x720.jpg", "640x360.jpg"}

	t.Run("StoreRequiresContentMD5", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{s3: s3Rules{requireMD5: true}})
		f.seed(renditions...)
		f.purge("/image/" + imageID).succeeded(t)

		dels := f.s3.callsOf("DeleteObjects")
		if len(dels) == 0 {
			t.Fatal("no DeleteObjects call")
		}
		for _, c := range dels {
			sum := md5.Sum(c.body)
			if got, want := c.header.Get("Content-MD5"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
				t.Errorf("Content-MD5 = %q, want %q (base64 MD5 of the XML body)", got, want)
			}
		}
		if left := f.s3.keysUnder(imageDir); len(left) != 0 {
			t.Errorf("keys left: %q", left)
		}
		wantEveryLayer(t, f, []string{publicHost}, renditions)
	})

	t.Run("StoreChecksOnlyCRC32", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{s3: s3Rules{requireCRC32: true}})
		f.seed(renditions...)
		f.purge("/image/" + imageID).succeeded(t)
		if left := f.s3.keysUnder(imageDir); len(left) != 0 {
			t.Errorf("keys left: %q", left)
		}
		wantEveryLayer(t, f, []string{publicHost}, renditions)

		// The SDK names its own version in every request's User-Agent.
		ua := f.s3.callsOf("DeleteObjects")[0].header.Get("User-Agent")
		if !slices.Contains(strings.Fields(ua), "api/s3#"+pinnedS3Version) {
			t.Errorf("User-Agent %q: service/s3 is not v%s, the release C1 was checked against; "+
				"rerun this case and update pinnedS3Version", ua, pinnedS3Version)
		}
	})

	t.Run("StoreRefusesEveryBatch", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{s3: s3Rules{refuseDeletes: "MissingContentMD5"}})
		f.seed(renditions...)
		r := f.purge("/image/" + imageID)
		d := r.systemFailure(t, "s3", "MissingContentMD5")

		s3 := d.layer(t, "s3")
		if s3.Status != "failed" || s3.Error == nil || s3.Error.Code != "MissingContentMD5" {
			t.Errorf("s3 layer = %+v, want failed with MissingContentMD5", s3)
		}
		if n := len(f.node.requests()) + len(f.front.Calls()) + len(f.flare.Calls()); n != 0 {
			t.Errorf("%d calls reached the origin and CDN fakes", n)
		}
		wantJournaled(t, f, d, "s3", "origin", "cloudfront", "cloudflare")
		for _, name := range []string{"origin", "cloudfront", "cloudflare"} {
			if l := d.layer(t, name); l.Status != "pending" || l.Reason != "inner_tier_failed" {
				t.Errorf("layer %s = %s (%s), want pending behind the failed tier", name, l.Status, l.Reason)
			}
		}
	})
}

// TestC2ListingPagination: a prefix of 2,345 keys is listed in three pages
// and deleted in batches of at most 1,000; the image whose id extends this
// one is untouched; an id that is not a UUID is refused by datastore media.
func TestC2ListingPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t, options{})
	const prefix = "derived/img-42/"
	var keys []string
	for i := range 2345 {
		keys = append(keys, fmt.Sprintf("%sw%04d.jpg", prefix, i))
	}
	f.s3.put(keys...)
	decoy := "derived/img-420/640x360.jpg"
	f.s3.put(decoy)

	d := f.purge("/image/img-42?datastore=legacy").succeeded(t)

	lists := f.s3.callsOf("ListObjectsV2")
	if len(lists) != 3 {
		t.Fatalf("%d list calls, want 3", len(lists))
	}
	wantTokens := []string{"", "after-1000", "after-2000"}
	for i, c := range lists {
		if c.prefix != prefix || c.token != wantTokens[i] {
			t.Errorf("list call %d: prefix %q token %q, want %q and %q",
				i+1, c.prefix, c.token, prefix, wantTokens[i])
		}
	}
	dels := f.s3.callsOf("DeleteObjects")
	deleted := 0
	for _, c := range dels {
		if len(c.keys) > 1000 {
			t.Errorf("a DeleteObjects call named %d keys", len(c.keys))
		}
		deleted += len(c.keys)
	}
	if len(dels) < 3 || deleted != 2345 {
		t.Errorf("%d DeleteObjects calls naming %d keys, want at least 3 naming 2345", len(dels), deleted)
	}
	if left := f.s3.keysUnder(prefix); len(left) != 0 {
		t.Errorf("%d keys left under %s", len(left), prefix)
	}
	if !f.s3.holds(decoy) {
		t.Errorf("%s was deleted", decoy)
	}
	if s3 := d.layer(t, "s3"); s3.Detail["deleted"] != float64(2345) || s3.Items != 2345 {
		t.Errorf("s3 layer = items %d, detail %v; want 2345 deleted", s3.Items, s3.Detail)
	}

	before := f.providerCalls()
	e := f.purge("/image/img-42").failed(t, http.StatusBadRequest, "40420201")
	if !strings.Contains(e[0].Description, "image id") {
		t.Errorf("description %q does not say what is wrong with the id", e[0].Description)
	}
	if after := f.providerCalls(); after != before {
		t.Errorf("a refused request made %d provider calls", after-before)
	}
}

// TestC3KeysXMLCannotCarry: a key with byte 0x10 is listed URL-encoded,
// decoded to its exact bytes and deleted with DeleteObject; a store that
// refuses it fails the s3 layer with its code and shows the key left.
func TestC3KeysXMLCannotCarry(t *testing.T) {
	t.Parallel()
	plain, control := imageDir+"640x360.jpg", imageDir+"640x360\x10.jpg"

	t.Run("Deleted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{})
		f.s3.put(plain, control)
		f.purge("/image/" + imageID).succeeded(t)

		lists := f.s3.callsOf("ListObjectsV2")
		if len(lists) == 0 || lists[0].encoding != "url" {
			t.Fatalf("listing not requested with encoding-type=url: %+v", lists)
		}
		if left := f.s3.keysUnder(imageDir); len(left) != 0 {
			t.Errorf("a follow-up listing holds %q", left)
		}
		var singles []string
		for _, c := range f.s3.callsOf("DeleteObject") {
			singles = append(singles, c.keys...)
		}
		if !slices.Equal(singles, []string{control}) {
			t.Errorf("DeleteObject keys = %q, want only the 0x10 key, exact", singles)
		}
		for _, c := range f.s3.callsOf("DeleteObjects") {
			if !slices.Equal(c.keys, []string{plain}) || strings.ContainsRune(string(c.body), utf8.RuneError) {
				t.Errorf("DeleteObjects carried %q", c.keys)
			}
		}
	})

	t.Run("StoreRefusesTheKey", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, options{s3: s3Rules{keyErrors: map[string]string{control: "InvalidArgument"}}})
		f.s3.put(plain, control)
		r := f.purge("/image/" + imageID)
		d := r.systemFailure(t, "s3", "InvalidArgument")

		s3 := d.layer(t, "s3")
		if !slices.Equal(s3.Remaining, []string{control}) || s3.RemainingCount != 1 {
			t.Errorf("s3 remaining = %q, want the 0x10 key alone", s3.Remaining)
		}
		// JSON carries the control byte escaped, never raw or replaced.
		if !strings.Contains(string(r.body), `640x360\u0010.jpg`) {
			t.Errorf("the key left is not shown escaped: %s", r.body)
		}
		if !f.s3.holds(control) || f.s3.holds(plain) {
			t.Errorf("store holds the 0x10 key: %v, the plain key: %v", f.s3.holds(control), f.s3.holds(plain))
		}
		if n := len(f.node.requests()) + len(f.front.Calls()) + len(f.flare.Calls()); n != 0 {
			t.Errorf("%d calls reached the origin and CDN fakes", n)
		}
		wantJournaled(t, f, d, "s3", "origin", "cloudfront", "cloudflare")
	})
}
