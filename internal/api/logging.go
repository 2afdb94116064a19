package api

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so every record logged with a request's context carries
// that request's tracking_id, including records from packages that know
// nothing of tracking ids, such as token verification.
func LogHandler(h slog.Handler) slog.Handler { return trackingHandler{h} }

type trackingHandler struct{ slog.Handler }

func (h trackingHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TrackingID(ctx); id != "" && !hasTracking(r) {
		r.AddAttrs(slog.String("tracking_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h trackingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return trackingHandler{h.Handler.WithAttrs(as)}
}

func (h trackingHandler) WithGroup(name string) slog.Handler {
	return trackingHandler{h.Handler.WithGroup(name)}
}

func hasTracking(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "tracking_id"
		return !found
	})
	return found
}
