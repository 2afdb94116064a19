package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
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
		// S3 itself sends no Retry-After; some compatible stores and
		// proxies do.
		pe.RetryAfter, _ = purge.RetryAfter(re.Response.Header, time.Now(), purge.RetryAfterMax)
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
	pe.Retryable = pe.Retryable || purge.RetryableStatus(status) || retryableCode(pe.Code) ||
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
