// Package apptest runs the whole service in-process for tests.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/app"
	"github.com/imgpurge/imgpurge/internal/config"
)

// Serve runs a on a loopback port until the test ends, then shuts it down
// and reports an error of the shutdown, and returns its base URL.
func Serve(t testing.TB, a *app.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		a.Close()
	})
	// Serve starts the journal before it answers; a test that ended before
	// then would cancel the start, so wait for the first answer.
	url := "http://" + ln.Addr().String()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("imgpurged did not answer: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ServeConfig builds the service from cfg, logging nowhere, and serves it
// as Serve does.
func ServeConfig(t testing.TB, cfg *config.Config) string {
	t.Helper()
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	return Serve(t, a)
}
