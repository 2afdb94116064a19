package akamai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	akamaiemu "github.com/imgpurge/imgpurge/internal/emulator/akamai"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/akamai"
)

const imageID = providertest.ImageA

var emptyOpts = akamaiemu.Options{}

// bundle is one emulator and a provider pointed at it.
type bundle struct {
	emu   *akamaiemu.Emulator
	p     *akamai.Provider
	hosts []string
}

// emuSettings are the settings that aim a provider at srv with the
// emulator's default credentials.
func emuSettings(srv *httptest.Server) string {
	return credSettings(srv, akamaiemu.ClientSecretDefault, akamaiemu.AccessTokenDefault)
}

func credSettings(srv *httptest.Server, secret, access string) string {
	return fmt.Sprintf("host: %s\nscheme: http\nclient_token: %s\nclient_secret: %s\naccess_token: %s\n",
		strings.TrimPrefix(srv.URL, "http://"), akamaiemu.ClientTokenDefault, secret, access)
}

// setup starts an emulator and builds a provider the way the service does,
// from YAML settings; extra is appended to the settings.
func setup(t *testing.T, opts akamaiemu.Options, extra string, hosts ...string) *bundle {
	t.Helper()
	emu := akamaiemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p, err := newProvider(emuSettings(srv)+extra, hosts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &bundle{emu: emu, p: p.(*akamai.Provider), hosts: hosts}
}

func newProvider(doc string, hosts []string) (purge.Provider, error) {
	return providertest.NewProvider(akamai.New, "akamai", doc, hosts)
}

func (b *bundle) plan(t *testing.T, tg purge.Target) []string {
	t.Helper()
	return providertest.Plan(t, b.p, tg)
}

func renditions(n int, suffix string) []string {
	rs := make([]string, n)
	for i := range rs {
		rs[i] = fmt.Sprintf("%dx%d%s.jpg", 100+i, 50+i, suffix)
	}
	return rs
}

func TestConformance(t *testing.T) {
	t.Parallel()
	variants := []struct{ name, network, extra string }{
		// One object per request, so a partial failure can fail one rendition.
		{"URLInvalidate", "production", "max_objects_per_call: 1\n"},
		{"URLDeleteStaging", "staging", "max_objects_per_call: 1\naction: delete\nnetwork: staging\n"},
		{"TagInvalidate", "production", "max_objects_per_call: 1\ntype: tag\n"},
		{"TagDelete", "production", "max_objects_per_call: 1\ntype: tag\naction: delete\n"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			providertest.Run(t, func(t *testing.T) *providertest.Backend {
				b := setup(t, akamaiemu.Options{}, v.extra, "img.example.test", "images.example.test")
				url := func(h, id, r string) string { return "https://" + h + "/image/" + id + "/" + r }
				return &providertest.Backend{
					Provider: b.p,
					Seed: func(_ *testing.T, id string, rs ...string) {
						for _, r := range rs {
							for _, h := range b.hosts {
								b.emu.Seed(v.network, url(h, id, r), "image-"+id, "image-"+id+"/"+r)
							}
						}
					},
					Held: func(_ *testing.T, id, r string) bool {
						return slices.ContainsFunc(b.hosts, func(h string) bool {
							return b.emu.Cached(v.network, url(h, id, r))
						})
					},
					FailItems: func(t *testing.T, id string, rs ...string) string {
						items := b.plan(t, purge.Target{ImageID: id, Renditions: rs})
						b.emu.FailWhen(akamaiemu.NamesAny(items...), akamaiemu.Fault{Status: 403})
						return "HTTP403 Forbidden"
					},
				}
			})
		})
	}
}

