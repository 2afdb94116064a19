package akamai_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/akamai"
	"github.com/imgpurge/imgpurge/internal/providertest"
)

type fixture struct {
	emu *akamai.Emulator
	srv *httptest.Server
	clk *providertest.Clock
}

func setup(t *testing.T, opts akamai.Options) *fixture {
	t.Helper()
	clk := providertest.NewClock(time.Now())
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	emu := akamai.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &fixture{emu: emu, srv: srv, clk: clk}
}

var nonces atomic.Int64

// sign is a minimal EdgeGrid signer for driving the emulator directly.
func sign(req *http.Request, body []byte, secret string, at time.Time) {
	ts := at.UTC().Format("20060102T15:04:05+0000")
	head := fmt.Sprintf("EG1-HMAC-SHA256 client_token=%s;access_token=%s;timestamp=%s;nonce=n-%d;",
		akamai.ClientTokenDefault, akamai.AccessTokenDefault, ts, nonces.Add(1))
	hash := ""
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		hash = base64.StdEncoding.EncodeToString(sum[:])
	}
	data := strings.Join([]string{req.Method, "http", req.URL.Host, req.URL.RequestURI(), "", hash, head}, "\t")
	mac := func(key, msg string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	req.Header.Set("Authorization", head+"signature="+mac(mac(secret, ts), data))
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (f *fixture) send(t *testing.T, method, path, body string, edit func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sign(req, []byte(body), akamai.ClientSecretDefault, f.clk.Now())
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", raw, err)
	}
	return a
}

func objects(items ...any) string {
	b, _ := json.Marshal(map[string]any{"objects": items})
	return string(b)
}

const urlPath = "/ccu/v3/invalidate/url/production"

func TestAccepted(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	a := f.send(t, "POST", urlPath, objects("https://img.example.test/a.jpg"), nil)
	if a.status != 201 || a.body["estimatedSeconds"] != 5.0 || a.body["purgeId"] == nil ||
		a.body["supportId"] == nil || a.body["httpStatus"] != 201.0 {
		t.Errorf("answer %d %v, want 201 with estimatedSeconds 5, purgeId and supportId", a.status, a.body)
	}
	if a.header.Get("X-Ratelimit-Remaining-Objects") != "9999" {
		t.Errorf("X-Ratelimit-Remaining-Objects = %q, want 9999", a.header.Get("X-Ratelimit-Remaining-Objects"))
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	big := make([]any, 0, 400)
	for i := range cap(big) {
		big = append(big, fmt.Sprintf("https://img.example.test/%0120d", i))
	}
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"OverFiftyKB", "POST", urlPath, objects(big...), 413},
		{"Wildcard", "POST", urlPath, objects("https://img.example.test/image/*"), 400},
		{"RelativeURL", "POST", urlPath, objects("/image/a.jpg"), 400},
		{"RawSpace", "POST", urlPath, objects("https://img.example.test/a b.jpg"), 400},
		{"NumberInURLRequest", "POST", urlPath, objects(12345), 400},
		{"URLInTagRequest", "POST", "/ccu/v3/invalidate/tag/production", objects("https://x/a"), 400},
		{"StringCPCode", "POST", "/ccu/v3/delete/cpcode/staging", objects("12345"), 400},
		{"EmptyObjects", "POST", urlPath, objects(), 400},
		{"HostnameForm", "POST", urlPath, `{"hostname":"x","objects":["/a"]}`, 400},
		{"NotJSON", "POST", urlPath, `{"objects":`, 400},
		{"UnknownType", "POST", "/ccu/v3/invalidate/arl/production", objects("x"), 404},
		{"UnknownNetwork", "POST", "/ccu/v3/invalidate/url/prod", objects("x"), 404},
		{"Get", "GET", urlPath, "", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.send(t, tt.method, tt.path, tt.body, nil)
			if a.status != tt.status || a.body["httpStatus"] != float64(tt.status) ||
				a.body["title"] == nil || a.body["detail"] == nil || a.body["supportId"] == nil || a.body["describedBy"] == nil {
				t.Errorf("answer %d %v, want %d with a full problem body", a.status, a.body, tt.status)
			}
		})
	}
	a := f.send(t, "POST", urlPath, objects("https://x/a"), func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
	if a.status != 415 {
		t.Errorf("text/plain body: %d, want 415 (Content-Type is not signed, so this passes authentication)", a.status)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	body := objects("https://img.example.test/a.jpg")
	tests := []struct {
		name   string
		edit   func(*http.Request)
		status int
		detail string
	}{
		{"Missing", func(r *http.Request) { r.Header.Del("Authorization") }, 401, "missing"},
		{"WrongSecret", func(r *http.Request) { sign(r, []byte(body), "d3Jvbmc=", f.clk.Now()) },
			401, "signature does not match"},
		{"Skewed", func(r *http.Request) {
			sign(r, []byte(body), akamai.ClientSecretDefault, f.clk.Now().Add(-10*time.Minute))
		}, 401, "clock skew"},
		{"BadTimestamp", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "+0000", "Z", 1))
		}, 400, "Invalid timestamp"},
		{"TamperedPath", func(r *http.Request) { r.URL.Path = "/ccu/v3/delete/url/production" },
			401, "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := f.send(t, "POST", urlPath, body, tt.edit)
			if a.status != tt.status || !strings.Contains(fmt.Sprint(a.body["detail"]), tt.detail) {
				t.Errorf("answer %d %v, want %d saying %q", a.status, a.body, tt.status, tt.detail)
			}
		})
	}
}

