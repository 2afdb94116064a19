package akamai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imgpurge/imgpurge/internal/providerkit"
	"github.com/imgpurge/imgpurge/internal/purge"
)

// A Fast Purge reply is a few hundred bytes.
const maxReplyBytes = 1 << 20

// guidanceWait is Akamai's advice after a 429 that says nothing more.
const guidanceWait = 5 * time.Second

// newHTTPClient follows no redirect: one would need a new signature and
// resend the credentials elsewhere, and Fast Purge never sends one.
func newHTTPClient() *http.Client {
	return providerkit.NoRedirects(http.DefaultTransport.(*http.Transport).Clone())
}

// accepted is Fast Purge's 201 body.
type accepted struct {
	PurgeID          string `json:"purgeId"`
	SupportID        string `json:"supportId"`
	EstimatedSeconds int    `json:"estimatedSeconds"`
}

// problem is an error body: Fast Purge's own (httpStatus, supportId,
// describedBy) or the API gateway's RFC 7807 form (status, type, instance).
type problem struct {
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	HTTPStatus int    `json:"httpStatus"`
	Status     int    `json:"status"`
	SupportID  string `json:"supportId"`
}

// callResult is what one request achieved; its Info is the reply to a
// purge Fast Purge accepted.
type callResult = providerkit.Call[accepted]

var failed = providerkit.Failed[accepted]

// post sends one signed request.
func (p *Provider) post(ctx context.Context, b providerkit.Batch) callResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(b.Body))
	if err != nil {
		return failed(b.Items, &purge.Error{Code: "InvalidRequest", Message: err.Error(), Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "imgpurge")
	p.signer.sign(req, b.Body)
	resp, err := p.http.Do(req)
	if err != nil {
		return failed(b.Items, transportError(err))
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return failed(b.Items, transportError(err))
	}
	if resp.StatusCode/100 != 2 {
		r := failed(b.Items, statusError(resp, reply, len(b.Items)))
		// A 403 may concern one object only (a URL outside the client's CP
		// codes), so the other requests still go.
		r.Halt = resp.StatusCode == 401 || resp.StatusCode == 429
		return r
	}
	var a accepted
	if err := json.Unmarshal(reply, &a); err != nil {
		// The purge was probably queued; queuing it again is harmless.
		return failed(b.Items, &purge.Error{Code: "MalformedResponse", Retryable: true,
			Message: "HTTP " + strconv.Itoa(resp.StatusCode) + " with an unreadable body: " + err.Error(), Err: err})
	}
	return callResult{Info: a, Made: true}
}

// transportError reports a failed exchange without the request URL.
func transportError(err error) *purge.Error {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Op + ": " + ue.Err.Error()
	}
	return &purge.Error{Code: "TransportError", Message: msg, Retryable: true, Err: err}
}

// statusError turns an error answer into Code "HTTP<status> <title>".
func statusError(resp *http.Response, body []byte, objects int) *purge.Error {
	var pb problem
	_ = json.Unmarshal(body, &pb)
	code := "HTTP" + strconv.Itoa(resp.StatusCode)
	if t := strings.TrimSpace(pb.Title); t != "" {
		code += " " + t
	}
	msg := pb.Detail
	if msg == "" {
		msg = resp.Status
	}
	if pb.SupportID != "" {
		msg += " (supportId " + pb.SupportID + ")"
	}
	e := &purge.Error{Code: code, Message: msg, Retryable: purge.RetryableStatus(resp.StatusCode)}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header, objects, time.Now())
	}
	return e
}

// retryAfter reads Retry-After if readable; otherwise it computes how long the
// X-Ratelimit-* buckets need to hold one request and this request's
// objects; with neither, it is Akamai's guidance of 5 s.
func retryAfter(h http.Header, objects int, now time.Time) time.Duration {
	if d, ok := purge.RetryAfter(h, now, purge.RetryAfterMax); ok {
		return d
	}
	need := max(refill(h, "X-Ratelimit-Remaining", "X-Ratelimit-Limit-Per-Second", 1),
		refill(h, "X-Ratelimit-Remaining-Objects", "X-Ratelimit-Limit-Per-Second-Objects", objects))
	if need <= 0 {
		return guidanceWait
	}
	return time.Duration(math.Ceil(min(need, purge.RetryAfterMax.Seconds()))) * time.Second
}

// refill returns the seconds a bucket needs to hold want tokens, or 0 when
// the headers are absent or show enough.
func refill(h http.Header, remaining, perSecond string, want int) float64 {
	rem, err1 := strconv.ParseFloat(h.Get(remaining), 64)
	rate, err2 := strconv.ParseFloat(h.Get(perSecond), 64)
	if err1 != nil || err2 != nil || rate <= 0 || rem >= float64(want) {
		return 0
	}
	return (float64(want) - rem) / rate
}
