package purge_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

func TestRetryableStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{
		200: false, 301: false, 400: false, 401: false, 403: false, 404: false,
		405: false, 412: false, 413: false,
		408: true, 429: true, 500: true, 502: true, 503: true, 504: true,
	} {
		if got := purge.RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"+5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		// Capped at the limit, even past what a Duration holds.
		{"86400", time.Hour, true},
		{"99999999999999999999", time.Hour, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour, true},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := purge.RetryAfter(h, now, purge.RetryAfterMax)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryAfterLimit(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {"90"}}
	if got, _ := purge.RetryAfter(h, time.Now(), time.Minute); got != time.Minute {
		t.Errorf("RetryAfter = %v, want the one-minute limit", got)
	}
}
