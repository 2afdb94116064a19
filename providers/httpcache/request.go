package httpcache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// request builds the HTTP request for one item on one node.
func (p *Provider) request(ctx context.Context, node *url.URL, it item) (*http.Request, error) {
	method, path := p.set.PurgeMethod, "/"
	switch it.kind {
	case kindPurge:
		path = it.arg
		if p.set.Method == MethodNginx {
			path = p.set.PurgeLocation + it.arg
		}
	case kindBan:
		method = "BAN"
	}
	req, err := http.NewRequestWithContext(ctx, method, node.String(), nil)
	if err != nil {
		return nil, err
	}
	// Opaque goes on the request line as it is: the path was escaped once
	// by Plan and must reach the cache byte for byte, as a visitor sent it.
	req.URL.Opaque = path
	for k, v := range p.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "imgpurge")
	switch it.kind {
	case kindPurge:
		req.Host = it.host
	case kindBan:
		req.Host = it.host
		req.Header.Set("X-Ban-Url", it.arg)
	case kindXKey:
		req.Header.Set("Xkey-Purge", it.arg)
	}
	return req, nil
}

// statusOutcome reads a node's answer: success, "not cached" (a success
// too), or a failure with the status as its code.
func statusOutcome(it item, resp *http.Response) (bool, *purge.Error) {
	c := resp.StatusCode
	switch {
	case c >= 200 && c < 300:
		// Known limitation: a 2xx to a ban or key purge is counted as
		// purged even when nothing matched, because Varnish does not say
		// reliably: xkey's X-Purged count still includes objects that an
		// earlier purge has killed but not yet retired.
		return false, nil
	case it.kind == kindPurge && (c == http.StatusNotFound || c == http.StatusPreconditionFailed):
		// nginx's purge module (404, or 412 in later versions) and Traffic
		// Server answer so when they hold no copy.
		return true, nil
	}
	e := &purge.Error{Code: "HTTP" + strconv.Itoa(c), Message: resp.Status + " for " + it.String()}
	// 403 and 405 are a cache's ACL refusing this client, 3xx a redirect
	// not followed: none changes on its own.
	if purge.RetryableStatus(c) {
		e.Retryable = true
		e.RetryAfter, _ = purge.RetryAfter(resp.Header, time.Now(), purge.RetryAfterMax)
	}
	return false, e
}

// transportError names a failure to get any answer from a node.
func transportError(err error) *purge.Error {
	e := &purge.Error{Code: "NetworkError", Retryable: true, Message: err.Error(), Err: err}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL is the node's, already named in the node's result.
		e.Message = ue.Err.Error()
	}
	var ne net.Error
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.Canceled):
		e.Code = "Canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Code = "Timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Code = "ConnectionRefused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		// Also what a crashing worker looks like (nginx's same-location
		// purge with module 2.3).
		e.Code = "ConnectionReset"
	case errors.As(err, &dns):
		e.Code = "DNSError"
	case errors.As(err, &cert):
		e.Code, e.Retryable = "TLSError", false
	}
	return e
}

// ctxError is the error of an item never sent because ctx ended.
func ctxError(err error) *purge.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &purge.Error{Code: "Timeout", Message: "deadline passed", Retryable: true, Err: err}
	}
	return &purge.Error{Code: "Canceled", Message: fmt.Sprint(err), Retryable: true, Err: err}
}
