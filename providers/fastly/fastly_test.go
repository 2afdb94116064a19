package fastly_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	fastlyemu "github.com/imgpurge/imgpurge/internal/emulator/fastly"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/internal/purge"
	"github.com/imgpurge/imgpurge/providers/fastly"
)

const imageID = providertest.ImageA

// bundle is one emulator and a provider pointed at it.
type bundle struct {
	emu   *fastlyemu.Emulator
	p     *fastly.Provider
	hosts []string
}

// setup starts an emulator and builds a provider the way the service does:
// from YAML settings through config.DecodeStrict. extra is appended to the
// settings that point the provider at the emulator.
func setup(t *testing.T, extra string, hosts ...string) *bundle {
	t.Helper()
	emu := fastlyemu.New(fastlyemu.Options{ReadOnlyKey: "read-only-key"})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	doc := fmt.Sprintf("service_id: %s\napi_token: %s\nbase_url: %s\n%s",
		fastlyemu.ServiceIDDefault, fastlyemu.APIKeyDefault, srv.URL, extra)
	p, err := newProvider(doc, hosts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &bundle{emu: emu, p: p.(*fastly.Provider), hosts: hosts}
}

func newProvider(doc string, hosts []string) (purge.Provider, error) {
	return providertest.NewProvider(fastly.New, "fastly", doc, hosts)
}

func (b *bundle) plan(t *testing.T, tg purge.Target) []string {
	t.Helper()
	return providertest.Plan(t, b.p, tg)
}

// seed caches renditions on every public host, tagged as the package doc
// asks the origin to tag them.
func (b *bundle) seed(id string, renditions ...string) {
	for _, r := range renditions {
		for _, h := range b.hosts {
			b.emu.Seed(h, "/image/"+id+"/"+r, "image-"+id, "image-"+id+"/"+r)
		}
	}
}

// emuItems turns planned items into the emulator's view of them: keys stay,
// URLs lose their scheme.
func emuItems(items []string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = strings.TrimPrefix(it, "https://")
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	modes := map[string]string{
		// One key per call, so a partial failure can fail one rendition.
		"Keys":     "max_keys_per_call: 1\n",
		"SoftKeys": "max_keys_per_call: 1\nsoft: true\n",
		"URLs":     "mode: urls\n",
	}
	for name, extra := range modes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			providertest.Run(t, func(t *testing.T) *providertest.Backend {
				b := setup(t, extra, "img.example.test", "images.example.test")
				return &providertest.Backend{
					Provider: b.p,
					Seed:     func(_ *testing.T, id string, rs ...string) { b.seed(id, rs...) },
					Held: func(_ *testing.T, id, r string) bool {
						return slices.ContainsFunc(b.hosts, func(h string) bool {
							return b.emu.Cached(h, "/image/"+id+"/"+r)
						})
					},
					FailItems: func(t *testing.T, id string, rs ...string) string {
						items := b.plan(t, purge.Target{ImageID: id, Renditions: rs})
						b.emu.FailWhen(fastlyemu.NamesAny(emuItems(items)...), fastlyemu.Fault{Status: 503})
						return "HTTP503"
					},
				}
			})
		})
	}
}

func renditions(n int) []string {
	rs := make([]string, n)
	for i := range rs {
		rs[i] = fmt.Sprintf("%dx%d.jpg", 100+i, 50+i)
	}
	return rs
}

func TestBatchesOf256Keys(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(300)})
	if len(items) != 300 {
		t.Fatalf("planned %d keys, want 300", len(items))
	}
	res, err := b.p.Purge(context.Background(), items)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	calls := b.emu.Calls()
	var sizes []int
	var sent []string
	for _, c := range calls {
		if c.Kind != "batch" || c.Status != http.StatusOK {
			t.Errorf("call %s %s answered %d, want a batch purge answered 200", c.Method, c.Path, c.Status)
		}
		sizes = append(sizes, len(c.Items))
		sent = append(sent, c.Items...)
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{44, 256}) {
		t.Errorf("batch sizes = %v, want [44 256]", sizes)
	}
	slices.Sort(sent)
	want := slices.Sorted(slices.Values(items))
	if !slices.Equal(sent, want) {
		t.Errorf("keys sent differ from keys planned (%d sent, %d planned)", len(sent), len(want))
	}
	if ids := res.Detail["purge_ids"].(map[string]string); len(ids) != 300 {
		t.Errorf("Detail purge_ids has %d entries, want 300", len(ids))
	}
	if res.Detail["calls"] != 2 {
		t.Errorf("Detail calls = %v, want 2", res.Detail["calls"])
	}
}

func TestMaxKeysPerCallIsCapped(t *testing.T) {
	t.Parallel()
	_, err := newProvider("service_id: s\napi_token: k\nbase_url: http://127.0.0.1:1\nmax_keys_per_call: 257\n", nil)
	if err == nil || !strings.Contains(err.Error(), "max_keys_per_call:") {
		t.Fatalf("New with 257 keys per call = %v, want a max_keys_per_call error", err)
	}
}

