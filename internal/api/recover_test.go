package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecovererAnswersUnknownFailure(t *testing.T) {
	t.Parallel()
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := withTracking(s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret detail")
	})))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("DELETE", "/image/x", nil)
	req.Header.Set(TrackingHeader, "trk-0001")
	h.ServeHTTP(rec, req)

	var env struct {
		Header struct {
			Code       int                     `json:"code"`
			TrackingID string                  `json:"tracking_id"`
			Errors     []struct{ Code string } `json:"errors"`
		} `json:"header"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 500 || env.Header.Code != -1 || env.Header.TrackingID != "trk-0001" ||
		len(env.Header.Errors) != 1 || env.Header.Errors[0].Code != "40420291" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Fatal("panic value reached the caller")
	}
}
