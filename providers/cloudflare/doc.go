// Package cloudflare purges renditions from Cloudflare's edge through the
// zone purge_cache API, with github.com/cloudflare/cloudflare-go (v0).
//
// A layer purges one zone. Its items are what the API receives, as plain
// strings the journal can replay:
//
//   - files mode (the default): one absolute URL per rendition, public host
//     and scheme, "https://img.example.test/image/{id}/caf%C3%A9%20640.jpg",
//     the rendition percent-encoded as a browser sends it;
//   - prefixes mode: a whole-image purge is one scheme-less prefix per
//     public host, "img.example.test/image/{id}/", whose trailing slash keeps
//     it from reaching an image whose id extends this one;
//   - tags mode: a whole-image purge is one cache tag, from tag_template;
//   - hosts mode: a whole-image purge is every public host, which purges
//     every object on them (see Settings.AllowWholeHost).
//
// In the last three modes a purge of some renditions only is sent as files:
// a prefix or tag cannot name a subset of an image's renditions exactly (a
// prefix ending in 640x360.jpg would also purge 640x360.jpg.webp).
//
// Purge splits items into calls within the per-call limits, makes the calls
// with small parallelism and reports exactly the items of the calls that
// failed. cloudflare-go's own retries and client-side rate limiter are
// turned off: imgpurge's orchestrator owns retries, Retry-After and the
// deadline. Cloudflare's answers are read from the raw HTTP exchange, so a
// 429 or 5xx reports Cloudflare's status, error code and Retry-After rather
// than the library's generic "exceeded available rate limit retries", and a
// 200 with success:false is a failure.
//
// A layer in the service's configuration:
//
//	layers:
//	  - name: cloudflare
//	    kind: cloudflare
//	    tier: 2
//	    settings:
//	      zone_id: 023e105f4ecef8ad9ca31a8372d0c353
//	      zone: example.test
//	      api_token: ${CLOUDFLARE_API_TOKEN}
//	      # mode: prefixes
//	      # max_files_per_call: 500   # Enterprise
//
// Known limitation: cloudflare-go v0 sends files as plain strings, never as
// {"url", "headers"}, so objects whose cache key includes a request header
// (device type, country, language, Origin) cannot be purged by URL; such
// zones use prefixes or tags mode.
package cloudflare
