package akamai

import (
	"errors"
	"fmt"
	"strings"

	"github.com/imgpurge/imgpurge/internal/purge"
)

// Akamai refuses a cache tag longer than 128 characters.
const maxTagLen = 128

// ErrNeedsNames is returned by Plan for type url when every rendition is to
// be purged but none is named: only cache tags can reach those.
var ErrNeedsNames = errors.New("type url needs rendition names to purge every rendition; " +
	"use type tag, or a datastore whose derivatives can be listed")

// Plan implements purge.Provider: absolute URLs for type url, cache tags for
// type tag.
func (p *Provider) Plan(t purge.Target) ([]string, error) {
	if p.set.Type == TypeTag {
		return p.planTags(t), nil
	}
	if t.All && len(t.Renditions) == 0 {
		return nil, ErrNeedsNames
	}
	id := escapeSegment(t.ImageID)
	urls := make([]string, 0, len(t.Renditions)*len(p.hosts))
	for _, r := range t.Renditions {
		path := expand(p.set.PathTemplate, id, escapeSegment(r))
		for _, h := range p.hosts {
			urls = append(urls, p.set.URLScheme+"://"+h+path)
		}
	}
	return urls, nil
}

func (p *Provider) planTags(t purge.Target) []string {
	id := escapeStrict(t.ImageID)
	image := expand(p.set.TagTemplate, id, "")
	if t.All {
		return []string{image}
	}
	tags := make([]string, 0, len(t.Renditions))
	seen := make(map[string]bool, len(t.Renditions))
	for _, r := range t.Renditions {
		tag := expand(p.set.RenditionTagTemplate, id, escapeStrict(r))
		if len(tag) > maxTagLen {
			// Akamai cannot take the tag; the image tag reaches the same
			// object and, at worst, the image's other renditions.
			tag = image
		}
		if !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	return tags
}

// expand fills a template in one pass, so a value can never introduce a
// placeholder of its own.
func expand(tmpl, id, rendition string) string {
	return strings.NewReplacer("{id}", id, "{rendition}", rendition).Replace(tmpl)
}

// escapeStrict percent-encodes every byte but the RFC 3986 unreserved
// characters; "%" and all of those are allowed in an Akamai cache tag.
func escapeStrict(s string) string { return escape(s, isUnreserved) }

// escapeSegment percent-encodes s as one RFC 3986 path segment, as a browser
// sends it: unreserved characters, sub-delims, ":" and "@" stay, except "*",
// which Fast Purge would refuse as a wildcard.
func escapeSegment(s string) string {
	return escape(s, func(c byte) bool {
		return isUnreserved(c) || strings.IndexByte("!$&'()+,;=:@", c) >= 0
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

// isTagByte reports whether c may appear in an Akamai cache tag:
// alphanumerics and !#$%'+./^_`|~-.
func isTagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%'+./^_`|~-", c) >= 0
}

// checkTagTemplate accepts a cache tag template: {id} once, {rendition}
// once when withRendition and never otherwise, and only bytes Akamai allows
// in a tag around them.
func checkTagTemplate(t string, withRendition bool) error {
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
	lit := strings.NewReplacer("{id}", "", "{rendition}", "").Replace(t)
	for i := 0; i < len(lit); i++ {
		if !isTagByte(lit[i]) {
			return fmt.Errorf("%q cannot be part of an Akamai cache tag", lit[i])
		}
	}
	return nil
}

// checkPathTemplate accepts a public path template: absolute, {id} and
// {rendition} once each, and nothing that would end the path, climb out of
// it or read as a wildcard.
func checkPathTemplate(t string) error {
	if !strings.HasPrefix(t, "/") {
		return errors.New(`must start with "/"`)
	}
	if strings.Count(t, "{id}") != 1 || strings.Count(t, "{rendition}") != 1 {
		return errors.New("must contain {id} and {rendition} once each")
	}
	if strings.ContainsAny(t, "?#* \t") || strings.Contains(t, "..") {
		return errors.New(`must not contain "?", "#", "*", spaces or ".."`)
	}
	for i := 0; i < len(t); i++ {
		if t[i] < ' ' || t[i] >= 0x7f {
			return fmt.Errorf("byte %#x at %d must be percent-encoded", t[i], i)
		}
	}
	return nil
}
