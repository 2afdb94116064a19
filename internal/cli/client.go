package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// Envelope error codes the command line acts on.
const (
	codeInvalidDatastore = "40420202"
)

const (
	// maxBody bounds a response read into memory; imgpurged's answers are
	// capped lists, far below it.
	maxBody = 32 << 20
	// getAttempts is how often a GET is tried when the connection fails.
	getAttempts = 3
	// userAgent names the command line in the server's logs.
	userAgent = "imgpurge-cli"
)

// errUnreachable marks a server or token endpoint that could not be
// connected to: refused, no route, unknown host, dial timeout.
var errUnreachable = errors.New("unreachable")

// client calls imgpurged. Every request carries a fresh X-Tracking-Id, so
// each answer can be found in the server's logs.
type client struct {
	base   *url.URL
	hc     *http.Client
	tokens oauth2.TokenSource
	// retryWait is the pause before a GET's second attempt; it doubles.
	retryWait time.Duration
}

func newClient(ctx context.Context, c *connFlags, env Env, conns int) *client {
	base, _ := url.Parse(c.url) // checked by connFlags.check
	hc := newHTTPClient(c.timeout, conns)
	return &client{
		base: base, hc: hc, retryWait: 250 * time.Millisecond,
		tokens: tokenSource(ctx, c, hc, newTokenCache(env.Getenv)),
	}
}

func newHTTPClient(timeout time.Duration, conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		// One idle connection per worker, so a bulk run reuses its
		// connections instead of opening (and leaving in TIME_WAIT) one per
		// purge.
		MaxIdleConns:        conns + 2,
		MaxIdleConnsPerHost: conns + 2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		// imgpurged never redirects; following one could carry the token
		// elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is one answer of imgpurged.
type reply struct {
	status     int
	trackingID string
	raw        []byte
	// envelope is false when the body was not imgpurged's JSON envelope,
	// as from a proxy in between.
	envelope bool
	header   envHeader
	data     json.RawMessage
}

type envHeader struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	TrackingID string     `json:"tracking_id"`
	Errors     []envError `json:"errors"`
}

type envError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// ok reports a success envelope.
func (r *reply) ok() bool { return r.envelope && r.status/100 == 2 && r.header.Code == 0 }

func (r *reply) codes() []string {
	out := make([]string, 0, len(r.header.Errors))
	for _, e := range r.header.Errors {
		out = append(out, e.Code)
	}
	return out
}

// problem is a one-line account of a failure reply.
func (r *reply) problem() string {
	if !r.envelope {
		return fmt.Sprintf("HTTP %d, not an imgpurged answer", r.status)
	}
	if len(r.header.Errors) == 0 {
		return fmt.Sprintf("HTTP %d", r.status)
	}
	e := r.header.Errors[0]
	s := fmt.Sprintf("HTTP %d, %s %s", r.status, e.Code, e.Description)
	if n := len(r.header.Errors); n > 1 {
		s += fmt.Sprintf(" (and %d more)", n-1)
	}
	return s
}

// exit is the exit code a reply calls for on its own.
func (r *reply) exit() int {
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		return ExitNoReach
	case r.status == http.StatusBadRequest && r.envelope && len(r.header.Errors) > 0 &&
		r.header.Errors[0].Code == codeInvalidDatastore:
		return ExitUsage
	case r.ok():
		return ExitOK
	}
	return ExitFailed
}

// request is one call to imgpurged.
type request struct {
	method string
	// path is escaped already; query may be nil.
	path   string
	query  url.Values
	header http.Header
}

// do sends req and reads the answer. A request refused with 401 is sent
// once more with a fresh client-credentials token.
func (c *client) do(ctx context.Context, req request) (*reply, error) {
	tok, err := c.tokens.Token()
	if err != nil {
		return nil, classify(err)
	}
	r, err := c.send(ctx, req, tok.AccessToken)
	if err != nil || r.status != http.StatusUnauthorized {
		return r, err
	}
	// A 401 is answered before anything is done, so sending the request
	// again with a fresh token is safe.
	if rn, ok := c.tokens.(renewer); ok && rn.renew() {
		if tok, err = c.tokens.Token(); err != nil {
			return nil, classify(err)
		}
		return c.send(ctx, req, tok.AccessToken)
	}
	return r, nil
}

// send sends req, and again if it is a GET whose connection failed.
// Nothing else is retried: a purge sent twice is a second purge in the
// audit trail and, at a CDN, possibly a second bill.
func (c *client) send(ctx context.Context, req request, token string) (*reply, error) {
	wait := c.retryWait
	for attempt := 1; ; attempt++ {
		r, err := c.once(ctx, req, token)
		if err == nil || req.method != http.MethodGet || attempt == getAttempts || !connFailed(err) {
			return r, classify(err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wait *= 2
	}
}

func (c *client) once(ctx context.Context, req request, token string) (*reply, error) {
	u := *c.base
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + req.path
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = req.query.Encode()
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	hr.Header.Set("X-Tracking-Id", uuid.NewString())
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", userAgent)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return parseReply(resp, raw), nil
}

func parseReply(resp *http.Response, raw []byte) *reply {
	r := &reply{status: resp.StatusCode, trackingID: resp.Header.Get("X-Tracking-Id"), raw: raw}
	var env struct {
		Header *envHeader      `json:"header"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Header != nil {
		r.envelope, r.header, r.data = true, *env.Header, env.Data
	}
	return r
}

// connFailed reports an error of the connection itself, before any answer:
// worth another try for a GET.
func connFailed(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}

// classify marks the errors that mean the server cannot be reached at all.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w: %w", errUnreachable, err)
	}
	return err
}

// errExit is the exit code of a failed call.
func errExit(err error) int {
	if errors.Is(err, errUnreachable) || errors.Is(err, errCredentials) {
		return ExitNoReach
	}
	return ExitFailed
}

// imagePath is the escaped path of an image and an optional selector.
func imagePath(prefix, id, sel string) string {
	p := prefix + "/image/" + url.PathEscape(id)
	if sel != "" {
		p += "/" + url.PathEscape(sel)
	}
	return p
}
