package cloudflare_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	cfemu "github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/providertest"
)

// TestFaults: every way a call can go wrong is one attempt, reported with
// Cloudflare's code, and says whether a retry may succeed.
func TestFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		extra      string
		fault      cfemu.Fault
		code       string
		retryable  bool
		retryAfter time.Duration
		message    string
	}{
		{"ServerError", "", cfemu.Fault{Status: 500}, "HTTP500", true, 0, "Internal Server Error"},
		{"ServiceUnavailableWithCode", "", cfemu.Fault{Status: 503, Code: 1199, Message: "try later", RetryAfter: "7"},
			"HTTP503/1199", true, 7 * time.Second, "[1199] try later"},
		{"BadGatewayHTML", "", cfemu.Fault{Status: 502, Body: "<html>bad gateway</html>"},
			"HTTP502", true, 0, "bad gateway"},
		{"MalformedSuccess", "", cfemu.Fault{Status: 200, Body: `{"success":tru`}, "MalformedResponse", true, 0, ""},
		{"SuccessFalseNoErrors", "", cfemu.Fault{Status: 200, Body: `{"success":false,"errors":[]}`},
			"Unsuccessful", false, 0, "success:false"},
		{"Unauthorized", "", cfemu.Fault{Status: 401, Code: 10001, Message: "Unable to authenticate"},
			"HTTP401/10001", false, 0, ""},
		{"Redirect", "", cfemu.Fault{Status: 301, Body: "moved"}, "HTTP301", false, 0, ""},
		{"Dropped", "", cfemu.Fault{Drop: true}, "ConnectionError", true, 0, ""},
		{"Slow", "request_timeout: 50ms", cfemu.Fault{Block: make(chan struct{})}, "Timeout", true, 0, ""},
		{"RateLimitHeaderOnly", "", cfemu.Fault{Status: 429, Body: `{"success":false,"errors":[]}`},
			"HTTP429", true, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, cfemu.Options{}, tc.extra)
			reached := make(chan struct{}, 1)
			tc.fault.Reached = reached
			b.emu.SetFaults(tc.fault)
			items := b.plan(t, all("640x360.jpg"))
			res, err := b.p.Purge(context.Background(), items)
			<-reached // the call is listed, even one the client gave up on
			pe := providertest.AsError(t, err)
			if pe.Code != tc.code || pe.Retryable != tc.retryable || pe.RetryAfter != tc.retryAfter {
				t.Errorf("error = %+v, want code %s retryable %v after %v", pe, tc.code, tc.retryable, tc.retryAfter)
			}
			if !strings.Contains(pe.Message, tc.message) || strings.Contains(pe.Message, "127.0.0.1") {
				t.Errorf("message %q: want %q in it and no URL", pe.Message, tc.message)
			}
			if !slices.Equal(res.Remaining, items) {
				t.Errorf("Remaining = %q", res.Remaining)
			}
			if n := len(b.emu.Calls()); n != 1 {
				t.Errorf("%d calls; the library must not retry", n)
			}
		})
	}
}

func TestRetryAfterForms(t *testing.T) {
	t.Parallel()
	t.Run("HTTPDate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		at := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
		b.emu.SetFaults(cfemu.Fault{Status: 429, RetryAfter: at, Code: 10100})
		_, err := b.p.Purge(context.Background(), b.plan(t, all("a.jpg")))
		if pe := providertest.AsError(t, err); pe.RetryAfter < 80*time.Second || pe.RetryAfter > 90*time.Second {
			t.Fatalf("RetryAfter = %v, want about 90s", pe.RetryAfter)
		}
	})
	t.Run("BucketRefillTime", func(t *testing.T) {
		t.Parallel()
		// The emulator's own 429 carries Retry-After and the Ratelimit
		// headers; Free refills one tag request every 12 s.
		b := setup(t, cfemu.Options{Plan: cfemu.PlanFree}, "mode: tags\ntag_template: image-{id}")
		for range 25 {
			if _, err := b.p.Purge(context.Background(), []string{"image-x"}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.p.Purge(context.Background(), []string{"image-x"})
		if pe := providertest.AsError(t, err); pe.Code != "HTTP429/10100" || pe.RetryAfter != 12*time.Second {
			t.Fatalf("error = %+v", pe)
		}
	})
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	t.Run("WhileInFlight", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		release, reached := make(chan struct{}), make(chan struct{}, 1)
		t.Cleanup(func() { close(release) })
		b.emu.SetFaults(cfemu.Fault{Block: release, Reached: reached})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-reached
			cancel()
		}()
		items := b.plan(t, all("a.jpg", "b.jpg"))
		res, err := b.p.Purge(ctx, items)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if !slices.Equal(res.Remaining, items) {
			t.Fatalf("Remaining = %q", res.Remaining)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "")
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		b.emu.SetFaults(cfemu.Fault{Block: release})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.p.Purge(ctx, b.plan(t, all("a.jpg")))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want the deadline", err)
		}
	})
}

