package cloudfront_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	emu "github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/providertest"
	"github.com/imgpurge/imgpurge/providers/cloudfront"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	// One path per call lets CloudFront refuse one rendition's call while
	// the other's succeeds, which is what PartialFailure needs.
	t.Run("OnePathPerCall", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, harness("max_paths_per_call: 1\n", true))
	})
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		providertest.Run(t, harness("", false))
	})
}

func harness(extra string, partial bool) providertest.Harness {
	return func(t *testing.T) *providertest.Backend {
		b := setup(t, emuOptions(), extra)
		be := &providertest.Backend{
			Provider: b.p,
			Seed: func(t *testing.T, id string, renditions ...string) {
				for _, r := range renditions {
					b.emu.Seed(dist, viewerPath(id, r))
				}
			},
			Held: func(t *testing.T, id, r string) bool { return b.emu.Held(dist, viewerPath(id, r)) },
		}
		if partial {
			be.FailItems = func(t *testing.T, id string, renditions ...string) string {
				for _, r := range renditions {
					b.emu.FailPaths("InvalidArgument", viewerPath(id, r))
				}
				return "InvalidArgument"
			}
		}
		return be
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     emu.Fault
		code      string
		retryable bool
		// refKept: the outcome is unknown, so the retry must reuse the
		// reference.
		refKept bool
	}{
		{"Throttling", emu.Throttling(), "Throttling", true, false},
		{"TooManyInProgress", emu.TooManyInProgress(), "TooManyInvalidationsInProgress", true, false},
		{"ServiceUnavailable", emu.ServiceUnavailable(), "ServiceUnavailable", true, true},
		{"InternalError", emu.Fault{Code: "InternalError"}, "InternalError", true, true},
		{"InvalidArgument", emu.Fault{Code: "InvalidArgument"}, "InvalidArgument", false, false},
		{"AccessDenied", emu.Fault{Code: "AccessDenied"}, "AccessDenied", false, false},
		{"NoSuchDistribution", emu.Fault{Code: "NoSuchDistribution"}, "NoSuchDistribution", false, false},
		{"BatchTooLarge", emu.Fault{Code: "BatchTooLarge"}, "BatchTooLarge", false, false},
		{"InconsistentQuantities", emu.Fault{Code: "InconsistentQuantities"}, "InconsistentQuantities", false, false},
		{"Dropped", emu.Fault{Drop: true}, "ConnectionError", true, true},
		{"MalformedError", emu.Fault{Malformed: true, Status: 500}, "MalformedResponse", true, true},
		{"RetryAfterHonoured", emu.Fault{Code: "Throttling", RetryAfter: "7"}, "Throttling", true, false},
		// Retryable by its status alone, as purge.RetryableStatus has it.
		{"RequestTimeout408", emu.Fault{Status: 408, Code: "RequestTimeout"}, "RequestTimeout", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emuOptions(), "")
			b.emu.SetFault(&tc.fault)
			items := b.plan(t, "640x360.jpg")
			res, err := b.p.Purge(context.Background(), items)
			pe := providertest.AsError(t, err)
			if pe.Code != tc.code || pe.Retryable != tc.retryable {
				t.Fatalf("got %s retryable=%v, want %s retryable=%v (%v)",
					pe.Code, pe.Retryable, tc.code, tc.retryable, err)
			}
			if kept := strings.HasPrefix(res.Remaining[0], "ref:"); kept != tc.refKept {
				t.Errorf("Remaining = %q: reference kept %v, want %v", res.Remaining, kept, tc.refKept)
			}
			if !slices.Contains(res.Remaining, items[0]) {
				t.Errorf("Remaining = %q lacks the path", res.Remaining)
			}
			// The SDK's retryer is off: one call, whatever the answer.
			if n := len(b.creates()); n != 1 {
				t.Errorf("%d calls reached the emulator, want 1", n)
			}
			if tc.fault.RetryAfter != "" && pe.RetryAfter != 7*time.Second {
				t.Errorf("RetryAfter = %v, want 7s", pe.RetryAfter)
			}
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{Credentials: map[string]string{emu.TestAccessKeyID: "other-secret"}}, "")
	_, err := b.p.Purge(context.Background(), b.plan(t, "a.jpg"))
	if pe := providertest.AsError(t, err); pe.Code != "SignatureDoesNotMatch" || pe.Retryable {
		t.Fatalf("got %s retryable=%v", pe.Code, pe.Retryable)
	}
}

func TestUnknownDistribution(t *testing.T) {
	t.Parallel()
	b := setup(t, emu.Options{Distributions: []string{"EOTHER"}}, "")
	_, err := b.p.Purge(context.Background(), b.plan(t, "a.jpg"))
	if pe := providertest.AsError(t, err); pe.Code != "NoSuchDistribution" || pe.Retryable {
		t.Fatalf("got %s retryable=%v", pe.Code, pe.Retryable)
	}
}

