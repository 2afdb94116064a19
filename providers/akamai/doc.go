// Package akamai purges renditions from Akamai's edge with the Fast Purge
// API (CCU v3): invalidate (the default: objects are marked stale and
// revalidated) or delete (objects are evicted), by URL (the default) or by
// cache tag, on the production (default) or staging network. Requests are
// signed with EdgeGrid (EG1-HMAC-SHA256), implemented here.
//
// # Items
//
// Type url: absolute URLs, one per rendition and public host,
// "{url_scheme}://{host}{path}", the path built from path_template with the
// id and the rendition percent-encoded as one RFC 3986 path segment each;
// "*" is encoded too, because Fast Purge takes no wildcards. Akamai says a
// purge of either scheme usually clears both. A purge of every rendition
// needs rendition names; with none listed, Plan refuses (type tag reaches
// what no listing names).
//
// Type tag: the origin must tag every rendition with two cache tags,
//
//	Edge-Cache-Tag: image-{id},image-{id}/{rendition}
//
// (the defaults of tag_template and rendition_tag_template), the id and the
// rendition written with every byte outside A-Z a-z 0-9 - . _ ~
// percent-encoded as %XX (upper-case hex). A purge of every rendition sends
// the image tag alone; a rendition tag over Akamai's 128 characters is
// replaced by the image tag, which purges more of the same image but never
// another image.
//
// # Calls
//
// Items are packed into {"objects":[...]} bodies of at most
// max_request_bytes (default and ceiling 50,000 bytes, Akamai's limit,
// measured on the exact JSON sent) and at most max_objects_per_call objects,
// one object type per request. A call that fails leaves its items in
// Result.Remaining. The error is the first non-retryable one, otherwise the
// first, with Code "HTTP<status> <problem title>" (for example
// "HTTP429 Rate Limit exceeded"). 429 is retryable, waiting for Retry-After
// if sent, else for the tokens the X-Ratelimit-* headers say are missing,
// else Akamai's guidance of 5 s; 5xx and transport errors are retryable;
// 400, 401, 403 and 413 are not. After a 401 or 429 the requests not yet
// started are not made; after a 403, which may concern one object only, they
// are. The provider never retries on its own.
package akamai
