// Package cloudflare emulates the cache purge endpoint of the Cloudflare v4
// API on a local http.Handler, for tests and demos.
//
// It serves
//
//	POST /client/v4/zones/{zone_id}/purge_cache
//
// and behaves as the real API does where imgpurge depends on it:
//
//   - authentication by "Authorization: Bearer <token>" or by X-Auth-Email
//     with X-Auth-Key; a missing header is 400 code 9106, a malformed key
//     400 code 6003, an unknown token or key 403 code 10000;
//   - one purge kind per body: purge_everything, files, tags, hosts or
//     prefixes. No kind is code 1012 and a kind that is not an array is code
//     1014, with the messages Cloudflare uses;
//   - files must be absolute http(s) URLs whose host is the zone or one of
//     its subdomains, prefixes carry no scheme, and neither may hold a raw
//     space, control character or non-ASCII byte (they must arrive
//     percent-encoded), as cloudflare-docs issue 25277 reports;
//   - at most FilesPerCall URLs (default 30) and ItemsPerCall tags, hosts or
//     prefixes (default 100) per call;
//   - per-account token buckets by plan, as published on 2025-04-01: one
//     counting tag, host, prefix and everything requests, one counting URLs.
//     A refused call is 429 with Retry-After (whole seconds, rounded up),
//     Ratelimit and Ratelimit-Policy headers and the JSON error envelope;
//   - a success is 200 with result.id, 32 hex characters.
//
// Codes the reference does not source (the per-call cap, a refused item,
// malformed JSON, unknown routes, the 429 body) are the emulator's choice,
// named by the Code constants so tests can refer to them.
//
// A small cache of seeded URLs (with optional cache tags) stands for the
// edge: a successful purge evicts what it matches, so a test can see whether
// a purge would really have removed an object. URLs are compared after the
// normalization Cloudflare applies to incoming URLs: scheme and host are
// case-insensitive, percent-escapes are compared in upper case and escaped
// unreserved characters decoded; the path is otherwise case-sensitive.
// Prefixes match as plain string prefixes of host+path, the strictest
// reading, so a prefix without a trailing slash reaches neighbouring paths.
//
// Every request is recorded (Calls). Faults are injected per call (Enqueue)
// or for every matching call (SetFaults): error answers with any status and
// code, 200 with success:false, Retry-After, slow or blocked answers,
// dropped connections and malformed bodies. The clock for the buckets can
// be moved with Advance, so rate-limit tests need no sleeps.
//
// The emulator is test infrastructure. It listens wherever its caller puts
// it, which for tests is an httptest server on 127.0.0.1.
package cloudflare
