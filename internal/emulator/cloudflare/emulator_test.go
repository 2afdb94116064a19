package cloudflare_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
)

const purgePath = "/client/v4/zones/" + cfemu.DefaultZoneID + "/purge_cache"

type answer struct {
	Status  int
	Header  http.Header
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result *struct {
		ID string `json:"id"`
	} `json:"result"`
}

func (a answer) code() int {
	if len(a.Errors) == 0 {
		return 0
	}
	return a.Errors[0].Code
}

func setup(t *testing.T, opts cfemu.Options) (*cfemu.Emulator, *httptest.Server) {
	t.Helper()
	emu := cfemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

func post(t *testing.T, srv *httptest.Server, path, body string, header map[string]string) answer {
	t.Helper()
	a, err := do(srv, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// do is post for goroutines other than the test's own.
func do(srv *httptest.Server, path, body string, header map[string]string) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if header == nil {
		header = map[string]string{"Authorization": "Bearer " + cfemu.DefaultToken}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("answer %q is not the JSON envelope: %w", raw, err)
	}
	return a, nil
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, cfemu.Options{Keys: map[string]string{"ops@example.test": "k3y"}, Tokens: []string{"tok"}})
	body := `{"tags":["a"]}`
	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		code   int
	}{
		{"Token", map[string]string{"Authorization": "Bearer tok"}, 200, 0},
		{"Key", map[string]string{"X-Auth-Email": "ops@example.test", "X-Auth-Key": "k3y"}, 200, 0},
		{"None", map[string]string{}, 400, cfemu.CodeMissingAuth},
		{"NotBearer", map[string]string{"Authorization": "Basic dG9r"}, 400, cfemu.CodeBadHeaders},
		{"WrongToken", map[string]string{"Authorization": "Bearer nope"}, 403, cfemu.CodeAuthentication},
		{"WrongKey", map[string]string{"X-Auth-Email": "ops@example.test", "X-Auth-Key": "x"}, 403, cfemu.CodeAuthentication},
		{"KeyWithoutEmail", map[string]string{"X-Auth-Key": "k3y"}, 400, cfemu.CodeBadHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := post(t, srv, purgePath, body, tc.header)
			if a.Status != tc.status || a.code() != tc.code || a.Success != (tc.status == 200) {
				t.Fatalf("got %d code %d success %v, want %d code %d", a.Status, a.code(), a.Success, tc.status, tc.code)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, cfemu.Options{})
	const tags = `{"tags":["a"]}`
	a := post(t, srv, "/client/v4/zones/not-an-id/purge_cache", tags, nil)
	if a.Status != 400 || a.code() != cfemu.CodeBadZoneID {
		t.Errorf("malformed zone id: %d %d", a.Status, a.code())
	}
	if a := post(t, srv, "/client/v4/zones/"+strings.Repeat("ab", 16)+"/purge_cache", tags, nil); a.Status != 403 {
		t.Errorf("unknown zone: %d %d", a.Status, a.code())
	}
	if a := post(t, srv, "/client/v4/zones", `{}`, nil); a.Status != 404 || a.code() != cfemu.CodeNoRoute {
		t.Errorf("unknown route: %d %d", a.Status, a.code())
	}
	resp, err := srv.Client().Get(srv.URL + purgePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestBodyValidation(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, cfemu.Options{})
	id := "1e8a9135-5976-4de8-9c27-64cc33bf9baa"
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"Empty", `{}`, cfemu.CodeNoKind},
		{"EverythingFalse", `{"purge_everything":false}`, cfemu.CodeNoKind},
		{"EmptyList", `{"files":[]}`, cfemu.CodeNoKind},
		{"TwoKinds", `{"files":["https://img.example.test/a"],"tags":["a"]}`, cfemu.CodeNoKind},
		{"FilesNotArray", `{"files":"https://img.example.test/a"}`, cfemu.CodeNotArray},
		{"TagsNotArray", `{"tags":{"a":1}}`, cfemu.CodeNotArray},
		{"NotJSON", `files=a`, cfemu.CodeMalformedJSON},
		{"PathOnly", `{"files":["/image/` + id + `/a.jpg"]}`, cfemu.CodeInvalidItem},
		{"NoScheme", `{"files":["img.example.test/image/a.jpg"]}`, cfemu.CodeInvalidItem},
		{"RawSpace", `{"files":["https://img.example.test/image/café 640.jpg"]}`, cfemu.CodeInvalidItem},
		{"RawNonASCII", `{"files":["https://img.example.test/image/café.jpg"]}`, cfemu.CodeInvalidItem},
		{"BadEscape", `{"files":["https://img.example.test/image/a%2.jpg"]}`, cfemu.CodeInvalidItem},
		{"OtherZone", `{"files":["https://img.other.test/image/a.jpg"]}`, cfemu.CodeInvalidItem},
		{"ZoneSuffixOnly", `{"files":["https://notexample.test/a.jpg"]}`, cfemu.CodeInvalidItem},
		{"PrefixWithScheme", `{"prefixes":["https://img.example.test/image/"]}`, cfemu.CodeInvalidItem},
		{"PrefixWithQuery", `{"prefixes":["img.example.test/image/?a=1"]}`, cfemu.CodeInvalidItem},
		{"HostWithPath", `{"hosts":["img.example.test/x"]}`, cfemu.CodeInvalidItem},
		{"TagWithComma", `{"tags":["a,b"]}`, cfemu.CodeInvalidItem},
		{"NumberItem", `{"tags":[1]}`, cfemu.CodeInvalidItem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := post(t, srv, purgePath, tc.body, nil)
			if a.Status != 400 || a.Success || a.code() != tc.code {
				t.Fatalf("got %d success %v code %d, want 400 code %d", a.Status, a.Success, a.code(), tc.code)
			}
		})
	}
	for _, body := range []string{
		`{"files":["https://img.example.test/image/caf%C3%A9%20640.jpg"]}`,
		`{"files":[{"url":"https://example.test/a.jpg","headers":{"CF-IPCountry":"US"}}]}`,
		`{"prefixes":["img.example.test/image/` + id + `/"]}`,
		`{"hosts":["img.example.test"]}`,
		`{"purge_everything":true}`,
	} {
		if a := post(t, srv, purgePath, body, nil); a.Status != 200 || !a.Success {
			t.Errorf("%s refused: %d %v", body, a.Status, a.Errors)
		}
	}
}

