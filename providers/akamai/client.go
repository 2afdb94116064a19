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

	"github.com/imgpurge/imgpurge/internal/purge"
)

// A Fast Purge reply is a few hundred bytes.
const maxReplyBytes = 1 << 20

// guidanceWait is Akamai's advice after a 429 that says nothing more.
const guidanceWait = 5 * time.Second

// A wait longer than this comes from a header misread, not from a bucket
// that refills in seconds or minutes.
const maxRetryAfter = time.Hour

func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// A redirect would need a new signature and resend the credentials
		// elsewhere; Fast Purge never sends one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
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

// post sends one signed request.
func (p *Provider) post(ctx context.Context, b batch) callResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(b.body))
	if err != nil {
		return failed(b.items, &purge.Error{Code: "InvalidRequest", Message: err.Error(), Err: err})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "imgpurge")
	p.signer.sign(req, b.body)
	resp, err := p.http.Do(req)
	if err != nil {
		return failed(b.items, transportError(err))
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return failed(b.items, transportError(err))
	}
	if resp.StatusCode/100 != 2 {
		r := failed(b.items, statusError(resp, reply, len(b.items)))
		// A 403 may concern one object only (a URL outside the client's CP
		// codes), so the other requests still go.
		r.halt = resp.StatusCode == 401 || resp.StatusCode == 429
		return r
	}
	var a accepted
	if err := json.Unmarshal(reply, &a); err != nil {
		// The purge was probably queued; queuing it again is harmless.
		return failed(b.items, &purge.Error{Code: "MalformedResponse", Retryable: true,
			Message: "HTTP " + strconv.Itoa(resp.StatusCode) + " with an unreadable body: " + err.Error(), Err: err})
	}
	return callResult{purgeID: a.PurgeID, supportID: a.SupportID, estimatedSeconds: a.EstimatedSeconds, made: true}
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
	e := &purge.Error{Code: code, Message: msg}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Header, objects, time.Now())
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		e.Retryable = true
	}
	return e
}

// retryAfter reads Retry-After if sent; otherwise it computes how long the
// X-Ratelimit-* buckets need to hold one request and this request's
// objects; with neither, it is Akamai's guidance of 5 s.
func retryAfter(h http.Header, objects int, now time.Time) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			return min(max(time.Duration(s)*time.Second, 0), maxRetryAfter)
		}
		if t, err := http.ParseTime(v); err == nil {
			return min(max(t.Sub(now), 0), maxRetryAfter)
		}
	}
	need := max(refill(h, "X-Ratelimit-Remaining", "X-Ratelimit-Limit-Per-Second", 1),
		refill(h, "X-Ratelimit-Remaining-Objects", "X-Ratelimit-Limit-Per-Second-Objects", objects))
	if need <= 0 {
		return guidanceWait
	}
	return min(time.Duration(math.Ceil(need))*time.Second, maxRetryAfter)
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
