package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// listAndPurge runs what the orchestrator runs for DELETE /image/{id}: list,
// plan every rendition, purge.
func listAndPurge(t *testing.T, p *Provider, id string) (purge.Result, error) {
	t.Helper()
	names, err := p.List(context.Background(), id)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return p.Purge(context.Background(), mustPlan(t, p, id, names...))
}

func wantCode(t *testing.T, err error, code string, retryable bool) *purge.Error {
	t.Helper()
	var pe *purge.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want *purge.Error %s", err, code)
	}
	if pe.Code != code || pe.Retryable != retryable {
		t.Fatalf("error = %s (retryable %v), want %s (retryable %v)", pe, pe.Retryable, code, retryable)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatalf("a store failure reads as context.Canceled: %v", err)
	}
	return pe
}

// C1: stores that want Content-MD5 on DeleteObjects, AWS that checks CRC32,
// and a store that refuses every batch.
func TestC1ContentMD5(t *testing.T) {
	t.Parallel()
	keys := []string{"derived/" + imageC1 + "/640x360.jpg", "derived/" + imageC1 + "/1280x720.jpg"}
	setup := func(t *testing.T, f *fakeS3, extra ...string) (*fakeS3, *Provider) {
		f, url := newFakeS3(t, f)
		f.seed(keys...)
		return f, newProvider(t, settingsFor(url, "test", "test", extra...))
	}

	t.Run("MD5Required", func(t *testing.T) {
		t.Parallel()
		f, p := setup(t, &fakeS3{requireMD5: true})
		if _, err := listAndPurge(t, p, imageC1); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		for _, k := range keys {
			if f.held(k) {
				t.Errorf("%s still held", k)
			}
		}
		c := f.callsOf("DeleteObjects")[0]
		sum := md5.Sum(c.body)
		if got := c.header.Get("Content-MD5"); got != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("Content-MD5 = %q, not the MD5 of the body", got)
		}
	})
	t.Run("CRC32OnlyLikeAWS", func(t *testing.T) {
		t.Parallel()
		for _, mode := range []string{ChecksumWhenSupported, ChecksumWhenRequired} {
			f, p := setup(t, &fakeS3{requireCRC32: true}, "request_checksum: "+mode)
			if _, err := listAndPurge(t, p, imageC1); err != nil {
				t.Fatalf("%s: Purge: %v", mode, err)
			}
			if f.held(keys[0]) || f.held(keys[1]) {
				t.Errorf("%s: keys still held", mode)
			}
		}
	})
	t.Run("WithoutTheFixTheStoreRefuses", func(t *testing.T) {
		t.Parallel()
		_, p := setup(t, &fakeS3{requireMD5: true}, "content_md5: false")
		res, err := listAndPurge(t, p, imageC1)
		wantCode(t, err, "MissingContentMD5", false)
		if len(res.Remaining) != 2 {
			t.Errorf("Remaining = %q, want both keys", res.Remaining)
		}
	})
	t.Run("StoreRejectsEveryBatch", func(t *testing.T) {
		t.Parallel()
		f, p := setup(t, &fakeS3{fail: func(op string) *fakeError {
			if op == "DeleteObjects" {
				return &fakeError{status: 400, code: "MissingContentMD5"}
			}
			return nil
		}})
		res, err := listAndPurge(t, p, imageC1)
		wantCode(t, err, "MissingContentMD5", false)
		slices.Sort(keys)
		if !slices.Equal(res.Remaining, keys) {
			t.Errorf("Remaining = %q, want %q", res.Remaining, keys)
		}
		if !f.held(keys[0]) || !f.held(keys[1]) {
			t.Error("a key is gone though the store refused the batch")
		}
		if n := len(f.callsOf("DeleteObjects")); n != 1 {
			t.Errorf("%d DeleteObjects calls, want 1: the SDK must not retry", n)
		}
	})
}