func TestSuccessEnvelope(t *testing.T) {
	t.Parallel()
	emu, srv := setup(t, cfemu.Options{})
	a := post(t, srv, purgePath, `{"files":["https://img.example.test/a.jpg"]}`, nil)
	if a.Result == nil || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a.Result.ID) {
		t.Fatalf("result = %+v, want a 32 hex id", a.Result)
	}
	if a.Header.Get("Ratelimit") == "" || a.Header.Get("Ratelimit-Policy") == "" {
		t.Errorf("missing Ratelimit headers: %v", a.Header)
	}
	calls := emu.Calls()
	if len(calls) != 1 || calls[0].PurgeID != a.Result.ID || calls[0].Auth != "token" ||
		calls[0].Kind != cfemu.KindFiles {
		t.Fatalf("recorded %+v", calls)
	}
	if got := emu.Purged(); len(got) != 1 || got[0] != "https://img.example.test/a.jpg" {
		t.Errorf("Purged = %q", got)
	}
}

func TestPerCallLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   cfemu.Options
		status int
	}{
		{"Refused400", cfemu.Options{}, 400},
		{"SuccessFalse200", cfemu.Options{RefusedStatus: 200}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := setup(t, tc.opts)
			files := func(n int) string {
				urls := make([]string, n)
				for i := range urls {
					urls[i] = `"https://img.example.test/` + strings.Repeat("a", i+1) + `"`
				}
				return `{"files":[` + strings.Join(urls, ",") + `]}`
			}
			if a := post(t, srv, purgePath, files(30), nil); !a.Success {
				t.Fatalf("30 files refused: %v", a.Errors)
			}
			a := post(t, srv, purgePath, files(31), nil)
			if a.Success || a.Status != tc.status || a.code() != cfemu.CodeTooManyItems {
				t.Fatalf("31 files: %d success %v code %d", a.Status, a.Success, a.code())
			}
			tags := make([]string, 101)
			for i := range tags {
				tags[i] = `"t` + strings.Repeat("x", i) + `"`
			}
			if a := post(t, srv, purgePath, `{"tags":[`+strings.Join(tags[:100], ",")+`]}`, nil); !a.Success {
				t.Fatalf("100 tags refused: %v", a.Errors)
			}
			if a := post(t, srv, purgePath, `{"tags":[`+strings.Join(tags, ",")+`]}`, nil); a.Success {
				t.Fatal("101 tags accepted")
			}
		})
	}
}

