// Package httpcache purges renditions from origin caches reached over HTTP:
// Varnish, nginx with Debian's ngx_cache_purge 2.3, and Apache Traffic
// Server. A layer is a fleet of nodes; every node receives every item, all
// nodes in parallel, and each node's result is reported.
//
// # Methods
//
// The method setting decides how a target becomes items:
//
//   - purge: one item per rendition and public host, sent as an HTTP PURGE
//     of the exact path with the Host header set to the public host. Varnish
//     (deploy/varnish/imgpurge.vcl) and Traffic Server drop every Vary
//     variant of the URL.
//   - ban: one item per public host, a Varnish ban whose URL regex is built
//     only from regexp.QuoteMeta'd literal parts, sent as a BAN with the
//     X-Ban-Url header. A target covering every rendition bans the image's
//     path prefix, so renditions nobody listed go too.
//   - xkey: surrogate keys (Varnish xkey), one item per key, sent as a PURGE
//     with the xkey-purge header. Keys carry no host: one purge removes the
//     rendition under every public host.
//   - nginx: like purge, but sent to the separate purge location of
//     deploy/nginx/imgpurge.conf, {node}/purge/image/{id}/{rendition}.
//
// A 404 or 412 to a purge or nginx item means the node did not hold the
// rendition, which is success: nginx's purge module and Traffic Server
// answer so for a miss.
//
// # Items
//
// Items are self-describing, so the journal can replay them even after the
// layer's method changed:
//
//	PURGE img.example.test /image/{id}/640x360.jpg
//	BAN img.example.test ^/image/{id}/(640x360\.jpg|1280x720\.webp)$
//	XKEY image-{id}/640x360.jpg
//
// where {id} and the rendition appear as escaped by url.PathEscape, as in
// the URL a visitor requests.
//
// # What the origin must send for xkey
//
// With the default templates, the origin answers GET /image/{id}/{rendition}
// with
//
//	xkey: image-{id} image-{id}/{rendition}
//
// where {id} and {rendition} are url.PathEscape'd exactly as in the
// canonical URL (a space is %20, a comma %2C), so no key contains the space
// or comma that separate keys. XKeyHeader builds this value.
package httpcache