// C2: 2,345 keys in pages of 1,000, 1,000 and 345, and a decoy image whose
// id starts with the purged one.
func TestC2Pagination(t *testing.T) {
	t.Parallel()
	f, url := newFakeS3(t, &fakeS3{})
	var want []string
	for i := range 2345 {
		name := fmt.Sprintf("r%04d.jpg", i)
		want = append(want, name)
		f.seed("derived/img-42/" + name)
	}
	decoy := "derived/img-420/640x360.jpg"
	f.seed(decoy)
	p := newProvider(t, settingsFor(url, "test", "test"))

	names, err := p.List(context.Background(), "img-42")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("List returned %d names, want %d", len(names), len(want))
	}
	lists := f.callsOf("ListObjectsV2")
	wantTokens := []string{"", "page-at-1000", "page-at-2000"}
	if len(lists) != 3 {
		t.Fatalf("%d list calls, want 3", len(lists))
	}
	for i, c := range lists {
		if c.prefix != "derived/img-42/" || c.token != wantTokens[i] {
			t.Errorf("list call %d: prefix %q token %q, want %q %q",
				i+1, c.prefix, c.token, "derived/img-42/", wantTokens[i])
		}
	}

	res, err := p.Purge(context.Background(), mustPlan(t, p, "img-42", names...))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if res.Detail["deleted"] != 2345 || res.Detail["failed"] != 0 {
		t.Errorf("Detail = %v, want 2345 deleted", res.Detail)
	}
	batches := f.callsOf("DeleteObjects")
	if len(batches) < 3 {
		t.Errorf("%d DeleteObjects calls, want at least 3", len(batches))
	}
	for _, b := range batches {
		if len(b.keys) > 1000 {
			t.Errorf("a batch of %d keys", len(b.keys))
		}
	}
	if again, _ := p.List(context.Background(), "img-42"); len(again) != 0 {
		t.Errorf("%d keys left after the purge", len(again))
	}
	if !f.held(decoy) {
		t.Error("the decoy image img-420 was touched")
	}
}

// A truncated page without a token must fail the listing, not end it.
func TestListingStopsOnlyAtTheEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, next, prev string }{
		{"NoToken", "", ""},
		{"RepeatedToken", "t1", "t1"},
	} {
		out := &awss3.ListObjectsV2Output{IsTruncated: aws.Bool(true), NextContinuationToken: &tc.next}
		var prev *string
		if tc.prev != "" {
			prev = &tc.prev
		}
		if _, err := nextToken(out, prev); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// C3: a key with byte 0x10, listed with EncodingType=url and deleted with
// DeleteObject, never through the XML body.
func TestC3ControlCharacterKey(t *testing.T) {
	t.Parallel()
	plain := "derived/" + imageC1 + "/640x360.jpg"
	ctrl := "derived/" + imageC1 + "/640x360\x10.jpg"

	t.Run("Deleted", func(t *testing.T) {
		t.Parallel()
		f, url := newFakeS3(t, &fakeS3{encodeURL: true})
		f.seed(plain, ctrl)
		p := newProvider(t, settingsFor(url, "test", "test"))
		names, err := p.List(context.Background(), imageC1)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		slices.Sort(names)
		if want := []string{"640x360\x10.jpg", "640x360.jpg"}; !slices.Equal(names, want) {
			t.Fatalf("List = %q, want %q", names, want)
		}
		if c := f.callsOf("ListObjectsV2")[0]; c.encoding != "url" {
			t.Errorf("listing asked with encoding-type %q, want url", c.encoding)
		}
		if _, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, names...)); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		if again, _ := p.List(context.Background(), imageC1); len(again) != 0 {
			t.Fatalf("left after purge: %q", again)
		}
		single := f.callsOf("DeleteObject")
		if len(single) != 1 || single[0].keys[0] != ctrl {
			t.Errorf("DeleteObject calls = %v, want one for the 0x10 key", single)
		}
		for _, c := range f.callsOf("DeleteObjects") {
			for _, k := range c.keys {
				if k != plain {
					t.Errorf("DeleteObjects carried %q", k)
				}
			}
		}
	})
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		f, url := newFakeS3(t, &fakeS3{encodeURL: true,
			keyErrors: map[string]string{ctrl: "InvalidArgument"}})
		f.seed(plain, ctrl)
		p := newProvider(t, settingsFor(url, "test", "test"))
		res, err := listAndPurge(t, p, imageC1)
		wantCode(t, err, "InvalidArgument", false)
		if !slices.Equal(res.Remaining, []string{ctrl}) {
			t.Errorf("Remaining = %q, want only the 0x10 key", res.Remaining)
		}
		if f.held(plain) {
			t.Error("the plain key was not deleted")
		}
	})
	t.Run("StoreIgnoresEncodingType", func(t *testing.T) {
		t.Parallel()
		// Such a store writes U+FFFD for 0x10: the listing is refused rather
		// than planning a name that does not exist and calling it deleted.
		f, url := newFakeS3(t, &fakeS3{})
		f.seed(plain, ctrl)
		p := newProvider(t, settingsFor(url, "test", "test"))
		_, err := p.List(context.Background(), imageC1)
		wantCode(t, err, "InvalidListing", false)
	})
}

