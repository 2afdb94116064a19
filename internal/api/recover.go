package api

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/imgpurge/imgpurge/internal/envelope"
)

// recoverer turns a panic into the unknown-failure envelope, so a caller
// never sees a dropped connection or a plain-text 500.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("tracking_id", TrackingID(r.Context())),
				slog.Any("panic", rec), slog.String("stack", string(debug.Stack())))
			envelope.Fail(w, http.StatusInternalServerError, TrackingID(r.Context()),
				envelope.CodeUnknownFailure, "Unknown failure")
		}()
		next.ServeHTTP(w, r)
	})
}
