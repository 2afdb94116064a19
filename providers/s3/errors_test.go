package s3

import (
	"context"
	"net"
	"testing"
)

// A store that refuses connections is a retryable RequestSendError.
func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	p := newProvider(t, settingsFor("http://"+addr, "test", "test"))
	_, err = p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg"))
	wantCode(t, err, "RequestSendError", true)
}
