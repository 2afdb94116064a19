package s3

import (
	"context"
	"testing"

	"github.com/imgpurge/imgpurge/internal/testenv"
)

// A store that refuses connections is a retryable RequestSendError.
func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	p := newProvider(t, settingsFor("http://"+testenv.FreeAddr(t), "test", "test"))
	_, err := p.Purge(context.Background(), mustPlan(t, p, imageC1, "a.jpg"))
	wantCode(t, err, "RequestSendError", true)
}
