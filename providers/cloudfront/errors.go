package cloudfront

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// retryableCodes are CloudFront answers that a later attempt can get past:
// quota and rate limits, a passing outage, and credentials or a clock the
// SDK corrects on the next call.
var retryableCodes = map[string]bool{
	"TooManyInvalidationsInProgress": true,
	"Throttling":                     true,
	"ThrottlingException":            true,
	"RequestLimitExceeded":           true,
	"ServiceUnavailable":             true,
	"InternalError":                  true,
	"InternalFailure":                true,
	"ExpiredToken":                   true,
	"RequestExpired":                 true,
}

// stopCodes end a Purge call early: every later call would meet the same
// limit, so its paths are left for the retry unsent.
var stopCodes = map[string]bool{
	"TooManyInvalidationsInProgress": true,
	"Throttling":                     true,
	"ThrottlingException":            true,
	"RequestLimitExceeded":           true,
}

// classify turns an error of CreateInvalidation into a *purge.Error with
// CloudFront's own code, and reports whether CloudFront may nevertheless have
// created the invalidation (no answer, a 5xx, or an unreadable 2xx).
func classify(ctx context.Context, err error) (pe *purge.Error, uncertain bool) {
	if cerr := ctx.Err(); cerr != nil {
		return canceled(cerr, err), true
	}
	status := httpStatus(err)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return &purge.Error{Code: transportCode(status), Message: err.Error(), Retryable: true,
			RetryAfter: retryAfter(err), Err: err}, status == 0 || status >= 500 || status < 300
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	if id := requestID(err); id != "" {
		msg += " (request id " + id + ")"
	}
	pe = &purge.Error{Code: code, Message: msg, RetryAfter: retryAfter(err), Err: err,
		Retryable: retryableCodes[code] || purge.RetryableStatus(status)}
	if refConflict(code, apiErr.ErrorMessage()) {
		// Impossible by construction (a reference hashes its own paths):
		// retrying cannot help, an operator must look.
		pe.Retryable = false
		pe.Message = refConflictMsg + msg
	}
	return pe, status >= 500
}

const refConflictMsg = "CallerReference already used with other paths, a bug in imgpurge's " +
	"reference scheme: "

// refConflict recognises both answers to a reused CallerReference with
// other paths: the documented one, and InvalidArgument seen in the field
// (aws-cdk issue 3878).
func refConflict(code, msg string) bool {
	return code == "InvalidationBatchAlreadyExists" ||
		code == "InvalidArgument" && strings.Contains(strings.ToLower(msg), "caller reference")
}

// canceled reports the caller's cancellation or deadline; errors.Is finds
// ctx's error through it.
func canceled(cerr, err error) *purge.Error {
	code := "Canceled"
	if errors.Is(cerr, context.DeadlineExceeded) {
		code = "DeadlineExceeded"
	}
	msg := cerr.Error()
	if err != nil {
		msg = err.Error()
	}
	return &purge.Error{Code: code, Message: msg, Retryable: true, Err: cerr}
}

func transportCode(status int) string {
	if status == 0 {
		return "ConnectionError"
	}
	return "MalformedResponse"
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func requestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// retryAfter reads a Retry-After header. CloudFront does not document one,
// but a proxy in front of it may send it.
func retryAfter(err error) time.Duration {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return 0
	}
	d, _ := purge.RetryAfter(re.Response.Header, time.Now(), purge.RetryAfterMax)
	return d
}

// invalidItems is the error for items that are neither paths nor ref items,
// which only a corrupted journal or a caller bug produces.
func invalidItems(bad []string) *purge.Error {
	return &purge.Error{Code: "InvalidItem", Retryable: false,
		Message: fmt.Sprintf("%d item(s) are not CloudFront paths, such as %q", len(bad), bad[0])}
}