func TestSoftPurge(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"keys", "urls"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "soft: true\nmode: "+mode+"\n", "img.example.test")
			b.seed(imageID, "640x360.jpg")
			items := b.plan(t, purge.Target{ImageID: imageID, Renditions: []string{"640x360.jpg"}})
			if _, err := b.p.Purge(context.Background(), items); err != nil {
				t.Fatalf("Purge: %v", err)
			}
			for _, c := range b.emu.Calls() {
				if got := c.Header.Get("Fastly-Soft-Purge"); got != "1" {
					t.Errorf("Fastly-Soft-Purge = %q, want 1", got)
				}
			}
			path := "/image/" + imageID + "/640x360.jpg"
			if !b.emu.Stale("img.example.test", path) {
				t.Error("a soft purge must leave the object cached but stale")
			}
		})
	}
}

func TestHardPurgeSendsNoSoftHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	items := b.plan(t, purge.Target{ImageID: imageID, All: true})
	if _, err := b.p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if h := b.emu.Calls()[0].Header; h.Get("Fastly-Soft-Purge") != "" || h.Get("Fastly-Key") != fastlyemu.APIKeyDefault {
		t.Errorf("headers = %v, want Fastly-Key and no Fastly-Soft-Purge", h)
	}
}

func TestRateLimitIsRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    fastlyemu.Fault
		min, max time.Duration
	}{
		{"RateLimitReset", fastlyemu.Fault{Status: 429, RetryAfter: 30 * time.Second},
			28 * time.Second, 31 * time.Second},
		{"RetryAfterHeader", fastlyemu.Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
			7 * time.Second, 7 * time.Second},
		// An unreadable Retry-After counts as absent: the reset decides.
		{"UnreadableRetryAfter", fastlyemu.Fault{Status: 429, RetryAfter: 30 * time.Second,
			Header: http.Header{"Retry-After": {"soon"}}}, 28 * time.Second, 31 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			b.emu.FailNext(tt.fault)
			items := b.plan(t, purge.Target{ImageID: imageID, All: true})
			res, err := b.p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != "HTTP429" || !pe.Retryable {
				t.Errorf("error = %+v, want retryable HTTP429", pe)
			}
			if pe.RetryAfter < tt.min || pe.RetryAfter > tt.max {
				t.Errorf("RetryAfter = %v, want within [%v, %v]", pe.RetryAfter, tt.min, tt.max)
			}
			if !slices.Equal(res.Remaining, items) {
				t.Errorf("Remaining = %q, want %q", res.Remaining, items)
			}
		})
	}
}

func TestHaltsAfterRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, "max_keys_per_call: 1\nconcurrency: 1\n")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(3)})
	b.emu.FailNext(fastlyemu.Fault{Status: 429, RetryAfter: 5 * time.Second})
	res, err := b.p.Purge(context.Background(), items)
	if pe := providertest.AsError(t, err); pe.Code != "HTTP429" {
		t.Errorf("Code = %q, want HTTP429", pe.Code)
	}
	if n := len(b.emu.Calls()); n != 1 {
		t.Errorf("%d calls made, want 1: the others would meet the same 429", n)
	}
	if !slices.Equal(res.Remaining, items) {
		t.Errorf("Remaining = %q, want every item %q", res.Remaining, items)
	}
}

func TestPartialFailureLeavesTheFailedCallsItems(t *testing.T) {
	t.Parallel()
	b := setup(t, "max_keys_per_call: 2\nconcurrency: 1\n")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(6)})
	b.emu.FailNext(fastlyemu.Fault{}, fastlyemu.Fault{Status: 503}, fastlyemu.Fault{})
	res, err := b.p.Purge(context.Background(), items)
	pe := providertest.AsError(t, err)
	if pe.Code != "HTTP503" || !pe.Retryable {
		t.Errorf("error = %+v, want retryable HTTP503", pe)
	}
	if !slices.Equal(res.Remaining, items[2:4]) {
		t.Errorf("Remaining = %q, want exactly the second call's %q", res.Remaining, items[2:4])
	}
	if ids := res.Detail["purge_ids"].(map[string]string); len(ids) != 4 {
		t.Errorf("purge ids for %d keys, want 4", len(ids))
	}
}

