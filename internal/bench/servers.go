package bench

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// serve answers h on a fresh 127.0.0.1 port and returns its base URL and
// a function that stops it.
func serve(h http.Handler) (string, func(), error) {
	return serveCounting(h, nil)
}

// serveCounting is serve that also counts the connections clients open,
// when conns is not nil.
func serveCounting(h http.Handler, conns *atomic.Int64) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	if conns != nil {
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
	}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// freeAddr returns a 127.0.0.1 address nobody listens on right now, for a
// child process to bind. Another process may take it in between; callers
// retry.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// delayServer stands in for a provider that answers every request with 200
// after a fixed time, as a cache node answers a PURGE.
type delayServer struct {
	delay time.Duration
	calls atomic.Int64
}

func (s *delayServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
	}
}
