#!/usr/bin/env bash
# Installs the origin caches the httpcache tests run against: Varnish with
# varnish-modules (xkey) and nginx with Debian's cache-purge module. Nothing
# is started here; the tests start their own instances on 127.0.0.1.
set -euo pipefail

module=/usr/lib/nginx/modules/ngx_http_cache_purge_module.so
xkey=$(ls /usr/lib/*/varnish/vmods/libvmod_xkey.so 2>/dev/null | head -n 1 || true)

if command -v varnishd >/dev/null && command -v nginx >/dev/null &&
	[ -e "$module" ] && [ -n "$xkey" ]; then
	exit 0
fi

if ! command -v apt-get >/dev/null; then
	echo "httpcache: apt-get not found; install varnish, varnish-modules, nginx" \
		"and libnginx-mod-http-cache-purge by hand" >&2
	exit 1
fi

pkgs=(varnish varnish-modules nginx libnginx-mod-http-cache-purge)
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet, or stale ones.
if ! apt-get install -y --no-install-recommends "${pkgs[@]}"; then
	apt-get update
	apt-get install -y --no-install-recommends "${pkgs[@]}"
fi