func TestBodiesStayUnder50KB(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test", "images.example.test")
	long := "-" + strings.Repeat("quality-80-progressive-", 4)
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(1000, long)})
	if len(items) != 2000 {
		t.Fatalf("planned %d URLs, want 2000", len(items))
	}
	total := 0
	for _, it := range items {
		total += len(it) + 3 // quotes and comma
	}
	res, err := b.p.Purge(context.Background(), items)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	var sent []string
	calls := b.emu.Calls()
	for i, c := range calls {
		if c.Status != 201 || len(c.Body) > 50000 {
			t.Errorf("call %d: %d bytes answered %d, want at most 50000 bytes answered 201", i, len(c.Body), c.Status)
		}
		sent = append(sent, c.Objects...)
	}
	slices.Sort(sent)
	if want := slices.Sorted(slices.Values(items)); !slices.Equal(sent, want) {
		t.Errorf("objects sent differ from URLs planned (%d sent, %d planned)", len(sent), len(want))
	}
	// Greedy packing wastes less than one URL per body.
	if minCalls := (total + 49999) / 50000; len(calls) > minCalls+1 {
		t.Errorf("%d calls for %d bytes of objects, want at most %d", len(calls), total, minCalls+1)
	}
	if res.Detail["calls"] != len(calls) || len(res.Detail["purge_ids"].([]string)) != len(calls) {
		t.Errorf("Detail = %v, want %d calls with a purge id each", res.Detail, len(calls))
	}
	t.Logf("2000 URLs of %d bytes each: %d calls, first body %d bytes", len(items[0]), len(calls), len(calls[0].Body))
}

func TestObjectCapSplits(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "max_objects_per_call: 2\n", "img.example.test")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(5, "")})
	if _, err := b.p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	var sizes []int
	for _, c := range b.emu.Calls() {
		sizes = append(sizes, len(c.Objects))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 2, 2}) {
		t.Errorf("objects per call = %v, want [1 2 2]", sizes)
	}
}

func TestSuccessDetail(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	res, err := b.p.Purge(context.Background(), b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}}))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	ids := res.Detail["purge_ids"].([]string)
	sup := res.Detail["support_ids"].([]string)
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "edcp-") || len(sup) != 1 || res.Detail["estimated_seconds"] != 5 {
		t.Errorf("Detail = %v, want one edcp- purge id, its support id and estimated_seconds 5", res.Detail)
	}
	c := b.emu.Calls()[0]
	if c.Action != "invalidate" || c.Type != "url" || c.Network != "production" {
		t.Errorf("route = %s/%s/%s, want invalidate/url/production", c.Action, c.Type, c.Network)
	}
}

func TestWrongCredentialsFailTheSignature(t *testing.T) {
	t.Parallel()
	const wrongSecret, wrongAccess = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==", "akab-wrong-access-token"
	tests := []struct{ name, secret, access, value, detail string }{
		{"Secret", wrongSecret, akamaiemu.AccessTokenDefault, wrongSecret, "The signature does not match"},
		{"AccessToken", akamaiemu.ClientSecretDefault, wrongAccess, wrongAccess, "Invalid authorization access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := akamaiemu.New(akamaiemu.Options{})
			srv := httptest.NewServer(emu)
			t.Cleanup(srv.Close)
			doc := credSettings(srv, tt.secret, tt.access) + "max_objects_per_call: 1\nconcurrency: 1\n"
			p, err := newProvider(doc, []string{"img.example.test"})
			if err != nil {
				t.Fatal(err)
			}
			items, _ := p.Plan(purge.Target{ImageID: imageID, Renditions: renditions(3, "")})
			res, err := p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != "HTTP401 Not authorized" || pe.Retryable || !strings.Contains(pe.Message, tt.detail) {
				t.Errorf("error = %+v, want non-retryable HTTP401 Not authorized saying %q", pe, tt.detail)
			}
			if calls := emu.Calls(); len(calls) != 1 {
				t.Errorf("%d calls after a 401, want 1: the others would fail alike", len(calls))
			}
			if !slices.Equal(res.Remaining, items) {
				t.Errorf("Remaining = %q, want every item", res.Remaining)
			}
			if strings.Contains(err.Error(), tt.value) || strings.Contains(fmt.Sprintf("%+v %#v", p, p), tt.value) {
				t.Error("a credential leaked into an error or the provider's printed form")
			}
		})
	}
}

