package providerkit

import "net/http"

// NoRedirects returns a client over rt that never follows a redirect but
// returns it as the answer. A purge API never redirects; following one
// would resend the credentials, or the purge itself, to wherever it points,
// and turn a redirected POST into a GET.
func NoRedirects(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
