package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// classify turns an SDK error into what the orchestrator needs: the store's
// own code, whether a retry may help and how long the store asked to wait.
// A call cut short by the caller returns the context's error instead, so
// errors.Is(err, context.Canceled) holds and no store failure is invented.
func classify(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return interrupted(ctx, err)
	}
	pe := &purge.Error{Err: err}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
		pe.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	}
	var ae smithy.APIError
	var se *smithyhttp.RequestSendError
	var de *smithy.DeserializationError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() != "" && ae.ErrorCode() != "UnknownError":
		pe.Code, pe.Message = ae.ErrorCode(), ae.ErrorMessage()
	case status >= 300:
		// An error without an S3 code, such as a proxy's empty 503.
		pe.Code, pe.Message = "HTTP"+strconv.Itoa(status), http.StatusText(status)
	case errors.As(err, &de):
		// A success status with a body that is not the expected XML: a
		// proxy or a store in trouble, so worth another try.
		pe.Code, pe.Message, pe.Retryable = "InvalidResponse", err.Error(), true
	case isTimeout(err):
		pe.Code, pe.Message = "Timeout", err.Error()
	case errors.As(err, &se):
		pe.Code, pe.Message = "RequestSendError", err.Error()
	default:
		pe.Code, pe.Message = "ClientError", err.Error()
	}
	pe.Message = op + ": " + pe.Message
	pe.Retryable = pe.Retryable || retryableStatus(status) || retryableCode(pe.Code) ||
		pe.Code == "Timeout" || pe.Code == "RequestSendError"
	return pe
}

// interrupted reports a call the caller's context ended. A deadline is a
// retryable timeout; a cancellation is returned as is, for the orchestrator
// to record as the caller's departure rather than a failure.
func interrupted(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &purge.Error{Code: "Timeout", Message: "deadline passed", Retryable: true,
			Err: errors.Join(ctx.Err(), err)}
	}
	if err == nil || errors.Is(err, context.Canceled) {
		return fmt.Errorf("s3: %w", ctx.Err())
	}
	return fmt.Errorf("s3: %w (%w)", ctx.Err(), err)
}

// retryableStatus: the store's side failed or asked us to slow down.
func retryableStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests ||
		status == http.StatusRequestTimeout
}

// retryableCode covers codes that mean "later" whatever their status,
// including per-key codes inside a 200 DeleteObjects reply.
func retryableCode(code string) bool {
	switch code {
	case "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled",
		"TooManyRequests", "TooManyRequestsException", "RequestLimitExceeded",
		"BandwidthLimitExceeded", "RequestTimeout", "RequestTimeoutException",
		"InternalError", "ServiceUnavailable", "OperationAborted", "ServerBusy":
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
// S3 itself does not send one; some S3-compatible stores and proxies do.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
