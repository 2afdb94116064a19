// Package standalone serves the CDN emulators as local servers, for demos
// and manual testing. Each listens on a loopback address only, answers its
// CDN's API, and shows what it received at GET /_emulator/calls.
package standalone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/imgpurge/imgpurge/internal/emulator/akamai"
	"github.com/imgpurge/imgpurge/internal/emulator/cloudflare"
	"github.com/imgpurge/imgpurge/internal/emulator/cloudfront"
	"github.com/imgpurge/imgpurge/internal/emulator/fastly"
)

// CallsPath shows the calls an emulator received, as JSON.
const CallsPath = "/_emulator/calls"

// emulator is what every CDN emulator offers.
type emulator interface {
	http.Handler
}

// New returns the handler of the named CDN's emulator with its test
// credentials: cloudflare, cloudfront, fastly or akamai.
func New(kind string) (http.Handler, error) {
	switch kind {
	case "cloudflare":
		e := cloudflare.New(cloudflare.Options{})
		return withCalls(e, func() any { return e.Calls() }), nil
	case "cloudfront":
		e := cloudfront.New(cloudfront.Options{CompleteAfter: 5 * time.Second})
		return withCalls(e, func() any { return e.Calls() }), nil
	case "fastly":
		e := fastly.New(fastly.Options{})
		return withCalls(e, func() any { return e.Calls() }), nil
	case "akamai":
		e := akamai.New(akamai.Options{})
		return withCalls(e, func() any { return e.Calls() }), nil
	}
	return nil, fmt.Errorf("unknown emulator %q (cloudflare, cloudfront, fastly, akamai)", kind)
}

func withCalls(e emulator, calls func() any) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(calls())
	})
	mux.Handle("/", e)
	return mux
}

// Loopback reports an error unless addr is a loopback host:port, so an
// emulator can never be exposed beyond this machine.
func Loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address; emulators listen on 127.0.0.1 only", addr)
}

// Serve runs the handler on addr until ctx ends.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	if err := Loopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