func TestRateLimitFromBuckets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits akamaiemu.Limits
		code   string
		wait   time.Duration
	}{
		// 10 URL tokens at 2/s: after 8, the next 8 need 3 more seconds.
		{"URLBucket", akamaiemu.Limits{URLs: akamaiemu.Bucket{Burst: 10, PerSecond: 2}},
			"HTTP429 URL Rate Limit exceeded", 3 * time.Second},
		// One request token at 0.5/s: the next request needs 2 seconds.
		{"RequestBucket", akamaiemu.Limits{Requests: akamaiemu.Bucket{Burst: 1, PerSecond: 0.5}},
			"HTTP429 Rate Limit exceeded", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := providertest.NewClock(time.Now())
			b := setup(t, akamaiemu.Options{Limits: tt.limits, Now: clk.Now}, "", "img.example.test")
			first := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(8, "a")})
			second := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(8, "b")})
			if _, err := b.p.Purge(context.Background(), first); err != nil {
				t.Fatalf("first Purge: %v", err)
			}
			res, err := b.p.Purge(context.Background(), second)
			pe := providertest.AsError(t, err)
			if pe.Code != tt.code || !pe.Retryable || pe.RetryAfter != tt.wait {
				t.Errorf("error = %+v, want retryable %q after %v", pe, tt.code, tt.wait)
			}
			if !slices.Equal(res.Remaining, second) {
				t.Errorf("Remaining = %q, want the whole request", res.Remaining)
			}
			clk.Add(tt.wait)
			if _, err := b.p.Purge(context.Background(), second); err != nil {
				t.Errorf("Purge after waiting %v: %v", tt.wait, err)
			}
		})
	}
}

func TestRetryAfterHeaderWins(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	b.emu.FailNext(akamaiemu.Fault{Status: 429, RetryAfter: 7 * time.Second})
	_, err := b.p.Purge(context.Background(), b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}}))
	if pe := providertest.AsError(t, err); pe.Code != "HTTP429 Rate Limit exceeded" || pe.RetryAfter != 7*time.Second {
		t.Errorf("error = %+v, want HTTP429 Rate Limit exceeded after 7s", pe)
	}
}

func TestPartialFailureLeavesTheFailedCallsItems(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "max_objects_per_call: 2\nconcurrency: 1\n", "img.example.test")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(6, "")})
	b.emu.FailNext(akamaiemu.Fault{}, akamaiemu.Fault{Status: 503}, akamaiemu.Fault{})
	res, err := b.p.Purge(context.Background(), items)
	if pe := providertest.AsError(t, err); pe.Code != "HTTP503 Service Unavailable" || !pe.Retryable {
		t.Errorf("error = %+v, want retryable HTTP503 Service Unavailable", pe)
	}
	if !slices.Equal(res.Remaining, items[2:4]) {
		t.Errorf("Remaining = %q, want exactly the second call's %q", res.Remaining, items[2:4])
	}
	if ids := res.Detail["purge_ids"].([]string); len(ids) != 2 {
		t.Errorf("purge ids = %q, want the two accepted calls'", ids)
	}
}

func TestForbiddenObjectDoesNotStopOtherCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "max_objects_per_call: 1\nconcurrency: 1\n", "img.example.test")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(3, "")})
	b.emu.FailNext(akamaiemu.Fault{Status: 403})
	res, err := b.p.Purge(context.Background(), items)
	if pe := providertest.AsError(t, err); pe.Code != "HTTP403 Forbidden" || pe.Retryable {
		t.Errorf("error = %+v, want non-retryable HTTP403 Forbidden", pe)
	}
	if !slices.Equal(res.Remaining, items[:1]) || len(b.emu.Calls()) != 3 {
		t.Errorf("Remaining = %q after %d calls, want %q after 3", res.Remaining, len(b.emu.Calls()), items[:1])
	}
}

func TestTransportFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault akamaiemu.Fault
		code  string
	}{
		{"Dropped", akamaiemu.Fault{Drop: true}, "TransportError"},
		{"Malformed", akamaiemu.Fault{Malformed: true}, "MalformedResponse"},
		{"ServerError", akamaiemu.Fault{Status: 500}, "HTTP500 Internal Server Error"},
		{"InsufficientStorage", akamaiemu.Fault{Status: 507}, "HTTP507 Insufficient Storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, akamaiemu.Options{}, "", "img.example.test")
			b.emu.FailNext(tt.fault)
			items := b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}})
			res, err := b.p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != tt.code || !pe.Retryable {
				t.Errorf("error = %+v, want retryable %s", pe, tt.code)
			}
			if !slices.Equal(res.Remaining, items) {
				t.Errorf("Remaining = %q, want %q", res.Remaining, items)
			}
		})
	}
}

func TestSlowAnswerMeetsTheDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	b.emu.FailNext(akamaiemu.Fault{Hold: hold})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}})
	res, err := b.p.Purge(ctx, items)
	if !errors.Is(err, context.DeadlineExceeded) || !slices.Equal(res.Remaining, items) {
		t.Fatalf("Purge past its deadline = %v leaving %q, want context.DeadlineExceeded leaving all", err, res.Remaining)
	}
}

func TestCancelMidCall(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	arrived := make(chan struct{}, 1)
	b.emu.FailNext(akamaiemu.Fault{Hold: hold, Arrived: arrived})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := b.p.Purge(ctx, b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a.jpg"}}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge canceled mid-call = %v, want context.Canceled", err)
	}
}

func TestURLsAreEncodedAndAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	rs := []string{"640x360 q=80.jpg", "café 640.jpg", "v~2.jpg", "a*b.jpg", "%2F..%2F.jpg"}
	want := []string{"640x360%20q=80.jpg", "caf%C3%A9%20640.jpg", "v~2.jpg", "a%2Ab.jpg", "%252F..%252F.jpg"}
	for _, w := range want {
		b.emu.Seed("production", "https://img.example.test/image/"+imageID+"/"+w)
	}
	if _, err := b.p.Purge(context.Background(), b.plan(t, purge.Target{ImageID: imageID, Renditions: rs})); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, w := range want {
		u := "https://img.example.test/image/" + imageID + "/" + w
		if !slices.Contains(b.emu.Calls()[0].Objects, u) || b.emu.Cached("production", u) {
			t.Errorf("%s was not sent or is still fresh", u)
		}
	}
}

func TestInvalidItemsAreNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "", "img.example.test")
	good := "https://img.example.test/image/" + imageID + "/a.jpg"
	bad := []string{"/image/relative.jpg", "https://img.example.test/image/*", "image-" + imageID}
	res, err := b.p.Purge(context.Background(), append([]string{good}, bad...))
	if pe := providertest.AsError(t, err); pe.Code != "InvalidItem" || pe.Retryable {
		t.Errorf("error = %+v, want non-retryable InvalidItem", pe)
	}
	if !slices.Equal(res.Remaining, bad) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, bad)
	}
	calls := b.emu.Calls()
	if len(calls) != 1 || !slices.Equal(calls[0].Objects, []string{good}) {
		t.Errorf("calls = %+v, want one carrying only the valid URL", calls)
	}
}

func TestBodyIsExactJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "type: tag\n")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"a&b.jpg"}})
	if _, err := b.p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	var body struct{ Objects []string }
	if err := json.Unmarshal(b.emu.Calls()[0].Body, &body); err != nil || !slices.Equal(body.Objects, items) {
		t.Errorf("body %s = %v, want objects %q", b.emu.Calls()[0].Body, err, items)
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, akamaiemu.Options{}, "type: tag\naction: delete\nnetwork: staging\n")
	if got := b.p.Account(); !strings.HasPrefix(got, "akamai:127.0.0.1:") || !strings.HasSuffix(got, ":delete/tag/staging") {
		t.Errorf("Account = %q", got)
	}
	if b.p.MaxItemsPerCall() != 1000 {
		t.Errorf("MaxItemsPerCall = %d, want 1000", b.p.MaxItemsPerCall())
	}
}
