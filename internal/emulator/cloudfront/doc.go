// Package cloudfront emulates the invalidation part of the Amazon CloudFront
// API (version 2020-05-31) on a local http.Handler, for tests and demos.
//
// It serves
//
//	POST /2020-05-31/distribution/{Id}/invalidation           CreateInvalidation
//	GET  /2020-05-31/distribution/{Id}/invalidation/{InvId}   GetInvalidation
//	GET  /2020-05-31/distribution/{Id}/invalidation           ListInvalidations
//
// and behaves as the real service does where imgpurge depends on it:
//
//   - every request must carry a SigV4 Authorization header, verified against
//     the configured test credentials and the "cloudfront" scope in us-east-1;
//   - the namespaced InvalidationBatch body is validated: Quantity against
//     Items (InconsistentQuantities), a leading "/", "*" only as the last
//     character, at most 4,000 characters, and no raw space, non-ASCII byte or
//     "~" (InvalidArgument, as reported in aws-sdk-go issue 223);
//   - a CallerReference seen before returns the original invalidation when
//     the paths are the same, and otherwise fails in one of the two ways seen
//     in the field (InvalidationBatchAlreadyExists, or InvalidArgument);
//   - per distribution, at most 3,000 exact and 15 wildcard paths may be in
//     progress (TooManyInvalidationsInProgress); invalidations complete on a
//     clock the test moves with Advance;
//   - errors are <ErrorResponse> documents with an x-amz-request-id header,
//     and an optional token bucket answers 400 Throttling "Rate exceeded".
//
// A small cache of seeded paths stands for the edge: an invalidation evicts
// the entries its paths match (exactly, or by prefix for a trailing "*"), so
// a test can see whether a purge would really have removed an object. Paths
// are compared byte for byte, as CloudFront compares them: "%7E" does not
// evict a cached "~".
//
// Faults are injected per call (Enqueue) or for every call (SetFault): error
// answers, slow or blocked answers, dropped connections, malformed bodies,
// and answers lost after the invalidation was created.
//
// The emulator is test infrastructure. It listens wherever its caller puts
// it, which for tests is an httptest server on 127.0.0.1.
package cloudfront
