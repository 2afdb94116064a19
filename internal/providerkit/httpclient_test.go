package providerkit_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/imgpurge/imgpurge/internal/providerkit"
)

func TestNoRedirectsReturnsTheRedirect(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Store(true)
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	c := providerkit.NoRedirects(http.DefaultTransport.(*http.Transport).Clone())
	resp, err := c.Post(srv.URL+"/purge", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || followed.Load() {
		t.Errorf("status %d, followed %v; want the 302 itself", resp.StatusCode, followed.Load())
	}
}
