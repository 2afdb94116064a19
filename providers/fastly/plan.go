package fastly

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// ErrNeedsNames is returned by Plan in mode urls when every rendition is to
// be purged but none is named: only surrogate keys can reach those.
var ErrNeedsNames = errors.New("mode urls needs rendition names to purge every rendition; " +
	"use mode keys, or a datastore whose derivatives can be listed")

// Plan implements purge.Provider: surrogate keys in mode keys, absolute URLs
// in mode urls.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	if p.set.Mode == ModeURLs {
		return p.planURLs(t)
	}
	return p.planKeys(t), nil
}

func (p *Provider) planKeys(t purge.Target) []string {
	id := escapeStrict(t.ImageID)
	image := expand(p.set.KeyTemplate, id, "")
	if t.All {
		return []string{image}
	}
	keys := make([]string, 0, len(t.Renditions))
	seen := make(map[string]bool, len(t.Renditions))
	for _, r := range t.Renditions {
		k := expand(p.set.RenditionKeyTemplate, id, escapeStrict(r))
		if len(k) > maxKeyBytes {
			// Fastly cannot take the key; the image key reaches the same
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

func (p *Provider) planURLs(t purge.Target) ([]string, error) {
	if t.All && len(t.Renditions) == 0 {
		return nil, ErrNeedsNames
	}
	id := escapeSegment(t.ImageID)
	urls := make([]string, 0, len(t.Renditions)*len(p.hosts))
	for _, r := range t.Renditions {
		path := expand(p.set.PathTemplate, id, escapeSegment(r))
		for _, h := range p.hosts {
			urls = append(urls, "https://"+h+path)
		}
	}
	return urls, nil
}

// expand fills a template in one pass, so a value can never introduce a
// placeholder of its own.
func expand(tmpl, id, rendition string) string {
	return strings.NewReplacer("{id}", id, "{rendition}", rendition).Replace(tmpl)
}

// escapeStrict percent-encodes every byte but the RFC 3986 unreserved
// characters. Surrogate keys are space-separated in Surrogate-Key, so the
// result must hold nothing an origin would have to quote.
func escapeStrict(s string) string { return escape(s, isUnreserved) }

// escapeSegment percent-encodes s as one RFC 3986 path segment: "/", "%",
// "?", "#", spaces and non-ASCII bytes are encoded; unreserved characters,
// sub-delims, ":" and "@" are not, as a browser would send them.
func escapeSegment(s string) string {
	return escape(s, func(c byte) bool {
		return isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@", c) >= 0
	})
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

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

// checkKeyTemplate accepts a surrogate key template: {id} once, {rendition}
// once when withRendition and never otherwise, and no byte that cannot sit
// in a Surrogate-Key header.
func checkKeyTemplate(t string, withRendition bool) error {
	if strings.Count(t, "{id}") != 1 {
		return errors.New("must contain {id} once")
	}
	n := strings.Count(t, "{rendition}")
	if withRendition && n != 1 {
		return errors.New("must contain {rendition} once")
	}
	if !withRendition && n != 0 {
		return errors.New("names the whole image and must not contain {rendition}")
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return fmt.Errorf("byte %#x at %d cannot be part of a surrogate key", t[i], i)
		}
	}
	return nil
}

// checkPathTemplate accepts a public path template: absolute, {id} and
// {rendition} once each, and nothing that would end the path or climb out of
// it.
func checkPathTemplate(t string) error {
	if !strings.HasPrefix(t, "/") {
		return errors.New(`must start with "/"`)
	}
	if strings.Count(t, "{id}") != 1 || strings.Count(t, "{rendition}") != 1 {
		return errors.New("must contain {id} and {rendition} once each")
	}
	if strings.ContainsAny(t, "?# \t") || strings.Contains(t, "..") {
		return errors.New(`must not contain "?", "#", spaces or ".."`)
	}
	for i := 0; i < len(t); i++ {
		if t[i] < ' ' || t[i] >= 0x7f {
			return fmt.Errorf("byte %#x at %d must be percent-encoded", t[i], i)
		}
	}
	return nil
}