func TestSplitsIntoCalls(t *testing.T) {
	t.Parallel()
	t.Run("AllSucceed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "max_paths_per_call: 2\n")
		items := b.plan(t, names(5)...)
		res, err := b.p.Purge(context.Background(), items)
		if err != nil {
			t.Fatal(err)
		}
		var sent []string
		for _, c := range b.created() {
			if len(c) > 2 {
				t.Errorf("a call carried %d paths", len(c))
			}
			sent = append(sent, c...)
		}
		if !slices.Equal(sent, items) || res.Detail["calls"] != 3 || res.Detail["paths"] != 5 {
			t.Fatalf("sent %q, detail %v", sent, res.Detail)
		}
		if ids := res.Detail["invalidation_ids"].([]string); len(ids) != 3 {
			t.Fatalf("invalidation_ids = %q", ids)
		}
	})
	t.Run("QuotaStopsLaterCalls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "max_paths_per_call: 2\n")
		b.emu.Enqueue(emu.Fault{}, emu.TooManyInProgress())
		items := b.plan(t, names(5)...)
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "TooManyInvalidationsInProgress" || !pe.Retryable {
			t.Fatalf("err = %v", err)
		}
		if !slices.Equal(res.Remaining, items[2:]) {
			t.Fatalf("Remaining = %q, want %q", res.Remaining, items[2:])
		}
		if n := len(b.creates()); n != 2 {
			t.Fatalf("%d calls, want 2: the third would meet the same quota", n)
		}
	})
	t.Run("NonRetryableWinsOverRetryable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "max_paths_per_call: 1\n")
		b.emu.Enqueue(emu.ServiceUnavailable(), emu.Fault{Code: "AccessDenied"}, emu.Fault{})
		items := b.plan(t, names(3)...)
		res, err := b.p.Purge(context.Background(), items)
		if pe := providertest.AsError(t, err); pe.Code != "AccessDenied" {
			t.Fatalf("err = %v, want the AccessDenied an operator must fix", err)
		}
		// Refused paths first, then the 503 call under its reference.
		want := []string{items[1], "ref:", items[0]}
		if len(res.Remaining) != 3 || res.Remaining[0] != want[0] ||
			!strings.HasPrefix(res.Remaining[1], want[1]) || res.Remaining[2] != want[2] {
			t.Fatalf("Remaining = %q", res.Remaining)
		}
	})
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	t.Run("WhileWaiting", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		arrived := make(chan struct{}, 1)
		b.emu.SetFault(&emu.Fault{Arrived: arrived, Block: make(chan struct{})})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		items := b.plan(t, "a.jpg")
		res, err := b.p.Purge(ctx, items)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if len(res.Remaining) != 2 || !strings.HasPrefix(res.Remaining[0], "ref:") {
			t.Fatalf("Remaining = %q: a call cut short may have been created", res.Remaining)
		}
	})
	t.Run("SlowAnswerPastDeadline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emuOptions(), "")
		b.emu.SetFault(&emu.Fault{Delay: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.p.Purge(ctx, b.plan(t, "a.jpg"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestInvalidItems(t *testing.T) {
	t.Parallel()
	b := setup(t, emuOptions(), "")
	res, err := b.p.Purge(context.Background(), []string{"https://img.example.test/x", base + "a.jpg"})
	if pe := providertest.AsError(t, err); pe.Code != "InvalidItem" || pe.Retryable {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(res.Remaining, []string{"https://img.example.test/x"}) {
		t.Fatalf("Remaining = %q", res.Remaining)
	}
	if got := b.created(); len(got) != 1 || got[0][0] != base+"a.jpg" {
		t.Fatalf("the valid path was not sent: %q", got)
	}
}

func TestEstimateCost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		paths, free int
		want        float64
	}{
		{3, 1000, 0},
		{1000, 1000, 0},
		{1001, 1000, 0.005},
		{250, 0, 1.25},
		{10, -5, 0.05},
		{0, 0, 0},
	}
	for _, tc := range tests {
		got := cloudfront.EstimateCost(tc.paths, tc.free)
		if diff := got - tc.want; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("EstimateCost(%d, %d) = %v, want %v", tc.paths, tc.free, got, tc.want)
		}
	}
	items := []string{"ref:0123456789abcdef", base + "a.jpg", base + "*"}
	if n := cloudfront.BillablePaths(items); n != 2 {
		t.Errorf("BillablePaths = %d, want 2 (a wildcard is one path, a ref item none)", n)
	}
}

// BenchmarkPurge measures one three-path purge against the emulator over
// loopback: SigV4 signing, XML both ways and the emulator's verification.
func BenchmarkPurge(b *testing.B) {
	bd := setup(b, emu.Options{CompleteAfter: time.Nanosecond}, "")
	items := bd.plan(b, "320x180.jpg", "640x360.jpg", "1280x720.jpg")
	for b.Loop() {
		if _, err := bd.p.Purge(context.Background(), items); err != nil {
			b.Fatal(err)
		}
	}
}
