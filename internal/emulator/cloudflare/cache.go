package cloudflare

import (
	"fmt"
	"slices"
	"strings"
)

// object is one cached response: its cache tags, lower-cased.
type object struct {
	tags []string
}

// Store seeds the edge cache with an object at an absolute, percent-encoded
// URL, carrying the given cache tags. It panics on a URL that is not
// absolute, which is a mistake in the test.
func (e *Emulator) Store(rawURL string, tags ...string) {
	key, err := cacheKey(rawURL)
	if err != nil {
		panic(fmt.Sprintf("cloudflare emulator: Store(%q): %v", rawURL, err))
	}
	lower := make([]string, len(tags))
	for i, t := range tags {
		lower[i] = strings.ToLower(t)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cache[key] = &object{tags: lower}
}

// Cached reports whether the edge cache still holds the object at rawURL.
func (e *Emulator) Cached(rawURL string) bool {
	key, err := cacheKey(rawURL)
	if err != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.cache[key]
	return ok
}

// evict removes what a successful purge of zone matches; e.mu is held.
func (e *Emulator) evict(zone string, req purgeRequest) int {
	match := e.matcher(req)
	n := 0
	for key, obj := range e.cache {
		hostPath := key[strings.Index(key, "://")+3:]
		if inZone(hostOf(hostPath), zone) && match(key, hostPath, obj) {
			delete(e.cache, key)
			n++
		}
	}
	return n
}

func (e *Emulator) matcher(req purgeRequest) func(key, hostPath string, obj *object) bool {
	set := map[string]bool{}
	for _, it := range req.items {
		switch req.kind {
		case KindFiles:
			if k, err := cacheKey(it); err == nil {
				set[k] = true
			}
		case KindPrefixes:
			set[normalizeEscapes(lowerHost(it))] = true
		default:
			set[strings.ToLower(it)] = true
		}
	}
	switch req.kind {
	case KindFiles:
		return func(key, _ string, _ *object) bool { return set[key] }
	case KindPrefixes:
		return func(_, hostPath string, _ *object) bool {
			for p := range set {
				if strings.HasPrefix(hostPath, p) {
					return true
				}
			}
			return false
		}
	case KindTags:
		return func(_, _ string, obj *object) bool {
			return slices.ContainsFunc(obj.tags, func(t string) bool { return set[t] })
		}
	case KindHosts:
		return func(_, hostPath string, _ *object) bool { return set[hostOf(hostPath)] }
	}
	return func(string, string, *object) bool { return true }
}

// cacheKey normalizes an absolute URL the way Cloudflare normalizes incoming
// URLs before it looks them up: lower-case scheme and host, default ports
// dropped, percent-escapes in upper case, escaped unreserved characters
// decoded. The path and query are otherwise kept byte for byte.
func cacheKey(raw string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "https" && scheme != "http") {
		return "", fmt.Errorf("not an absolute http(s) URL")
	}
	rest = lowerHost(rest)
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host := rest[:end]
	host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[scheme])
	return scheme + "://" + host + normalizeEscapes(rest[end:]), nil
}

func lowerHost(hostPath string) string {
	end := strings.IndexAny(hostPath, "/?#")
	if end < 0 {
		return strings.ToLower(hostPath)
	}
	return strings.ToLower(hostPath[:end]) + hostPath[end:]
}

func normalizeEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString(strings.ToUpper(s[i : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
