// Package cloudfront invalidates renditions at the edges of one Amazon
// CloudFront distribution with aws-sdk-go-v2's CreateInvalidation.
//
// Items. Plan turns a target into paths on the distribution, such as
// "/image/{id}/640x360.jpg", percent-encoded the way CloudFront matches them:
// non-ASCII bytes as UTF-8 %XX and RFC 1738 unsafe characters (space as %20)
// encoded, nothing else ("=" stays). Paths carry no host, so there is one
// path per rendition however many public hosts serve it. A rendition whose
// name no exact path can match ("~", "*", "?") is covered by the image's
// wildcard "/image/{id}/*"; CloudFront accepts "%7E" but it matches nothing,
// so "~" is never sent encoded and counted as done. An image with more
// renditions than wildcard_threshold gets the wildcard alone: CloudFront
// allows 3,000 exact paths in progress per distribution but only 15
// wildcards, so exact paths keep bursts clear of the smaller quota. With
// every rendition selected and none known by name, the wildcard is the only
// way to reach them, and Plan uses it.
//
// Retries. Purge makes one attempt per call (the SDK's retryer is off) and
// says through *purge.Error whether another is worth it:
// TooManyInvalidationsInProgress, Throttling, 408, 429 and 5xx are retryable;
// InvalidArgument, AccessDenied, NoSuchDistribution, BatchTooLarge and
// InconsistentQuantities are not. The CallerReference of each call is new for
// every purge and the same on the retry of a call whose outcome is unknown,
// so a retry never creates a second invalidation; reference.go explains how,
// including the "ref:" items that Result.Remaining may carry for that.
//
// Result.Detail reports invalidation_ids, calls, paths and wildcard_paths.
package cloudfront