// Keys with spaces, "+", "%", non-ASCII, XML specials and characters XML
// cannot carry all round-trip through listing and deletion byte for byte.
func TestKeysRoundTrip(t *testing.T) {
	t.Parallel()
	names := []string{
		"640x360 q=80.jpg", "a+b.jpg", "100%.jpg", "%41.jpg", "café.jpg", "v~2.jpg",
		"<&>'\".jpg", "tab\tx.jpg", "cr\rlf\n.jpg", "nel\u0085ls\u2028.jpg", "\uFFFD.jpg",
		"nul\x00.jpg", "bad\xffutf8.jpg", "nonchar\uFFFE.jpg", "esc\x1b.jpg",
	}
	f, url := newFakeS3(t, &fakeS3{encodeURL: true})
	for _, n := range names {
		f.seed("derived/" + imageC1 + "/" + n)
	}
	p := newProvider(t, settingsFor(url, "test", "test"))
	got, err := p.List(context.Background(), imageC1)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("List = %q\nwant %q", got, want)
	}
	res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, got...))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if left, _ := p.List(context.Background(), imageC1); len(left) != 0 {
		t.Fatalf("left after purge: %q", left)
	}
	if n := res.Detail["single_deletes"]; n != 4 {
		t.Errorf("single deletes = %v, want 4 (NUL, 0xFF, U+FFFE, ESC)", n)
	}
	for _, c := range f.callsOf("DeleteObjects") {
		for _, k := range c.keys {
			legit := k == "derived/"+imageC1+"/\uFFFD.jpg"
			if !utf8.ValidString(k) || (strings.ContainsRune(k, utf8.RuneError) && !legit) {
				t.Errorf("DeleteObjects carried a mangled key %q", k)
			}
		}
	}
}

func TestPrefixNeverReachesAnotherImage(t *testing.T) {
	t.Parallel()
	f, url := newFakeS3(t, &fakeS3{encodeURL: true})
	f.seed("derived/abc/x.jpg", "derived/abcd/y.jpg", "derived/abc/sub/z.jpg", "derived/abc/")
	p := newProvider(t, settingsFor(url, "test", "test"))
	names, err := p.List(context.Background(), "abc")
	if err != nil || !slices.Equal(names, []string{"x.jpg"}) {
		t.Fatalf("List = %q, %v; want [x.jpg]", names, err)
	}
	if c := f.callsOf("ListObjectsV2")[0]; c.prefix != "derived/abc/" {
		t.Errorf("listing prefix %q, want derived/abc/", c.prefix)
	}
}

