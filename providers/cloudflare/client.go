package cloudflare

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"time"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/imgpurge/imgpurge/internal/providerkit"
)

// newAPI builds the cloudflare-go client the way this provider needs it.
//
//   - UsingRetryPolicy(0, 0, 0): one attempt per call. The library's own
//     retries (3, sleeping 1, 2 and 4 s, Retry-After ignored) would spend the
//     request's deadline where the orchestrator cannot see it.
//   - UsingRateLimit(math.MaxFloat64): that is rate.Inf, which turns the
//     built-in 4 requests/s limiter off. Cloudflare's purge limits are
//     per-account buckets that one process cannot see whole; a shared
//     limiter, if wanted, wraps the provider.
//   - An http.Client of its own that does not follow redirects (a
//     redirected POST would turn into a GET), and whose transport bounds and
//     records each exchange; see recorder.
func newAPI(s *Settings) (*cf.API, *http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = s.Concurrency
	hc := providerkit.NoRedirects(recorder{next: tr, timeout: s.RequestTimeout.D()})
	opts := []cf.Option{
		cf.BaseURL(s.BaseURL),
		cf.HTTPClient(hc),
		cf.UsingRetryPolicy(0, 0, 0),
		cf.UsingRateLimit(math.MaxFloat64),
		cf.UserAgent("imgpurge cloudflare-go/" + cf.Version),
	}
	var api *cf.API
	var err error
	if !s.APIToken.Empty() {
		api, err = cf.NewWithAPIToken(s.APIToken.Reveal(), opts...)
	} else {
		api, err = cf.New(s.APIKey.Reveal(), s.APIEmail, opts...)
	}
	if err != nil {
		return nil, nil, errors.New("api_token: the client refused the credentials")
	}
	return api, tr, nil
}

// exchange is what Cloudflare answered to one call.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

type exchangeKey struct{}

// withExchange returns a context under which the recorder keeps the answer
// of the one call made with it.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	ex := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, ex), ex
}

// maxAnswer bounds the body kept from one answer; purge answers are tiny.
const maxAnswer = 1 << 20

// recorder reads each answer whole within the request timeout, and keeps
// its status, headers and body in the exchange carried by the request's
// context.
//
// cloudflare-go v0 cannot report a 429 or 5xx faithfully: whatever the
// retry policy, it turns them into a plain error string ("exceeded
// available rate limit retries", "received ... (HTTP 500)") and drops the
// body with Cloudflare's error code and the Retry-After header. It also
// never closes those bodies, which would pin a connection per failure and,
// under http.Client.Timeout, a timer goroutine until the timeout. So the
// recorder bounds the exchange with a context of its own rather than
// Client.Timeout, reads the body, closes it, and hands the library a copy:
// the provider reads Cloudflare's own answer and connections are reused.
// The exchange travels in the context, not in a field, because one client
// serves calls running in parallel.
type recorder struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), r.timeout)
	defer cancel()
	resp, err := r.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if ex, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
		ex.status, ex.header, ex.body = resp.StatusCode, resp.Header, body
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