func TestEnterpriseFilesPerCall(t *testing.T) {
	t.Parallel()
	_, srv := setup(t, cfemu.Options{Plan: cfemu.PlanEnterprise})
	urls := make([]string, 501)
	for i := range urls {
		urls[i] = fmt.Sprintf(`"https://example.test/%d"`, i)
	}
	if a := post(t, srv, purgePath, `{"files":[`+strings.Join(urls[:500], ",")+`]}`, nil); !a.Success {
		t.Fatalf("500 files refused: %v", a.Errors)
	}
	if a := post(t, srv, purgePath, `{"files":[`+strings.Join(urls, ",")+`]}`, nil); a.code() != cfemu.CodeTooManyItems {
		t.Fatalf("501 files: %d %v", a.Status, a.Errors)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("BulkBucket", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{Plan: cfemu.PlanFree})
		for i := range 25 {
			if a := post(t, srv, purgePath, `{"tags":["a"]}`, nil); !a.Success {
				t.Fatalf("call %d refused: %d %v", i+1, a.Status, a.Errors)
			}
		}
		a := post(t, srv, purgePath, `{"tags":["a"]}`, nil)
		if a.Status != 429 || a.Success || a.code() != cfemu.CodeRateLimited {
			t.Fatalf("26th call: %d %v", a.Status, a.Errors)
		}
		// Free refills 5 a minute: one token every 12 s.
		if ra := a.Header.Get("Retry-After"); ra != "12" {
			t.Errorf("Retry-After = %q, want 12", ra)
		}
		if !strings.Contains(a.Header.Get("Ratelimit"), "r=0") ||
			a.Header.Get("Ratelimit-Policy") != `"burst";q=25;w=300` {
			t.Errorf("Ratelimit = %q, policy %q", a.Header.Get("Ratelimit"), a.Header.Get("Ratelimit-Policy"))
		}
		emu.Advance(12 * time.Second)
		if a := post(t, srv, purgePath, `{"tags":["a"]}`, nil); !a.Success {
			t.Fatalf("after the refill: %d %v", a.Status, a.Errors)
		}
	})
	t.Run("URLBucket", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{Limits: &cfemu.Limits{BulkRate: 1, BulkBurst: 1, URLRate: 10, URLBurst: 2}})
		body := `{"files":["https://example.test/a","https://example.test/b"]}`
		if a := post(t, srv, purgePath, body, nil); !a.Success {
			t.Fatalf("first: %v", a.Errors)
		}
		a := post(t, srv, purgePath, body, nil)
		if a.Status != 429 || a.Header.Get("Retry-After") != "1" {
			t.Fatalf("second: %d Retry-After %q", a.Status, a.Header.Get("Retry-After"))
		}
		// The refused call used no tokens: 200 ms later both are back.
		emu.Advance(200 * time.Millisecond)
		if a := post(t, srv, purgePath, body, nil); !a.Success {
			t.Fatalf("third: %d %v", a.Status, a.Errors)
		}
	})
}