func TestReplayedNonceIsRefused(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	body := objects("https://img.example.test/a.jpg")
	var auth string
	if a := f.send(t, "POST", urlPath, body, func(r *http.Request) { auth = r.Header.Get("Authorization") }); a.status != 201 {
		t.Fatalf("first request %d", a.status)
	}
	a := f.send(t, "POST", urlPath, body, func(r *http.Request) { r.Header.Set("Authorization", auth) })
	if a.status != 401 || !strings.Contains(fmt.Sprint(a.body["detail"]), "nonce") {
		t.Errorf("replay: %d %v, want 401 about the nonce", a.status, a.body)
	}
}

func TestBucketsRefuseWithoutSpending(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{Limits: akamai.Limits{Tags: akamai.Bucket{Burst: 3, PerSecond: 1}}})
	const tagPath = "/ccu/v3/invalidate/tag/production"
	if a := f.send(t, "POST", tagPath, objects("a", "b"), nil); a.status != 201 {
		t.Fatalf("2 tags: %d", a.status)
	}
	a := f.send(t, "POST", tagPath, objects("c", "d"), nil)
	if a.status != 429 || a.body["title"] != "Tag Rate Limit exceeded" || a.body["rateLimit"] != 3.0 ||
		a.body["rateLimitCurrentRequestSize"] != 2.0 || a.body["rateLimitRemaining"] != 1.0 {
		t.Errorf("2 more tags: %d %v, want 429 with the rateLimit fields", a.status, a.body)
	}
	for h, want := range map[string]string{
		"X-Ratelimit-Limit": "100", "X-Ratelimit-Limit-Per-Second": "50.00",
		"X-Ratelimit-Limit-Objects": "3", "X-Ratelimit-Remaining-Objects": "1",
		"X-Ratelimit-Limit-Per-Second-Objects": "1.00",
	} {
		if got := a.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// The refused request spent nothing: one tag still fits.
	if a := f.send(t, "POST", tagPath, objects("e"), nil); a.status != 201 {
		t.Errorf("1 tag after a refusal: %d, want 201", a.status)
	}
	f.clk.Add(2 * time.Second)
	if a := f.send(t, "POST", tagPath, objects("c", "d"), nil); a.status != 201 {
		t.Errorf("2 tags after refilling: %d, want 201", a.status)
	}
	// URLs draw on their own bucket.
	if a := f.send(t, "POST", urlPath, objects("https://x/a"), nil); a.status != 201 {
		t.Errorf("a URL while tags are short: %d, want 201", a.status)
	}
}

func TestRequestBucket(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{Limits: akamai.Limits{Requests: akamai.Bucket{Burst: 1, PerSecond: 1}}})
	f.send(t, "POST", urlPath, objects("https://x/a"), nil)
	a := f.send(t, "POST", urlPath, objects("https://x/b"), nil)
	if a.status != 429 || a.body["title"] != "Rate Limit exceeded" || a.header.Get("X-Ratelimit-Remaining") != "0" {
		t.Errorf("second request: %d %v %v, want 429 Rate Limit exceeded", a.status, a.body, a.header)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	const a, b = "https://img.example.test/a.jpg", "https://img.example.test/b.jpg"
	f.emu.Seed("production", a, "t1")
	f.emu.Seed("production", b, "t2")
	f.emu.Seed("staging", a, "t1")
	f.send(t, "POST", urlPath, objects("http://IMG.example.test/a.jpg"), nil)
	if !f.emu.Stale("production", a) || !f.emu.Cached("staging", a) {
		t.Error("an invalidation by the other scheme must mark the production copy stale, and only it")
	}
	f.send(t, "POST", "/ccu/v3/delete/tag/production", objects("t2"), nil)
	if f.emu.Cached("production", b) || f.emu.Stale("production", b) {
		t.Error("a delete by tag must evict the object")
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	f := setup(t, akamai.Options{})
	f.emu.FailNext(akamai.Fault{Status: 503}, akamai.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
	f.emu.FailWhen(akamai.NamesAny("https://x/bad"), akamai.Fault{Status: 403, Title: "unauthorized arl"})
	a := f.send(t, "POST", urlPath, objects("https://x/a"), nil)
	if a.status != 503 || a.body["title"] != "Service Unavailable" {
		t.Errorf("first: %d %v", a.status, a.body)
	}
	a = f.send(t, "POST", urlPath, objects("https://x/a"), nil)
	if a.status != 429 || a.header.Get("Retry-After") != "2" || a.header.Get("X-Ratelimit-Limit") != "100" {
		t.Errorf("second: %d %v, want 429 with Retry-After 2 and bucket headers", a.status, a.header)
	}
	a = f.send(t, "POST", urlPath, objects("https://x/ok", "https://x/bad"), nil)
	if a.status != 403 || a.body["title"] != "unauthorized arl" {
		t.Errorf("rule: %d %v, want the whole request refused with 403", a.status, a.body)
	}
	calls := f.emu.Calls()
	if len(calls) != 3 || calls[2].Title != "unauthorized arl" || len(calls[2].Objects) != 2 {
		t.Errorf("recorded calls: %+v", calls)
	}
}
