package s3

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imgpurge/imgpurge/internal/testenv"
)

// A wrong secret is the store's SignatureDoesNotMatch, not a generic error,
// and not retryable.
func TestVersityGWChecksSignatures(t *testing.T) {
	t.Parallel()
	endpoint, access, secret := testenv.StartVersityGW(t)
	s := newStore(endpoint, access, secret)
	b := s.bucket(t, false)
	s.put(t, b, "derived/"+imageC1+"/a.jpg")
	p := newProvider(t, settingsForBucket(b, endpoint, access, secret+"x"))
	_, err := p.List(context.Background(), imageC1)
	wantCode(t, err, "SignatureDoesNotMatch", false)
	res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg"))
	wantCode(t, err, "SignatureDoesNotMatch", false)
	if len(res.Remaining) != 1 || !s.held(t, b, "derived/"+imageC1+"/a.jpg") {
		t.Errorf("Remaining = %q after a refused request", res.Remaining)
	}
}

// Keys round-trip byte for byte on a real store. versitygw ignores
// EncodingType=url, so a 0x10 key reaches the listing as U+FFFD and the
// listing is refused; planned by name, the key is deleted through
// DeleteObject.
func TestVersityGWKeys(t *testing.T) {
	t.Parallel()
	endpoint, access, secret := testenv.StartVersityGW(t)
	s := newStore(endpoint, access, secret)
	b := s.bucket(t, false)
	p := newProvider(t, settingsForBucket(b, endpoint, access, secret))
	names := []string{"640x360 q=80.jpg", "a+b.jpg", "100%.jpg", "café.jpg", "v~2.jpg",
		"<&>.jpg", "tab\t.jpg"}
	for _, n := range names {
		s.put(t, b, "derived/"+imageC1+"/"+n)
	}
	got, err := p.List(context.Background(), imageC1)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		t.Fatalf("List = %q, %v", got, err)
	}
	if _, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, got...)); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, n := range names {
		if s.held(t, b, "derived/"+imageC1+"/"+n) {
			t.Errorf("%q still held", n)
		}
	}

	ctrl := "derived/" + imageC1 + "/640x360\x10.jpg"
	s.put(t, b, ctrl)
	_, err = p.List(context.Background(), imageC1)
	wantCode(t, err, "InvalidListing", false)
	res, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "640x360\x10.jpg"))
	if err != nil || res.Detail["single_deletes"] != 1 {
		t.Fatalf("Purge of the 0x10 key: %v, %v", err, res.Detail)
	}
	if s.held(t, b, ctrl) {
		t.Error("the 0x10 key is still held")
	}
}

// C2 at full size on a real store, timed: 2,345 keys of one image beside a
// decoy whose id starts with the same characters.
func TestVersityGWManyKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 4,690 objects")
	}
	t.Parallel()
	endpoint, access, secret := testenv.StartVersityGW(t)
	s := newStore(endpoint, access, secret)
	b := s.bucket(t, false)
	const n = 2345
	start := time.Now()
	s.putMany(t, b, n, "derived/img-42/", "derived/img-43/")
	s.put(t, b, "derived/img-420/640x360.jpg")
	t.Logf("seeded %d objects in %v", 2*n+1, time.Since(start).Round(time.Millisecond))

	for _, tc := range []struct {
		id          string
		concurrency int
	}{{"img-42", 4}, {"img-43", 1}} {
		p := newProvider(t, settingsForBucket(b, endpoint, access, secret,
			fmt.Sprintf("delete_concurrency: %d", tc.concurrency)))
		t0 := time.Now()
		names, err := p.List(context.Background(), tc.id)
		listed := time.Since(t0)
		if err != nil || len(names) != n {
			t.Fatalf("List %s: %d names, %v", tc.id, len(names), err)
		}
		t1 := time.Now()
		res, err := p.Purge(context.Background(), mustPlan(t, p, tc.id, names...))
		if err != nil || res.Detail["deleted"] != n || res.Detail["batches"] != 3 {
			t.Fatalf("Purge %s: %v, %v", tc.id, err, res.Detail)
		}
		t.Logf("%s: listed %d keys (3 pages) in %v; deleted them in 3 batches, concurrency %d, in %v",
			tc.id, n, listed.Round(time.Millisecond), tc.concurrency, time.Since(t1).Round(time.Millisecond))
		if left, _ := p.List(context.Background(), tc.id); len(left) != 0 {
			t.Errorf("%s: %d keys left", tc.id, len(left))
		}
	}
	if !s.held(t, b, "derived/img-420/640x360.jpg") {
		t.Error("the decoy img-420 was deleted")
	}
}

func (s *store) putMany(t *testing.T, b string, n int, prefixes ...string) {
	t.Helper()
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for k := range keys {
				_, err := s.client.PutObject(context.Background(), &awss3.PutObjectInput{
					Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader("img"),
				})
				if err != nil {
					t.Errorf("PutObject %q: %v", k, err)
				}
			}
		})
	}
	for _, p := range prefixes {
		for i := range n {
			keys <- fmt.Sprintf("%sr%04d.jpg", p, i)
		}
	}
	close(keys)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}
