// Package fastly purges renditions from Fastly's edge through the Fastly API:
// by surrogate key (mode "keys", the default) or by URL (mode "urls"),
// optionally as a soft purge that marks objects stale instead of removing them.
//
// # Surrogate keys (mode "keys")
//
// The origin must tag every rendition it serves with two surrogate keys:
//
//	Surrogate-Key: image-{id} image-{id}/{rendition}
//
// (the defaults of key_template and rendition_key_template). In both keys the
// id and the rendition name are written with every byte outside
// A-Z a-z 0-9 - . _ ~ percent-encoded as %XX with upper-case hex, so
// "café 640.jpg" becomes "caf%C3%A9%20640.jpg": a key never holds a space
// (the header's separator) and a name holding "/" or "%" cannot collide with
// another image's key. A purge of every rendition sends the image key alone;
// a purge of some renditions sends one rendition key each. A rendition key
// longer than Fastly's 1,024-byte limit is replaced by the image key, which
// purges more of the same image but never another image.
//
// Keys go to POST /service/{service_id}/purge as {"surrogate_keys":[...]}, at
// most max_keys_per_call (256, Fastly's cap) per call. The single-key route
// is not used: keys hold "/" and "%", which would have to travel as %2F in
// the path, and the JSON body carries them byte for byte.
//
// # URLs (mode "urls")
//
// Items are absolute URLs, one per rendition and public host, with the path
// built from path_template and the id and rendition percent-encoded as one
// RFC 3986 path segment each (unreserved characters, sub-delims, ":" and "@"
// stay as they are). Each goes to POST /purge/{host}/{path}, one call per URL.
// Fastly keys its cache by host and path, so the scheme is not purged
// separately. A purge of every rendition needs the rendition names: with
// none listed, Plan refuses, and mode "keys" is the way to purge what no
// listing names.
//
// # Failures
//
// A call that fails leaves its items in Result.Remaining; the error is the
// first non-retryable one, otherwise the first, with Code "HTTP<status>".
// 429 is retryable and carries the wait from Retry-After or
// Fastly-RateLimit-Reset; 5xx and transport errors are retryable; 401 and
// 403 are not. After a 401, 403 or 429 the calls not yet started are not
// made (their items stay remaining), since they would meet the same answer.
// The provider makes one attempt per call and never retries on its own.
package fastly
