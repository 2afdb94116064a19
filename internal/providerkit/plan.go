package providerkit

import (
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// PlanKeys turns t into cache keys (surrogate keys, cache tags): the image's
// key alone when every rendition goes, else one key per rendition, each
// once. Templates hold {id} and, for a rendition, {rendition}; both values
// have every byte but the RFC 3986 unreserved characters percent-encoded,
// so a key never holds a header's separator and no name can make another
// image's key.
func PlanKeys(t purge.Target, imageTmpl, renditionTmpl string, maxLen int) []string {
	id := escape(t.ImageID, isUnreserved)
	image := expand(imageTmpl, id, "")
	if t.All {
		return []string{image}
	}
	keys := make([]string, 0, len(t.Renditions))
	seen := make(map[string]bool, len(t.Renditions))
	for _, r := range t.Renditions {
		k := expand(renditionTmpl, id, escape(r, isUnreserved))
		if len(k) > maxLen {
			// The API cannot take the key; the image key reaches the same
			// object and, at worst, the image's other renditions.
			k = image
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// PlanURLs turns t's renditions into absolute URLs, one per rendition and
// host in that order. The path is pathTmpl with the id and the rendition
// percent-encoded as one RFC 3986 path segment each, as a browser sends
// them: unreserved characters, sub-delims, ":" and "@" stay, except the
// bytes in encode, which an API may read as a wildcard.
func PlanURLs(t purge.Target, scheme string, hosts []string, pathTmpl, encode string) []string {
	keep := func(c byte) bool {
		return isUnreserved(c) ||
			strings.IndexByte("!$&'()*+,;=:@", c) >= 0 && strings.IndexByte(encode, c) < 0
	}
	id := escape(t.ImageID, keep)
	urls := make([]string, 0, len(t.Renditions)*len(hosts))
	for _, r := range t.Renditions {
		path := expand(pathTmpl, id, escape(r, keep))
		for _, h := range hosts {
			urls = append(urls, scheme+"://"+h+path)
		}
	}
	return urls
}

// expand fills a template in one pass, so a value can never introduce a
// placeholder of its own.
func expand(tmpl, id, rendition string) string {
	return strings.NewReplacer("{id}", id, "{rendition}", rendition).Replace(tmpl)
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// escape percent-encodes, with upper-case hex, every byte of s that keep
// refuses.
func escape(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
