package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/envelope"
)

// TrackingHeader carries the id that ties together every response and log
// line of one request.
const TrackingHeader = "X-Tracking-Id"

// MaxTrackingLen bounds a caller's tracking id, in bytes.
const MaxTrackingLen = 128

type trackingKey struct{}

// TrackingID returns the request's tracking id.
func TrackingID(ctx context.Context) string {
	id, _ := ctx.Value(trackingKey{}).(string)
	return id
}

// withTracking accepts the caller's tracking id or makes one, and returns it
// on every response. A malformed id is refused and never echoed, so it
// cannot inject headers or log lines.
func withTracking(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values(TrackingHeader)
		id, ok := "", true
		switch len(vals) {
		case 0:
		case 1:
			id, ok = vals[0], validTracking(vals[0])
		default:
			ok = false
		}
		if !ok || id == "" {
			id = uuid.NewString()
		}
		w.Header().Set(TrackingHeader, id)
		if !ok {
			envelope.Fail(w, http.StatusBadRequest, id, envelope.CodeInvalidRequest,
				"X-Tracking-Id must be one value of 1 to 128 printable ASCII characters")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), trackingKey{}, id)))
	})
}

func validTracking(s string) bool {
	if s == "" || len(s) > MaxTrackingLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