// A 200 DeleteObjects reply listing per-key errors fails those keys only.
func TestPerKeyErrors(t *testing.T) {
	t.Parallel()
	key := func(r string) string { return "derived/" + imageC1 + "/" + r }
	t.Run("One", func(t *testing.T) {
		t.Parallel()
		f, url := newFakeS3(t, &fakeS3{keyErrors: map[string]string{key("b.jpg"): "AccessDenied"}})
		f.seed(key("a.jpg"), key("b.jpg"), key("c.jpg"))
		p := newProvider(t, settingsFor(url, "test", "test"))
		res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg", "b.jpg", "c.jpg"))
		pe := wantCode(t, err, "AccessDenied", false)
		if !strings.Contains(pe.Message, "b.jpg") {
			t.Errorf("message %q does not name the key", pe.Message)
		}
		if !slices.Equal(res.Remaining, []string{key("b.jpg")}) {
			t.Errorf("Remaining = %q", res.Remaining)
		}
		if res.Detail["deleted"] != 2 || res.Detail["failed"] != 1 {
			t.Errorf("Detail = %v", res.Detail)
		}
		if f.held(key("a.jpg")) || !f.held(key("b.jpg")) {
			t.Error("the store's state does not match the result")
		}
	})
	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()
		f, url := newFakeS3(t, &fakeS3{keyErrors: map[string]string{
			key("a.jpg"): "AccessDenied", key("c.jpg"): "InternalError"}})
		p := newProvider(t, settingsFor(url, "test", "test", "max_keys_per_batch: 1"))
		res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg", "b.jpg", "c.jpg"))
		// The first failed item's code; retryable because one failure is.
		pe := wantCode(t, err, "AccessDenied", true)
		if !strings.Contains(pe.Message, "AccessDenied 1, InternalError 1") {
			t.Errorf("message %q lacks the counts", pe.Message)
		}
		if !slices.Equal(res.Remaining, []string{key("a.jpg"), key("c.jpg")}) {
			t.Errorf("Remaining = %q", res.Remaining)
		}
		if n := len(f.callsOf("DeleteObjects")); n != 3 || res.Detail["batches"] != 3 {
			t.Errorf("%d batches sent, Detail %v; want 3", n, res.Detail)
		}
	})
	t.Run("ManyThenRetryable", func(t *testing.T) {
		t.Parallel()
		// More distinct errors than are kept: the retryable one at the end
		// still makes the call retryable.
		denied := map[string]string{}
		var renditions []string
		for i := range 30 {
			r := fmt.Sprintf("r%02d.jpg", i)
			renditions = append(renditions, r)
			denied[key(r)] = "AccessDenied"
		}
		denied[key("r29.jpg")] = "SlowDown"
		_, url := newFakeS3(t, &fakeS3{keyErrors: denied})
		p := newProvider(t, settingsFor(url, "test", "test"))
		res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, renditions...))
		wantCode(t, err, "AccessDenied", true)
		codes := res.Detail["failed_codes"].(map[string]int)
		if codes["AccessDenied"] != 29 || codes["SlowDown"] != 1 || len(res.Remaining) != 30 {
			t.Errorf("Detail = %v, Remaining %d", res.Detail, len(res.Remaining))
		}
	})
	t.Run("KeyNotSent", func(t *testing.T) {
		t.Parallel()
		keys := []string{key("a.jpg"), key("b.jpg")}
		code := "AccessDenied"
		got := keyErrors(keys, []types.Error{{Key: aws.String(key("other.jpg")), Code: &code}})
		if len(got) != 2 {
			t.Errorf("an error for a key not sent failed %d keys, want the whole batch", len(got))
		}
	})
}

// Whole-request errors keep the store's code, retryability and Retry-After,
// and the SDK makes exactly one attempt.
func TestWholeRequestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status     int
		code       string
		retryAfter string
		retryable  bool
		raw        string
	}{
		{403, "AccessDenied", "", false, ""},
		{503, "SlowDown", "2", true, ""},
		{500, "InternalError", "", true, ""},
		{404, "NoSuchBucket", "", false, ""},
		{503, "ServiceUnavailable", "", true, " "},
		{502, "BadGateway", "", true, "<html>proxy</html>"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			f, url := newFakeS3(t, &fakeS3{fail: func(string) *fakeError {
				return &fakeError{status: tc.status, code: tc.code, retryAfter: tc.retryAfter,
					raw: tc.raw}
			}})
			p := newProvider(t, settingsFor(url, "test", "test"))
			_, err := p.List(context.Background(), imageC1)
			wantCode(t, err, tc.code, tc.retryable)
			res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg"))
			pe := wantCode(t, err, tc.code, tc.retryable)
			if tc.retryAfter == "2" && pe.RetryAfter.Seconds() != 2 {
				t.Errorf("RetryAfter = %v, want 2s", pe.RetryAfter)
			}
			if len(res.Remaining) != 1 {
				t.Errorf("Remaining = %q", res.Remaining)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.calls) != 2 {
				t.Errorf("%d requests reached the store, want 2 (no SDK retries)", len(f.calls))
			}
		})
	}
}

