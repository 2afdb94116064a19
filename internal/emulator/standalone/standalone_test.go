package standalone_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/imgpurge/imgpurge/internal/emulator/standalone"
)

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false} {
		if err := standalone.Loopback(addr); (err == nil) != ok {
			t.Errorf("Loopback(%q) = %v", addr, err)
		}
	}
}

func TestEveryEmulatorServesItsCalls(t *testing.T) {
	for _, kind := range []string{"cloudflare", "cloudfront", "fastly", "akamai"} {
		h, err := standalone.New(kind)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		resp, err := http.Get(srv.URL + standalone.CallsPath)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %v %v", kind, err, resp)
		}
		resp.Body.Close()
		srv.Close()
	}
	if _, err := standalone.New("bunny"); err == nil {
		t.Error("unknown emulator accepted")
	}
}