func TestCache(t *testing.T) {
	t.Parallel()
	const base = "https://img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa/"
	seed := func(emu *cfemu.Emulator) {
		emu.Store(base+"caf%c3%a9.jpg", "image-1")
		emu.Store(base+"640x360.jpg", "Image-1")
		emu.Store("https://img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa0/640x360.jpg", "image-2")
		emu.Store("https://images.example.test/image/x/640x360.jpg", "image-3")
		emu.Store("https://img.other.test/image/x/640x360.jpg", "image-1")
	}
	for _, tc := range []struct {
		name, body string
		gone, kept []string
	}{
		{"FileNormalized",
			`{"files":["HTTPS://IMG.example.test:443/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa/caf%C3%A9.jpg"]}`,
			[]string{base + "caf%C3%A9.jpg"}, []string{base + "640x360.jpg"}},
		{"FileEscapedUnreserved",
			`{"files":["https://img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa/640x360%2Ejpg"]}`,
			[]string{base + "640x360.jpg"}, []string{base + "caf%C3%A9.jpg"}},
		{"PrefixWithSlash", `{"prefixes":["img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa/"]}`,
			[]string{base + "640x360.jpg", base + "caf%C3%A9.jpg"},
			[]string{"https://img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa0/640x360.jpg"}},
		{"PrefixWithoutSlashReachesFurther", `{"prefixes":["img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa"]}`,
			[]string{"https://img.example.test/image/1e8a9135-5976-4de8-9c27-64cc33bf9baa0/640x360.jpg"}, nil},
		{"TagCaseInsensitive", `{"tags":["IMAGE-1"]}`,
			[]string{base + "640x360.jpg", base + "caf%C3%A9.jpg"},
			[]string{"https://img.other.test/image/x/640x360.jpg"}},
		{"Host", `{"hosts":["images.example.test"]}`,
			[]string{"https://images.example.test/image/x/640x360.jpg"}, []string{base + "640x360.jpg"}},
		{"Everything", `{"purge_everything":true}`,
			[]string{base + "640x360.jpg", "https://images.example.test/image/x/640x360.jpg"},
			[]string{"https://img.other.test/image/x/640x360.jpg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, srv := setup(t, cfemu.Options{})
			seed(emu)
			if a := post(t, srv, purgePath, tc.body, nil); !a.Success {
				t.Fatalf("refused: %v", a.Errors)
			}
			for _, u := range tc.gone {
				if emu.Cached(u) {
					t.Errorf("%s still cached", u)
				}
			}
			for _, u := range tc.kept {
				if !emu.Cached(u) {
					t.Errorf("%s evicted", u)
				}
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("Sequence", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{})
		emu.Enqueue(cfemu.Fault{}, cfemu.Fault{Status: 429, RetryAfter: "1", Code: 971, Message: "slow down"})
		want := []int{200, 429, 200}
		for i, status := range want {
			a := post(t, srv, purgePath, `{"tags":["a"]}`, nil)
			if a.Status != status {
				t.Fatalf("call %d: %d, want %d", i+1, a.Status, status)
			}
			if status == 429 && (a.Header.Get("Retry-After") != "1" || a.code() != 971) {
				t.Errorf("fault answer: %v %v", a.Header, a.Errors)
			}
		}
		if c := emu.Calls(); !c[1].Faulted || c[0].Faulted {
			t.Errorf("Faulted flags: %v %v", c[0].Faulted, c[1].Faulted)
		}
	})
	t.Run("SuccessFalseForItems", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{})
		emu.SetFaults(cfemu.Fault{Items: []string{"bad"}, Code: 1016, Message: "refused"})
		if a := post(t, srv, purgePath, `{"tags":["good"]}`, nil); !a.Success {
			t.Fatal("unmatched call failed")
		}
		for range 2 {
			a := post(t, srv, purgePath, `{"tags":["good","bad"]}`, nil)
			if a.Status != 200 || a.Success || a.code() != 1016 {
				t.Fatalf("matched call: %d %v %v", a.Status, a.Success, a.Errors)
			}
		}
	})
	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{})
		emu.Enqueue(cfemu.Fault{Drop: true})
		resp, err := srv.Client().Post(srv.URL+purgePath, "application/json", strings.NewReader(`{"tags":["a"]}`))
		if err == nil {
			resp.Body.Close()
			t.Fatal("dropped connection answered")
		}
		if c := emu.Calls(); len(c) != 1 || !c[0].Dropped {
			t.Errorf("calls = %+v", c)
		}
	})
	t.Run("MalformedBody", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{})
		emu.Enqueue(cfemu.Fault{Status: 502, Body: "<html>bad gateway</html>"})
		resp, err := srv.Client().Post(srv.URL+purgePath, "application/json", strings.NewReader(`{"tags":["a"]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 502 || string(raw) != "<html>bad gateway</html>" {
			t.Fatalf("%d %q", resp.StatusCode, raw)
		}
	})
	t.Run("BlockUntilReleased", func(t *testing.T) {
		t.Parallel()
		emu, srv := setup(t, cfemu.Options{})
		release, reached := make(chan struct{}), make(chan struct{}, 1)
		emu.Enqueue(cfemu.Fault{Block: release, Reached: reached})
		done := make(chan answer)
		go func() {
			a, _ := do(srv, purgePath, `{"tags":["a"]}`, nil)
			done <- a
		}()
		<-reached
		select {
		case <-done:
			t.Fatal("answered before the release")
		default:
		}
		close(release)
		if a := <-done; !a.Success {
			t.Fatalf("released call: %v", a.Errors)
		}
	})
}

func TestStorePanicsOnRelativeURL(t *testing.T) {
	t.Parallel()
	emu := cfemu.New(cfemu.Options{})
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	emu.Store("/image/a.jpg")
}
