package fastly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// A purge reply is a few bytes per key; anything far larger is not Fastly.
const maxReplyBytes = 1 << 20

// callResult is what one API call achieved; its Info maps each item purged
// to Fastly's purge id.
type callResult = providerkit.Call[map[string]string]

var failed = providerkit.Failed[map[string]string]

// newHTTPClient follows no redirect, which would resend the token to
// wherever it points.
func newHTTPClient() *http.Client {
	return providerkit.NoRedirects(http.DefaultTransport.(*http.Transport).Clone())
}

// purgeKeys purges one batch of surrogate keys.
func (p *Provider) purgeKeys(ctx context.Context, b providerkit.Batch) callResult {
	keys := b.Items
	body, err := json.Marshal(struct {
		Keys []string `json:"surrogate_keys"`
	}{keys})
	if err != nil {
		return failed(keys, &purge.Error{Code: "InvalidItem", Message: err.Error(), Err: err})
	}
	u := p.set.BaseURL + "/service/" + url.PathEscape(p.set.ServiceID) + "/purge"
	var ids map[string]string
	if r := p.post(ctx, u, body, keys, &ids); r.Err != nil {
		return r
	}
	res := callResult{Info: make(map[string]string, len(keys)), Made: true}
	for _, k := range keys {
		if id := ids[k]; id != "" {
			res.Info[k] = id
		} else {
			res.Left = append(res.Left, k)
		}
	}
	if len(res.Left) > 0 {
		res.Err = &purge.Error{Code: "MissingPurgeID", Retryable: true, Message: fmt.Sprintf(
			"the reply named no purge id for %d of %d keys", len(res.Left), len(keys))}
	}
	return res
}

// purgeURL purges a batch of one absolute URL through
// POST /purge/{host}/{path}.
func (p *Provider) purgeURL(ctx context.Context, b providerkit.Batch) callResult {
	item := b.Items[0]
	host, path, err := splitURL(item)
	if err != nil {
		return failed([]string{item}, &purge.Error{Code: "InvalidItem", Message: err.Error()})
	}
	var reply struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	u := p.set.BaseURL + "/purge/" + host + path
	if r := p.post(ctx, u, nil, b.Items, &reply); r.Err != nil {
		return r
	}
	return callResult{Info: map[string]string{item: reply.ID}, Made: true}
}

// splitURL takes "https://host/path" apart without decoding the path, which
// must reach Fastly exactly as the cache saw it.
func splitURL(item string) (host, path string, err error) {
	rest, ok := strings.CutPrefix(item, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(item, "http://")
	}
	i := strings.IndexByte(rest, '/')
	if !ok || i <= 0 || strings.ContainsAny(rest, " \t\r\n#") {
		return "", "", fmt.Errorf("%q is not an absolute http(s) URL", item)
	}
	return rest[:i], rest[i:], nil
}

// post makes one call and decodes a 2xx reply into out. On failure every
// item of the call is left.
func (p *Provider) post(ctx context.Context, u string, body []byte, items []string, out any) callResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return failed(items, &purge.Error{Code: "InvalidItem", Message: err.Error(), Err: err})
	}
	req.Header.Set("Fastly-Key", p.set.APIToken.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "imgpurge")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.set.Soft {
		req.Header.Set("Fastly-Soft-Purge", "1")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return failed(items, transportError(err))
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return failed(items, transportError(err))
	}
	if resp.StatusCode/100 != 2 {
		r := failed(items, statusError(resp, reply, p.now()))
		// The calls not yet made would meet the same refusal or limit.
		r.Halt = resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 429
		return r
	}
	if err := json.Unmarshal(reply, out); err != nil {
		// The purge may well have happened; purging again is harmless.
		return failed(items, &purge.Error{Code: "MalformedResponse", Retryable: true,
			Message: "HTTP " + strconv.Itoa(resp.StatusCode) + " with an unreadable body: " + err.Error(), Err: err})
	}
	return callResult{Made: true}
}

// transportError reports a failed exchange without the request URL, which
// may carry a purged URL but never helps the reader more than the cause.
func transportError(err error) *purge.Error {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Op + ": " + ue.Err.Error()
	}
	return &purge.Error{Code: "TransportError", Message: msg, Retryable: true, Err: err}
}

func statusError(resp *http.Response, body []byte, now time.Time) *purge.Error {
	e := &purge.Error{Code: "HTTP" + strconv.Itoa(resp.StatusCode),
		Message: apiMessage(body, resp.Status), Retryable: purge.RetryableStatus(resp.StatusCode)}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header, now)
	}
	return e
}

// apiMessage reads Fastly's error body, {"msg":…,"detail":…} or the JSON:API
// form {"errors":[{"title":…,"detail":…}]}.
func apiMessage(body []byte, status string) string {
	var b struct {
		Msg    string `json:"msg"`
		Detail string `json:"detail"`
		Errors []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil {
		return status
	}
	if b.Msg == "" && len(b.Errors) > 0 {
		b.Msg, b.Detail = b.Errors[0].Title, b.Errors[0].Detail
	}
	switch {
	case b.Msg == "":
		return status
	case b.Detail == "":
		return b.Msg
	default:
		return b.Msg + ": " + b.Detail
	}
}

// retryAfter reads Retry-After, else Fastly's Fastly-RateLimit-Reset (an
// epoch in seconds; a reset past purge.RetryAfterMax is taken as a clock
// problem and capped). Zero leaves the wait to the orchestrator's backoff.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := purge.RetryAfter(h, now, purge.RetryAfterMax); ok {
		return d
	}
	s, err := strconv.ParseInt(h.Get("Fastly-RateLimit-Reset"), 10, 64)
	if err != nil {
		return 0
	}
	return min(max(time.Unix(s, 0).Sub(now), 0), purge.RetryAfterMax)
}