func TestNonRetryableErrorWins(t *testing.T) {
	t.Parallel()
	b := setup(t, "max_keys_per_call: 1\nconcurrency: 1\n")
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: renditions(3)})
	b.emu.FailNext(fastlyemu.Fault{Status: 503}, fastlyemu.Fault{Status: 400})
	res, err := b.p.Purge(context.Background(), items)
	if pe := providertest.AsError(t, err); pe.Code != "HTTP400" || pe.Retryable {
		t.Errorf("error = %+v, want the non-retryable HTTP400", pe)
	}
	if !slices.Equal(res.Remaining, items[:2]) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, items[:2])
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	tests := []struct{ token, code string }{
		{"wrong-token", "HTTP401"},
		{"read-only-key", "HTTP403"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			emu := fastlyemu.New(fastlyemu.Options{ReadOnlyKey: "read-only-key"})
			srv := httptest.NewServer(emu)
			t.Cleanup(srv.Close)
			p, err := newProvider(fmt.Sprintf("service_id: %s\napi_token: %s\nbase_url: %s\n",
				fastlyemu.ServiceIDDefault, tt.token, srv.URL), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Purge(context.Background(), []string{"image-" + imageID})
			pe := providertest.AsError(t, err)
			if pe.Code != tt.code || pe.Retryable {
				t.Errorf("error = %+v, want non-retryable %s", pe, tt.code)
			}
			if strings.Contains(err.Error(), tt.token) || strings.Contains(fmt.Sprintf("%+v", p), tt.token) {
				t.Error("the API token leaked into an error or the provider's printed form")
			}
		})
	}
}

func TestURLsAreEncodedPerHost(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test", "images.example.test"}
	b := setup(t, "mode: urls\n", hosts...)
	rs := []string{"640x360 q=80.jpg", "café 640.jpg", "v~2.jpg", "a%2F..%2Fb.jpg"}
	enc := []string{"640x360%20q=80.jpg", "caf%C3%A9%20640.jpg", "v~2.jpg", "a%252F..%252Fb.jpg"}
	for _, h := range hosts {
		for _, e := range enc {
			b.emu.Seed(h, "/image/"+imageID+"/"+e)
		}
		b.emu.Seed(h, "/image/"+imageID+"/other.jpg")
	}
	items := b.plan(t, purge.Target{ImageID: imageID, Renditions: rs})
	if _, err := b.p.Purge(context.Background(), items); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	var paths []string
	for _, c := range b.emu.Calls() {
		paths = append(paths, c.Path)
	}
	slices.Sort(paths)
	var want []string
	for _, h := range hosts {
		for _, e := range enc {
			want = append(want, "/purge/"+h+"/image/"+imageID+"/"+e)
		}
	}
	slices.Sort(want)
	if !slices.Equal(paths, want) {
		t.Errorf("purged paths:\n got %q\nwant %q", paths, want)
	}
	for _, h := range hosts {
		for _, e := range enc {
			if b.emu.Cached(h, "/image/"+imageID+"/"+e) {
				t.Errorf("%s%s still cached", h, e)
			}
		}
		if !b.emu.Cached(h, "/image/"+imageID+"/other.jpg") {
			t.Errorf("%s: an unselected rendition was purged", h)
		}
	}
}

func TestTransportFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault fastlyemu.Fault
		code  string
	}{
		{"Dropped", fastlyemu.Fault{Drop: true}, "TransportError"},
		{"Malformed", fastlyemu.Fault{Malformed: true}, "MalformedResponse"},
		{"ServerError", fastlyemu.Fault{Status: 500}, "HTTP500"},
		{"Unavailable", fastlyemu.Fault{Status: 503}, "HTTP503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			b.emu.FailNext(tt.fault)
			items := b.plan(t, purge.Target{ImageID: imageID, All: true})
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
	b := setup(t, "")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	b.emu.FailNext(fastlyemu.Fault{Hold: hold})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	items := b.plan(t, purge.Target{ImageID: imageID, All: true})
	res, err := b.p.Purge(ctx, items)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Purge past its deadline = %v, want context.DeadlineExceeded", err)
	}
	if !slices.Equal(res.Remaining, items) {
		t.Errorf("Remaining = %q, want %q", res.Remaining, items)
	}
}

func TestCancelMidCall(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	arrived := make(chan struct{}, 1)
	b.emu.FailNext(fastlyemu.Fault{Hold: hold, Arrived: arrived})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := b.p.Purge(ctx, b.plan(t, purge.Target{ImageID: imageID, All: true}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge canceled mid-call = %v, want context.Canceled", err)
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	keys := setup(t, "")
	urls := setup(t, "mode: urls\nsoft: true\n", "img.example.test")
	if got := keys.p.Account(); got != "fastly:"+fastlyemu.ServiceIDDefault+":keys" {
		t.Errorf("Account = %q", got)
	}
	if got := urls.p.Account(); got != "fastly:"+fastlyemu.ServiceIDDefault+":urls:soft" {
		t.Errorf("Account = %q", got)
	}
	if keys.p.MaxItemsPerCall() != 256 || urls.p.MaxItemsPerCall() != 1 {
		t.Errorf("MaxItemsPerCall = %d, %d; want 256, 1", keys.p.MaxItemsPerCall(), urls.p.MaxItemsPerCall())
	}
}
