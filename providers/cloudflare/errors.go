package cloudflare

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// maxMessage bounds an error message; Cloudflare's are one line.
const maxMessage = 512

// answerError turns an answer that is not a success into Cloudflare's own
// error. Code is Cloudflare's error number for a 2xx with success:false
// ("1012"), and "HTTP<status>" followed by "/<number>" when the body has
// one for any other status ("HTTP429/10100", "HTTP403/10000", "HTTP502").
func answerError(ex *exchange) *purge.Error {
	var env cf.Response
	perr := json.Unmarshal(ex.body, &env)
	e := &purge.Error{Retryable: purge.RetryableStatus(ex.status), Message: describe(ex, env, perr)}
	if ex.status/100 != 2 {
		e.Code = "HTTP" + strconv.Itoa(ex.status)
	}
	if perr == nil && len(env.Errors) > 0 && env.Errors[0].Code != 0 {
		if e.Code != "" {
			e.Code += "/"
		}
		e.Code += strconv.Itoa(env.Errors[0].Code)
	}
	switch {
	case e.Code != "":
	case perr != nil:
		// A 2xx whose body cannot be read: the purge may or may not have
		// been taken, and purging again is harmless.
		e.Code, e.Retryable = "MalformedResponse", true
	default:
		e.Code = "Unsuccessful"
	}
	if e.Retryable {
		e.RetryAfter = retryAfter(ex.header, time.Now())
	}
	return e
}

func describe(ex *exchange, env cf.Response, perr error) string {
	var parts []string
	for _, ri := range env.Errors {
		parts = append(parts, fmt.Sprintf("[%d] %s", ri.Code, ri.Message))
	}
	switch {
	case len(parts) > 0:
	case perr != nil:
		parts = append(parts, fmt.Sprintf("unreadable answer %q", truncate(string(ex.body), 120)))
	case ex.status/100 == 2:
		parts = append(parts, "success:false without errors")
	default:
		parts = append(parts, http.StatusText(ex.status))
	}
	s := truncate(strings.Join(parts, "; "), maxMessage) + " (HTTP " + strconv.Itoa(ex.status)
	if ray := ex.header.Get("Cf-Ray"); ray != "" {
		s += ", cf-ray " + ray
	}
	return s + ")"
}

var ratelimitReset = regexp.MustCompile(`;\s*t=(\d+)`)

// retryAfter reads Retry-After. Without a readable one, a 429's Ratelimit
// header still says when the bucket refills (t=).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := purge.RetryAfter(h, now, purge.RetryAfterMax); ok {
		return d
	}
	if m := ratelimitReset.FindStringSubmatch(h.Get("Ratelimit")); m != nil {
		if s, err := strconv.Atoi(m[1]); err == nil {
			return time.Duration(min(s, int(purge.RetryAfterMax/time.Second))) * time.Second
		}
	}
	return 0
}

// transportError is a call that got no answer: refused, reset or dropped
// connections and timeouts. Purging is idempotent, so it is retryable even
// if Cloudflare took the purge before the answer was lost.
func transportError(err error) *purge.Error {
	e := &purge.Error{Code: "ConnectionError", Retryable: true, Err: err}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.Code = "Timeout"
	}
	// The message leaves out the URL, which the operator knows.
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	e.Message = truncate(msg, maxMessage)
	return e
}

// refusesAccount reports a refusal that every other call of the moment
// would get too: rate limited, or the credentials refused.
func refusesAccount(err error) bool {
	var pe *purge.Error
	if !errors.As(err, &pe) {
		return false
	}
	for _, p := range []string{"HTTP429", "HTTP401", "HTTP403"} {
		if pe.Code == p || strings.HasPrefix(pe.Code, p+"/") {
			return true
		}
	}
	return false
}

// worst picks the one error a layer reports when several calls failed: the
// first that is not retryable, since it needs an operator whatever the
// others do; otherwise the retryable one asking for the longest wait, so a
// retry does not come before Cloudflare allows it.
func worst(errs []error) error {
	var pick *purge.Error
	for _, err := range errs {
		var pe *purge.Error
		if !errors.As(err, &pe) {
			continue
		}
		if !pe.Retryable {
			return pe
		}
		if pick == nil || pe.RetryAfter > pick.RetryAfter {
			pick = pe
		}
	}
	if pick == nil {
		if err := errors.Join(errs...); err != nil {
			return err
		}
		// Unreachable: an item is only left over with an error beside it.
		return &purge.Error{Code: "Incomplete", Message: "items left without an error", Retryable: true}
	}
	return pick
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
