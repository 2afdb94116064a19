package fault_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

func TestDropSendsNoAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fault.Drop(w)
	}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %s, want no answer", resp.Status)
	}
}