// A 200 that is not a listing (a proxy's page) would otherwise read as an
// image without renditions and plan nothing.
func TestGarbledListingRefused(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"<html>captive portal</html>", "<html>cut sho"} {
		_, url := newFakeS3(t, &fakeS3{fail: func(string) *fakeError {
			return &fakeError{status: 200, raw: body}
		}})
		p := newProvider(t, settingsFor(url, "test", "test"))
		names, err := p.List(context.Background(), imageC1)
		wantCode(t, err, "InvalidResponse", true)
		if names != nil {
			t.Errorf("List = %q with an error", names)
		}
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	f, url := newFakeS3(t, &fakeS3{block: func(op string, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}})
	f.seed("derived/" + imageC1 + "/a.jpg")
	p := newProvider(t, settingsFor(url, "test", "test"))
	items := mustPlan(t, p, imageC1, "a.jpg", "b.jpg")

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	res, err := p.Purge(ctx, items)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge = %v, want context.Canceled", err)
	}
	if !slices.Equal(res.Remaining, items) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, items)
	}

	// Already canceled: nothing is sent.
	before := len(f.callsOf("DeleteObjects"))
	if _, err := p.Purge(ctx, items); !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge on a canceled context = %v", err)
	}
	if _, err := p.List(ctx, imageC1); !errors.Is(err, context.Canceled) {
		t.Fatalf("List on a canceled context = %v", err)
	}
	if len(f.callsOf("DeleteObjects")) != before {
		t.Error("a canceled purge sent a request")
	}
}

func TestDeadlineIsARetryableTimeout(t *testing.T) {
	t.Parallel()
	_, url := newFakeS3(t, &fakeS3{block: func(_ string, r *http.Request) { <-r.Context().Done() }})
	p := newProvider(t, settingsFor(url, "test", "test"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Purge(ctx, mustPlan(t, p, imageC1, "a.jpg"))
	wantCode(t, err, "Timeout", true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not unwrap to context.DeadlineExceeded", err)
	}
}

// Batches run in parallel, never more than delete_concurrency at once.
func TestDeleteConcurrencyBound(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var once sync.Once
	inflight, peak := 0, 0
	reached := make(chan struct{})
	f, url := newFakeS3(t, &fakeS3{block: func(op string, _ *http.Request) {
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		if inflight >= 3 {
			once.Do(func() { close(reached) })
		}
		mu.Unlock()
		// Hold every request until three are in flight, then a little
		// longer, so a pool that allowed more would show it.
		select {
		case <-reached:
		case <-time.After(2 * time.Second):
		}
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		inflight--
		mu.Unlock()
	}})
	var renditions []string
	for i := range 60 {
		renditions = append(renditions, fmt.Sprintf("r%d.jpg", i))
	}
	p := newProvider(t, settingsFor(url, "test", "test", "max_keys_per_batch: 10", "delete_concurrency: 3"))
	if _, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, renditions...)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != 3 {
		t.Errorf("peak concurrency %d, want 3", peak)
	}
	if n := len(f.callsOf("DeleteObjects")); n != 6 {
		t.Errorf("%d batches, want 6", n)
	}
}

// Items are checked before anything is sent: a journaled or edited item
// outside the derivatives is refused, never deleted.
func TestForeignItemsRefused(t *testing.T) {
	t.Parallel()
	f, url := newFakeS3(t, &fakeS3{})
	foreign := []string{"other/x.jpg", "derived/a/b/c.jpg", "derived/../x.jpg", "derived/a/",
		"derived//x.jpg"}
	f.seed(foreign...)
	p := newProvider(t, settingsFor(url, "test", "test"))
	res, err := p.Purge(context.Background(), foreign)
	wantCode(t, err, "InvalidItem", false)
	if !slices.Equal(res.Remaining, foreign) {
		t.Errorf("Remaining = %q", res.Remaining)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 0 {
		t.Errorf("%d requests sent for refused items", len(f.calls))
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	p := newProvider(t, settingsFor("http://127.0.0.1:9", "k", "s", `prefix: "img/{id}/r/"`))
	items := mustPlan(t, p, "abc", "640x360.jpg", "a b+c%.jpg")
	if want := []string{"img/abc/r/640x360.jpg", "img/abc/r/a b+c%.jpg"}; !slices.Equal(items, want) {
		t.Errorf("Plan = %q, want %q", items, want)
	}
	for _, bad := range []purge.Target{
		{ImageID: "abc", Renditions: []string{"a/b.jpg"}},
		{ImageID: "abc", Renditions: []string{".."}},
		{ImageID: "abc", Renditions: []string{""}},
		{ImageID: "a/b", Renditions: []string{"x.jpg"}},
		{ImageID: "..", Renditions: []string{"x.jpg"}},
	} {
		if items, err := p.Plan(bad); err == nil {
			t.Errorf("Plan(%+v) = %q, want an error", bad, items)
		}
	}
}
