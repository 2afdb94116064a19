vcl 4.1;

# imgpurge origin cache for Varnish 7 with varnish-modules (xkey).
#
# It accepts three kinds of invalidation, from the purgers ACL only; anyone
# else gets 405 for PURGE and BAN:
#
#   PURGE /image/{id}/{rendition}  (Host: the public host)
#       drops that URL on that host, every Vary variant of it.
#   PURGE /  with header  xkey-purge: key [key ...]
#       drops every object whose xkey header names one of the keys, on any
#       host. X-Purged in the answer says how many objects xkey touched
#       (for people reading it: it may count objects already purged).
#   BAN /  with header  X-Ban-Url: <regex>  (Host: the public host)
#       drops every object on that host whose URL matches the regex.
#
# The tests of providers/httpcache load this file unchanged except for the
# backend port, so what is written here is what has been run.

import std;
import xkey;

# The resizer behind the cache. Point it at your origin; the tests replace
# only the port.
backend default {
    .host = "127.0.0.1";
    .port = "8080";
}

# Clients allowed to purge and ban: the hosts imgpurged runs on. Edit this
# list for your deployment. Behind a load balancer client.ip is the
# balancer's address unless it speaks the PROXY protocol to Varnish.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    # Host names are case-insensitive; one spelling keeps one cache entry,
    # and it is the spelling bans compare against.
    if (req.http.host) {
        set req.http.host = std.tolower(req.http.host);
    }
    if (req.method == "PURGE" || req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        if (req.method == "BAN") {
            call imgpurge_ban;
        }
        if (req.http.xkey-purge) {
            set req.http.x-purged = xkey.purge(req.http.xkey-purge);
            return (synth(200, "Purged"));
        }
        return (purge);
    }
    # Renditions are the same for every visitor; a cookie must not turn
    # them into uncacheable passes.
    if (req.url ~ "^/image/") {
        unset req.http.cookie;
    }
}

sub imgpurge_ban {
    if (!req.http.x-ban-url) {
        return (synth(400, "X-Ban-Url required"));
    }
    # std.ban splits its expression at white space and would take quotes as
    # part of the regex, so regex and host go in unquoted; white space in
    # either could append another condition, so it is refused.
    if (req.http.x-ban-url ~ "\s" || req.http.host ~ "\s") {
        return (synth(400, "White space in X-Ban-Url or Host"));
    }
    # Only obj.* is tested, so the ban lurker can evict matching objects in
    # the background instead of every lookup testing them.
    if (std.ban("obj.http.x-url ~ " + req.http.x-ban-url +
            " && obj.http.x-host == " + req.http.host)) {
        return (synth(200, "Ban added"));
    }
    return (synth(400, std.ban_error()));
}

sub vcl_backend_response {
    # What bans are tested against, kept on the object itself.
    set beresp.http.x-url = bereq.url;
    set beresp.http.x-host = bereq.http.host;
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    set resp.http.X-Cache-Hits = obj.hits;
    # Internal bookkeeping, not for visitors.
    unset resp.http.x-url;
    unset resp.http.x-host;
    unset resp.http.xkey;
}

sub vcl_synth {
    if (req.http.x-purged) {
        set resp.http.X-Purged = req.http.x-purged;
    }
}
