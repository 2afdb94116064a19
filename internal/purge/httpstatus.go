package purge

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfterMax bounds every wait a provider reports. A longer one comes from
// a misread header or a clock problem, not from a limit that refills in
// seconds or minutes, and honouring it would park a purge in the journal for
// days.
const RetryAfterMax = time.Hour

// RetryableStatus reports whether an HTTP answer is worth another attempt:
// the server failed (5xx), gave up waiting for the request (408) or asked us
// to slow down (429). Any other status says something about the request or
// its credentials that the same request cannot change.
func RetryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// RetryAfter reads h's Retry-After, in seconds or as an HTTP date, as a wait
// from now of at most limit (pass RetryAfterMax unless the provider
// documents another bound). ok is false when the header is absent or in
// neither form, so a caller can fall back to its API's own rate-limit
// headers; a date already past is a valid wait of zero.
func RetryAfter(h http.Header, now time.Time, limit time.Duration) (d time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		s, err := strconv.ParseInt(v, 10, 64)
		// Too many digits for int64, or more seconds than limit: compared
		// as seconds, since s seconds may not fit a Duration.
		if err != nil || s > int64(limit/time.Second) {
			return limit, true
		}
		return min(time.Duration(s)*time.Second, limit), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), limit), true
}

// isDigits reports whether v is delay-seconds: digits only, so "-1" and
// "+5" are not.
func isDigits(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return v != ""
}