// TestSeveralCalls: what one purge of several calls reports when some fail.
func TestSeveralCalls(t *testing.T) {
	t.Parallel()
	hosts := []string{"img.example.test", "images.example.test", "pics.example.test"}
	const oneAtATime = "concurrency: 1\nmax_files_per_call: 1"

	t.Run("RateLimitStopsLaterCalls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, oneAtATime, hosts...)
		b.emu.Enqueue(cfemu.Fault{}, cfemu.Fault{Status: 429, RetryAfter: "2", Code: 10100})
		items := b.plan(t, all("a.jpg"))
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "HTTP429/10100" || pe.RetryAfter != 2*time.Second {
			t.Fatalf("error = %+v", pe)
		}
		if !slices.Equal(res.Remaining, items[1:]) || len(b.emu.Calls()) != 2 ||
			res.Detail["calls_not_made"] != 1 {
			t.Fatalf("remaining %q, %d calls, detail %v", res.Remaining, len(b.emu.Calls()), res.Detail)
		}
	})
	t.Run("NonRetryableWins", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, oneAtATime, hosts...)
		b.emu.Enqueue(cfemu.Fault{Status: 503, RetryAfter: "2"}, cfemu.Fault{Code: 1016}, cfemu.Fault{Status: 500})
		res, err := b.p.Purge(context.Background(), b.plan(t, all("a.jpg")))
		if pe := providertest.AsError(t, err); pe.Code != "1016" || pe.Retryable {
			t.Fatalf("error = %+v", pe)
		}
		if len(res.Remaining) != 3 || res.Detail["calls_failed"] != 3 {
			t.Fatalf("remaining %q, detail %v", res.Remaining, res.Detail)
		}
	})
	t.Run("LongestRetryAfterWins", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, oneAtATime, hosts...)
		b.emu.Enqueue(cfemu.Fault{Status: 503, RetryAfter: "2"}, cfemu.Fault{}, cfemu.Fault{Status: 503, RetryAfter: "5"})
		items := b.plan(t, all("a.jpg"))
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "HTTP503" || pe.RetryAfter != 5*time.Second {
			t.Fatalf("error = %+v", pe)
		}
		if want := []string{items[0], items[2]}; !slices.Equal(res.Remaining, want) {
			t.Fatalf("Remaining = %q, want %q", res.Remaining, want)
		}
	})
	t.Run("Parallel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, cfemu.Options{}, "max_files_per_call: 1\nconcurrency: 3", hosts...)
		release, reached := make(chan struct{}), make(chan struct{}, 3)
		b.emu.SetFaults(cfemu.Fault{Block: release, Reached: reached})
		done := make(chan error)
		go func() {
			_, err := b.p.Purge(context.Background(), b.plan(t, all("a.jpg")))
			done <- err
		}()
		// All three calls are held at once: they run in parallel.
		for range 3 {
			<-reached
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestInvalidItems: an item Cloudflare would refuse (journaled under an
// older configuration) fails alone; the others are purged.
func TestInvalidItems(t *testing.T) {
	t.Parallel()
	b := setup(t, cfemu.Options{}, "")
	good := fileURL("img.example.test", imageID, "a.jpg")
	bad := []string{"https://img.other.test/image/a.jpg", "img.example.test/image/x/", "https://img.example.test/a b"}
	res, err := b.p.Purge(context.Background(), append([]string{good}, bad...))
	if pe := providertest.AsError(t, err); pe.Code != "InvalidItem" || pe.Retryable {
		t.Fatalf("error = %+v", pe)
	}
	if !slices.Equal(res.Remaining, bad) || !slices.Equal(b.emu.Purged(), []string{good}) {
		t.Fatalf("remaining %q, purged %q", res.Remaining, b.emu.Purged())
	}
}

func TestGlobalKeyAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, cfemu.Options{Keys: map[string]string{"ops@example.test": "0123abcd"}},
		"api_email: ops@example.test\napi_key: 0123abcd")
	if _, err := b.p.Purge(context.Background(), b.plan(t, all("a.jpg"))); err != nil {
		t.Fatal(err)
	}
	if c := b.emu.Calls(); len(c) != 1 || c[0].Auth != "key" {
		t.Fatalf("calls = %+v", c)
	}
}

func TestDuplicatesSentOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, cfemu.Options{}, "", "img.example.test", "IMG.example.test", "images.example.test")
	items := b.plan(t, all("a.jpg"))
	if len(items) != 2 {
		t.Fatalf("Plan = %q, want one URL per distinct host", items)
	}
	if _, err := b.p.Purge(context.Background(), append(items, items...)); err != nil {
		t.Fatal(err)
	}
	if got := b.emu.Purged(); !slices.Equal(got, items) {
		t.Fatalf("sent %q", got)
	}
}

func TestEmptyPurge(t *testing.T) {
	t.Parallel()
	b := setup(t, cfemu.Options{}, "")
	if res, err := b.p.Purge(context.Background(), nil); err != nil || len(res.Remaining) != 0 {
		t.Fatalf("%v %v", res, err)
	}
	if len(b.emu.Calls()) != 0 {
		t.Fatal("an empty purge made a call")
	}
}
