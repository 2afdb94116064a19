package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgpurge/imgpurge/internal/bench/loadgen"
)

func TestRun(t *testing.T) {
	t.Parallel()
	var calls, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodDelete || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok") {
			bad.Add(1)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		cfg  loadgen.Config
		sent int
	}{
		{"open loop holds its rate", loadgen.Config{Rate: 200, Warmup: 100 * time.Millisecond,
			Duration: 400 * time.Millisecond, MaxRequests: 1000}, 100},
		{"closed loop stops at the distinct tokens", loadgen.Config{Concurrency: 4, Distinct: true,
			Duration: 5 * time.Second, MaxRequests: 1000}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.URL, cfg.Path, cfg.Tokens = srv.URL, "/image/%s/640x360.jpg", []string{"tok1", "tok2", "tok3"}
			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != tc.sent || res.OK != res.Measured {
				t.Fatalf("sent %d (want %d), %d of %d measured answered 200: %+v", res.Sent, tc.sent,
					res.OK, res.Measured, res.Status)
			}
		})
	}
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests were not DELETE with a bearer token", bad.Load(), calls.Load())
	}
}

func TestRunRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	_, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://192.0.2.1:8080",
		Tokens: []string{"t"}, Rate: 1, Duration: time.Second, MaxRequests: 1})
	if err == nil {
		t.Fatal("a load aimed beyond 127.0.0.1 was accepted")
	}
}
