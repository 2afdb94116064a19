package akamai

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/config"
)

// The expected values were computed with Python's hmac and hashlib from
// Akamai's published algorithm, not with this package.
func TestSignatureMatchesAnIndependentVector(t *testing.T) {
	t.Parallel()
	const (
		ts    = "20260501T10:00:00+0000"
		nonce = "0f3a1c2e-8d4b-4e7a-9f10-2b3c4d5e6f70"
		body  = `{"objects":["https://img.example.test/image/a.jpg"]}`
		head  = "EG1-HMAC-SHA256 client_token=akab-client-token;access_token=akab-access-token;" +
			"timestamp=" + ts + ";nonce=" + nonce + ";"
	)
	tests := []struct {
		name    string
		maxBody int
		sig     string
	}{
		{"WholeBody", 131072, "tXhZ9Kf6h4FZTCsRVfDbDYnuGJv+uuwwaplPVylDfp0="},
		{"BodyCutToMaxBody", 16, "xnajnomTTlgz6903FYegGg+wrVJXiybVySRVQWSBWUY="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &signer{
				clientToken:  config.NewSecret("akab-client-token"),
				clientSecret: config.NewSecret("c2VjcmV0LWZvci1hLWdvbGRlbi10ZXN0LW9ubHk="),
				accessToken:  config.NewSecret("akab-access-token"),
				maxBody:      tt.maxBody,
			}
			req, err := http.NewRequest(http.MethodPost,
				"https://akab-test.luna.akamaiapis.net/ccu/v3/invalidate/url/production", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got := s.authorization(req, []byte(body), ts, nonce)
			if want := head + "signature=" + tt.sig; got != want {
				t.Errorf("Authorization =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestTimestampFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	if got := at.UTC().Format(edgegridTime); got != "20260102T02:04:05+0000" {
		t.Errorf("timestamp = %q", got)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	buckets := func(rem, rate, remObj, rateObj string) http.Header {
		return http.Header{
			"X-Ratelimit-Remaining": {rem}, "X-Ratelimit-Limit-Per-Second": {rate},
			"X-Ratelimit-Remaining-Objects": {remObj}, "X-Ratelimit-Limit-Per-Second-Objects": {rateObj},
		}
	}
	date := now.Add(9 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name    string
		h       http.Header
		objects int
		want    time.Duration
	}{
		{"Guidance", http.Header{}, 10, 5 * time.Second},
		{"RetryAfterSeconds", http.Header{"Retry-After": {"12"}}, 10, 12 * time.Second},
		{"RetryAfterDate", http.Header{"Retry-After": {date}}, 1, 9 * time.Second},
		{"RequestBucket", buckets("0", "0.50", "9000", "200.00"), 10, 2 * time.Second},
		{"ObjectBucket", buckets("40", "50.00", "100", "200.00"), 1500, 7 * time.Second},
		{"NoShortfall", buckets("40", "50.00", "", ""), 1, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := retryAfter(tt.h, tt.objects, now); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}
